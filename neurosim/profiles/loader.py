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
from .costs import Costs, derive_costs
from .paths import DEFAULT_PROFILE, resolve
from .schema import (
    KEYS_ADDED_IN_0_3,
    SECTIONS,
    SI_SYMBOLS,
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
    costs: Costs = field(repr=False, compare=False, default=None)

    def to_dict(self) -> dict[str, Any]:
        """The profile as file keys and file units (a fresh copy, safe to modify)."""
        return json.loads(self._raw_json)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical file content: equal hashes mean equal numbers."""
        return hashlib.sha256(self._raw_json.encode()).hexdigest()

    @property
    def structure_hash(self) -> str:
        """SHA-256 of the values that change what is simulated (role ``structure``): two profiles with equal
        structure hashes differ only in prices and labels, so a run on one re-prices exactly to the other."""
        raw = self.to_dict()
        structure = {path: raw[path.split(".")[0]][path.split(".")[1]]
                     for path, role in key_roles().items() if role == "structure"}
        return hashlib.sha256(json.dumps(structure, sort_keys=True).encode()).hexdigest()

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
            parts = str(path).split(".")
            if path not in all_key_paths() or len(parts) > 2 or path in SECTIONS or path == "base":
                raise _unknown_key(where, path, value, "a dotted key of the profile file", _leaf_key_paths())
            if len(parts) == 1:
                raw[path] = value
            elif value is None and section_fields(parts[0])[parts[1]].metadata.get("pin"):
                raw[parts[0]].pop(parts[1], None)  # unpin: the figure is derived again
            else:
                raw[parts[0]][parts[1]] = value
        return profile_from_dict(raw, source=where)

    def with_settings(self, settings: list[str] | tuple[str, ...]) -> Profile:
        """This profile with ``KEY=VALUE`` texts applied (the command line's ``--set``), each value parsed to its
        key's declared type (``"periphery.adc_bits=4"``, ``"crossbar.rows=64"``, ``"periphery.exact=true"``).

        Raises
        ------
        ProfileError
            Naming the key (with the closest valid one for a typo), the constraint and the text.
        """
        changes: dict[str, Any] = {}
        where = f"<{self.name} + --set>"
        for item in settings:
            key, sep, text = str(item).partition("=")
            key = key.strip()
            if not sep or not key:
                raise ProfileError(f"--set takes KEY=VALUE with a dotted profile key, e.g. periphery.adc_bits=4 "
                                   f"(got {item!r})", file=where, key=key or None, constraint="KEY=VALUE", value=item)
            parts = key.split(".")
            if len(parts) == 1 and key in TOP_LEVEL_TEXT:
                changes[key] = text
                continue
            if len(parts) != 2 or parts[0] not in SECTIONS or parts[1] not in section_fields(parts[0]):
                raise _unknown_key(where, key, text, "a dotted key of the profile file", _leaf_key_paths())
            rule = section_fields(parts[0])[parts[1]].metadata["rule"]
            try:
                changes[key] = rule.parse(text)
            except ValueError as exc:
                raise _error(where, key, rule.describe(), text, str(exc)) from None
        return self.replace(changes) if changes else self

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


_MIGRATION = (
    ". This key is new in neurosim 0.3: profiles now state component attributes and derive per-action costs from "
    f"them. To migrate a 0.2 profile, add 'base = \"{DEFAULT_PROFILE}\"' at its top and keep only the keys that "
    f"differ, or copy the new keys from `neurosim profiles show {DEFAULT_PROFILE} --toml`; per-action figures your "
    "file states (periphery.adc_energy_pj, device.read_energy_pj, ...) stay valid and pin those costs")


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
        if key not in raw and f.metadata.get("pin"):
            values[f.name] = None  # not pinned: a component model derives the figure
            continue
        if key not in raw:
            raise ProfileError(f"missing key {path!r} ({f.metadata['doc']}; {describe_constraint(f)})"
                               + (_MIGRATION if path in KEYS_ADDED_IN_0_3 else ""),
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
        canonical[name] = {k: raw[name][k] for k in section_fields(name) if k in raw[name]}
    return Profile(name=raw["name"], description=raw["description"], source=source,
                   _raw_json=json.dumps(canonical, sort_keys=False), costs=derive_costs(sections), **sections)


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
    """Rows ``(key path, file value, SI value with unit, documentation)`` for display; a pin the profile does not
    state shows ``"(derived)"`` as its value."""
    raw = profile.to_dict()
    rows = []
    for name in SECTIONS:
        spec = getattr(profile, name)
        for key, f in section_fields(name).items():
            si = getattr(spec, f.name)
            unit = f.metadata["unit"]
            si_unit = si_symbol(f.name)
            si_text = f"{si:.4g} {si_unit}" if unit and unit != "s" and si is not None else ""
            rows.append((f"{name}.{key}", raw[name].get(key, "(derived)"), si_text, f.metadata["doc"]))
    return rows


def si_symbol(attribute: str) -> str:
    """The unit symbol of an SI attribute name (its longest known suffix): ``"adc_energy_j"`` -> ``"J"``."""
    matches = [suffix for suffix in SI_SYMBOLS if attribute.endswith("_" + suffix)]
    return SI_SYMBOLS[max(matches, key=len)] if matches else ""


def costs_table(profile: Profile) -> list[tuple[str, str, str]]:
    """Rows ``(cost, SI value with unit, provenance)``: every per-action figure the price table uses, and whether a
    model derived it (with the model and its inputs), the profile pinned it, or it is an attribute used as is."""
    rows = []
    for name, value, how in profile.costs.rows():
        if name.endswith("_m2"):
            text = f"{value * 1e6:.4g} mm2"
        else:
            unit = si_symbol(name)
            text = f"{value:.4g} {unit}".strip()
        rows.append((name, text, how))
    return rows


__all__ = ["Profile", "profile_from_dict", "load_profile_file", "fields_table", "costs_table"]
