"""TOML files in and out: the one door through which profiles and model files are read and written.

Reading (:func:`read_toml`) is guarded because a user's file can be anything: it must be a regular file (not a
directory, device, pipe or symlink loop) of at most :data:`MAX_TOML_BYTES`, UTF-8, valid TOML, and its tables and
arrays nest at most :data:`MAX_TOML_DEPTH` deep. The size is checked before the file is read and the nesting before
any other code walks the parsed data (deep nesting would otherwise exhaust Python's recursion limit in the parser,
in ``repr`` or in ``copy.deepcopy``). Every failure becomes one message for the caller's error class.

Writing (:func:`dumps`) uses tomli-w: strings are escaped by the library, floats are written with ``repr`` (which
TOML reads back to the same float, ``1e+18`` included), tables and arrays of tables are laid out one key a line.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

#: largest TOML file read (bytes): shipped profiles are ~5 KB and model files ~1 KB
MAX_TOML_BYTES = 4 * 1024 * 1024
#: deepest nesting of tables and arrays in a TOML file: profiles use 2 levels, model files 3
MAX_TOML_DEPTH = 16


def os_reason(exc: BaseException) -> str:
    """A short, user-facing reason for an error of the operating system about a path."""
    if isinstance(exc, ValueError):  # os.stat refuses NUL characters before asking the system
        return "the path contains a NUL character"
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOENT:
            return "not found"
        if exc.errno == errno.ENAMETOOLONG:
            return "file name too long for the file system"
        if exc.errno == errno.ELOOP:
            return "too many levels of symbolic links (a symlink loop?)"
        if exc.errno == errno.EACCES:
            return "permission denied"
        if exc.errno == errno.ENOTDIR:
            return "a part of the path is not a directory"
        return exc.strerror or str(exc)
    return str(exc)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a regular file (``"not found"``, ``"is a directory, not a file"``, ...), or
    None when it can be opened.

    Never raises: over-long names, NUL characters and symlink loops are reasons, not exceptions.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as exc:
        return os_reason(exc)
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, pipe or socket)"
    return None


def read_limited(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises
    ------
    ValueError
        With a user-facing reason (unreadable, not a regular file, larger than ``limit``); callers turn it into
        their own :class:`~neurosim.errors.NeurosimError`.
    """
    problem = file_problem(path)
    if problem is not None:
        raise ValueError(f"cannot read {what}: {problem}")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)  # one byte more tells an over-long file without reading all of it
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {what}: {os_reason(exc)}") from None
    if len(data) > limit:
        raise ValueError(f"{what} is larger than {limit} bytes, the most neurosim reads")
    return data


def nesting_depth(data: Any) -> tuple[int, str]:
    """The deepest nesting of tables (dicts) and arrays (lists) in ``data`` and the dotted path to it (iterative,
    so any depth is measured without recursion)."""
    deepest, where = 0, ""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, Mapping):
            children = [(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(value)]
        else:
            continue
        if depth + 1 > deepest:
            deepest, where = depth + 1, path
        if deepest > MAX_TOML_DEPTH:
            break
        stack.extend((v, depth + 1, p) for v, p in children)
    return deepest, where


def read_toml(path: str | Path, what: str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Read a TOML file under the limits of this module.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is, for messages (``"profile file"``, ``"model file"``).
    error : callable
        Builds the exception to raise from a message (the message does not name the file; ``error`` adds it).

    Raises
    ------
    Exception
        ``error(message)`` for an unreadable, over-large, non-UTF-8, invalid or too deeply nested file.
    """
    try:
        data = read_limited(path, MAX_TOML_BYTES, what)
    except ValueError as exc:
        raise error(str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"not readable: arrays or inline tables nested too deeply (at most {MAX_TOML_DEPTH} levels)"
                    ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise error(f"not valid TOML: {exc}") from None
    depth, where = nesting_depth(raw)
    if depth > MAX_TOML_DEPTH:
        shown = where if len(where) <= 60 else where[:57] + "..."
        raise error(f"tables and arrays nest more than {MAX_TOML_DEPTH} levels deep (at {shown!r}; at most "
                    f"{MAX_TOML_DEPTH} levels)")
    return raw


def dumps(data: Mapping[str, Any]) -> str:
    """``data`` (plain str, int, float, bool, lists and tables) as TOML text that :mod:`tomllib` reads back to
    equal values."""
    return tomli_w.dumps(data)


__all__ = ["MAX_TOML_BYTES", "MAX_TOML_DEPTH", "dumps", "file_problem", "nesting_depth", "os_reason",
           "read_limited", "read_toml"]
