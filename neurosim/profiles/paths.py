"""Where profiles live: the shipped folder (package data ``neurosim.hardware_profiles``) and name-or-path
resolution (used by the loader for ``base = ...`` and by :func:`~neurosim.profiles.registry.load_profile`)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .._toml import file_problem
from ..errors import ProfileError

#: the profile every command and API uses when none is named (the one place it is written)
DEFAULT_PROFILE = "rram_hfo2"


def _shipped_folder() -> Path:
    # Installed (wheel or editable): package data neurosim.hardware_profiles. Imported straight from a source
    # checkout (e.g. `python -m pytest` puts the checkout first on sys.path): the top-level folder.
    try:
        return Path(str(resources.files("neurosim.hardware_profiles")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "hardware_profiles"


def list_profiles() -> list[str]:
    """Names of the shipped hardware profiles, sorted."""
    return sorted(p.stem for p in _shipped_folder().glob("*.toml"))


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown_path(path: object, limit: int = 240) -> str:
    """A path for a message: whole unless it is absurdly long (then its start and end)."""
    text = str(path)
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-(limit // 2):]} ({len(text)} characters)"


def shipped_profile_path(name: str) -> Path:
    """Path of the shipped profile ``name`` (raises :class:`ProfileError` if there is none)."""
    # Looked up among the shipped names, never built into a path first: a 300-character or NUL-holding name is an
    # unknown profile, not an OSError from the file system.
    if not isinstance(name, str) or name not in list_profiles():
        raise ProfileError(f"unknown profile {_shown(name)}; shipped profiles are: {', '.join(list_profiles())} "
                           "(or give the path of a .toml file)", key="profile", constraint="a shipped name or a path",
                           value=name)
    return _shipped_folder() / f"{name}.toml"


def looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text


def resolve(name_or_path: str | Path, *, relative_to: Path | None = None, where: str | None = None) -> Path:
    """Turn a shipped profile name or a file path into a file path.

    Raises
    ------
    ProfileError
        For an unknown name, or a path that is missing, a directory, too long, or otherwise not a readable file
        (``where``, when given, is the file that named it, e.g. through ``base = ...``).
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or looks_like_path(text):
        path = Path(text)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        problem = file_problem(path)
        if problem == "not found":
            raise ProfileError(f"profile file not found: {shown_path(path)}", file=where, key="profile",
                               constraint="an existing file", value=text)
        if problem is not None:
            raise ProfileError(f"profile file {shown_path(path)}: {problem}", file=where, key="profile",
                               constraint="an existing, readable file", value=text)
        return path
    try:
        return shipped_profile_path(text)
    except ProfileError as exc:
        if where:
            raise ProfileError(str(exc), file=where, key=exc.key, constraint=exc.constraint, value=exc.value) from None
        raise


