"""Strict loading of hardware profiles from TOML into a frozen :class:`Profile`.

Every key is required (a profile states all its assumptions); a user file may instead name a ``base`` profile and
override only what differs. Unknown keys, wrong types, non-finite or out-of-range numbers raise
:class:`~neurosim.errors.ProfileError` naming the file, the key path, the constraint and the value.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._toml import toml_value
from ..errors import ProfileError
from .paths import resolve
from .schema import (
    SECTIONS,
    TOP_LEVEL_TEXT,
    AuxMemorySpec,
    ChipSpec,
    CoreSpec,
    CrossbarSpec,
    DeviceSpec,
    PeripherySpec,
    WritePolicySpec,
    all_key_paths,
    convert,
    describe_constraint,
    key_roles,
    section_fields,
)

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
_MAX_BASE_DEPTH = 8


@dataclass(frozen=True)
class Profile:
    """A validated hardware profile: frozen, typed, SI units.

    Attributes
    ----------
    name, description : str
        From the file.
    device, crossbar, periphery, core, chip, aux_memory, write_policy
        The sections, see :mod:`neurosim.profiles.schema` for every field and its unit.
    source : str
        Where the profile came from (file path, or a note such as ``"<rram_hfo2 + replace>"``).
    """

    name: str
    description: str
    device: DeviceSpec
    crossbar: CrossbarSpec
    periphery: PeripherySpec
    core: CoreSpec
    chip: ChipSpec
    aux_memory: AuxMemorySpec
    write_policy: WritePolicySpec
    source: str = field(compare=False)
    _raw_json: str = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The profile as file keys and file units (a fresh copy, safe to modify)."""
        return json.loads(self._raw_json)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical file content: equal hashes mean equal numbers."""
        return hashlib.sha256(self._raw_json.encode()).hexdigest()

    def replace(self, changes: Mapping[str, Any] | None = None, /, **more: Any) -> Profile:
        """Return a new validated profile with some keys changed (what-if studies).

        Parameters
        ----------
        changes : mapping, optional
            Dotted file keys (with their file units) to new values, e.g.
            ``{"device.endurance_cycles": 1e5, "periphery.adc_bits": 4}``.
        **more
            The same as keyword arguments, e.g. ``replace(**{"crossbar.rows": 64})``.

        Raises
        ------
        ProfileError
            For an unknown key (with the closest valid one) or an invalid value.
        """
        merged = dict(changes or {})
        merged.update(more)
        raw = self.to_dict()
        where = f"<{self.name} + replace>"
        for path, value in merged.items():
            parts = path.split(".")
            if path not in all_key_paths() or len(parts) > 2 or path in SECTIONS or path == "base":
                raise _unknown_key(where, path, value, "a dotted key of the profile file", _leaf_key_paths())
            if len(parts) == 1:
                raw[path] = value
            else:
                raw[parts[0]][parts[1]] = value
        return profile_from_dict(raw, source=where)

    def first_structural_difference(self, other: Profile) -> str | None:
        """The first key (in file order) whose value differs from ``other``'s and that changes what is simulated
        (role ``structure``, see :data:`~neurosim.profiles.schema.ROLES`), or None when the two differ only in
        prices and labels."""
        mine, theirs = self.to_dict(), other.to_dict()
        for path, role in key_roles().items():
            if role != "structure":
                continue
            section, key = path.split(".")
            if mine[section][key] != theirs[section][key]:
                return path
        return None

    def to_toml(self) -> str:
        """The profile as TOML text (file keys and units), loadable by :func:`load_profile`."""
        raw = self.to_dict()
        lines = [f"{k} = {toml_value(raw[k])}" for k in TOP_LEVEL_TEXT]
        for section in SECTIONS:
            lines += ["", f"[{section}]"]
            lines += [f"{k} = {toml_value(v)}" for k, v in raw[section].items()]
        return "\n".join(lines) + "\n"


def _leaf_key_paths() -> list[str]:
    return [k for k in all_key_paths() if "." in k or k in TOP_LEVEL_TEXT]


def _unknown_key(where: str, path: str, value: Any, constraint: str, valid: list[str] | None = None) -> ProfileError:
    """Error for an unknown key: names the closest valid key, the constraint and the value given."""
    candidates = [k for k in (valid if valid is not None else all_key_paths()) if k != path]
    close = difflib.get_close_matches(path, candidates, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ProfileError(f"unknown key {path!r}{hint} (must be {constraint}; got {shown})", file=where, key=path,
                        constraint=constraint, value=value)


def _error(where: str, key: str, constraint: str, value: Any, problem: str | None = None) -> ProfileError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    msg = f"key {key!r} {problem or 'must be ' + constraint} (got {shown})"
    return ProfileError(msg, file=where, key=key, constraint=constraint, value=value)


def _build_section(name: str, raw: Any, where: str) -> Any:
    cls = SECTIONS[name]
    if not isinstance(raw, dict):
        raise _error(where, name, "a table [" + name + "]", raw, f"must be a table [{name}], not {type(raw).__name__}")
    fields = section_fields(name)
    for key in raw:
        if key not in fields:
            path = f"{name}.{key}"
            raise _unknown_key(where, path, raw[key], "a key listed in the schema")
    values = {}
    for key, f in fields.items():
        path = f"{name}.{key}"
        if key not in raw:
            raise ProfileError(f"missing key {path!r} ({f.metadata['doc']}; {describe_constraint(f)})",
                               file=where, key=path, constraint="required", value=None)
        converted, problem = convert(f, raw[key])
        if problem is not None:
            raise _error(where, path, describe_constraint(f), raw[key], problem)
        values[f.name] = converted
    return cls(**values)


def _cross_checks(p: dict[str, Any], raw: dict[str, Any], where: str) -> None:
    dev, xbar, peri = p["device"], p["crossbar"], p["periphery"]
    if dev.stuck_at_low_rate + dev.stuck_at_high_rate > 1:
        raise _error(where, "device.stuck_at_high_rate", "stuck_at_low_rate + stuck_at_high_rate <= 1",
                     raw["device"]["stuck_at_high_rate"])
    if peri.columns_per_adc > xbar.cols:
        raise _error(where, "periphery.columns_per_adc", f"<= crossbar.cols ({xbar.cols})",
                     raw["periphery"]["columns_per_adc"])
    if xbar.weight_encoding == "differential_pair" and xbar.cells_per_weight % 2:
        raise _error(where, "crossbar.cells_per_weight", "even for weight_encoding 'differential_pair'",
                     raw["crossbar"]["cells_per_weight"])
    if xbar.cells_per_weight > xbar.cols:
        raise _error(where, "crossbar.cells_per_weight", f"<= crossbar.cols ({xbar.cols})",
                     raw["crossbar"]["cells_per_weight"])


def profile_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> Profile:
    """Validate a profile given as a nested dict of file keys (as parsed from TOML) and build it.

    Raises
    ------
    ProfileError
        Naming ``source``, the key path, the constraint and the value.
    """
    if not isinstance(raw, Mapping):
        raise ProfileError(f"a profile must be a table of keys, not {type(raw).__name__}", file=source)
    for key in raw:
        if key not in SECTIONS and key not in TOP_LEVEL_TEXT:
            # ('base' is valid only in a file, where load_profile resolves it before validation)
            raise _unknown_key(source, key, raw[key], "a top-level key or section of the schema",
                               [k for k in all_key_paths() if k != "base"])
    for key in TOP_LEVEL_TEXT:
        if key not in raw:
            raise ProfileError(f"missing key {key!r}", file=source, key=key, constraint="required", value=None)
        if not isinstance(raw[key], str):
            raise _error(source, key, "a string", raw[key], f"must be a string, not {type(raw[key]).__name__}")
    if not _NAME_RE.fullmatch(raw["name"]):
        raise _error(source, "name", "1-64 letters, digits, '_', '-' or '.'", raw["name"])
    sections = {}
    for name in SECTIONS:
        if name not in raw:
            raise ProfileError(f"missing section [{name}]", file=source, key=name, constraint="required",
                               value=None)
        sections[name] = _build_section(name, raw[name], source)
    _cross_checks(sections, dict(raw), source)
    canonical = {k: raw[k] for k in TOP_LEVEL_TEXT}
    for name in SECTIONS:
        canonical[name] = {k: raw[name][k] for k in section_fields(name)}
    return Profile(name=raw["name"], description=raw["description"], source=source,
                   _raw_json=json.dumps(canonical, sort_keys=False), **sections)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read profile file: {exc.strerror or exc}", file=str(path)) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProfileError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"not valid TOML: {exc}", file=str(path)) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def load_profile_file(path: str | Path, _depth: int = 0) -> Profile:
    """Load and validate one profile file (a ``base = "..."`` key is resolved first)."""
    path = Path(path)
    raw = _read_toml(path)
    return profile_from_dict(_resolve_base(raw, str(path), path.parent, _depth), source=str(path))


def _resolve_base(raw: dict[str, Any], where: str, folder: Path, depth: int) -> dict[str, Any]:
    if "base" not in raw:
        return raw
    base = raw.pop("base")
    if not isinstance(base, str):
        raise _error(where, "base", "a shipped profile name or a path", base)
    if depth >= _MAX_BASE_DEPTH:
        raise _error(where, "base", f"at most {_MAX_BASE_DEPTH} levels of base profiles (a cycle?)", base)
    base_path = resolve(base, relative_to=folder, where=where)
    base_raw = _resolve_base(_read_toml(base_path), str(base_path), base_path.parent, depth + 1)
    return _merge(base_raw, raw)


def fields_table(profile: Profile) -> list[tuple[str, Any, str, str]]:
    """Rows ``(key path, file value, SI value with unit, documentation)`` for display."""
    raw = profile.to_dict()
    rows = []
    for name in SECTIONS:
        spec = getattr(profile, name)
        for key, f in section_fields(name).items():
            si = getattr(spec, f.name)
            unit = f.metadata["unit"]
            si_unit = {"j": "J", "s": "s", "hz": "Hz", "bytes": "B"}.get(f.name.rsplit("_", 1)[-1], "")
            si_text = f"{si:.4g} {si_unit}" if unit and unit != "s" else ""
            rows.append((f"{name}.{key}", raw[name][key], si_text, f.metadata["doc"]))
    return rows


__all__ = ["Profile", "profile_from_dict", "load_profile_file", "fields_table"]
