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
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._toml import dumps, read_toml
from ..errors import ProfileError
from .costs import Costs, derive_costs
from .paths import DEFAULT_PROFILE, resolve
from .schema import (
    KEYS_ADDED_IN_0_3,
    KEYS_ADDED_IN_0_4,
    KEYS_ADDED_IN_0_5,
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
    spare_rows,
)

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
_MAX_BASE_DEPTH = 8
# values in messages: at most 3 levels of nesting and a few items, whatever the user passed
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 60, 60, 60


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
        where = f"<{self.name} + replace>"
        if changes is not None and not isinstance(changes, Mapping):
            raise ProfileError(f"replace() takes a mapping of dotted keys to values, not {type(changes).__name__}",
                               file=where, constraint="a mapping", value=changes)
        merged = dict(changes or {})
        merged.update(more)
        raw = self.to_dict()
        for path, value in merged.items():
            if not isinstance(path, str):
                raise ProfileError(f"key {_shown(path, 60)} must be a dotted key of the profile file as a string, "
                                   f"e.g. 'device.levels', not {type(path).__name__}", file=where,
                                   key=_shown(path, 60), constraint="a dotted key string", value=value)
            parts = path.split(".")
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
        raw = self.to_dict()  # top-level text first, then the sections in schema order (tomli-w keeps dict order)
        return dumps({**{k: raw[k] for k in TOP_LEVEL_TEXT}, **{section: raw[section] for section in SECTIONS}})


def _leaf_key_paths() -> list[str]:
    return [k for k in all_key_paths() if "." in k or k in TOP_LEVEL_TEXT]


def _shown(value: Any, limit: int) -> str:
    """``repr(value)`` for a message: depth- and length-limited (a value nested thousands deep, or megabytes long,
    must not make the error itself fail or flood the terminal)."""
    if isinstance(value, str) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # (cut before repr: a megabyte string is not escaped whole for 80 characters)
    text = _REPR.repr(value) if isinstance(value, (list, tuple, dict, set, frozenset)) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unknown_key(where: str, path: str, value: Any, constraint: str, valid: list[str] | None = None) -> ProfileError:
    """Error for an unknown key: names the closest valid key, the constraint and the value given."""
    candidates = [k for k in (valid if valid is not None else all_key_paths()) if k != path]
    close = difflib.get_close_matches(path, candidates, n=1, cutoff=0.5) if len(path) <= 200 else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ProfileError(f"unknown key {_shown(path, 200)}{hint} (must be {constraint}; got {_shown(value, 60)})",
                        file=where, key=path, constraint=constraint, value=value)


def _error(where: str, key: str, constraint: str, value: Any, problem: str | None = None) -> ProfileError:
    msg = f"key {key!r} {problem or 'must be ' + constraint} (got {_shown(value, 80)})"
    return ProfileError(msg, file=where, key=key, constraint=constraint, value=value)


_MIGRATION_0_4 = (
    ". This key is new in neurosim 0.4: what happens to trainer state beyond aux_memory.capacity_kib. Add "
    "'overflow = \"off_chip\"' (spilled state is priced per byte moved) or 'overflow = \"refuse\"', and "
    "'off_chip_energy_per_byte_pj = 160.0' (DRAM, Horowitz ISSCC 2014) to [aux_memory], or start the file with "
    f"'base = \"{DEFAULT_PROFILE}\"'")
_MIGRATION_0_5 = (
    ". This key is new in neurosim 0.5: wear levelling in the chip's write controller. Add "
    "'wear_levelling = \"none\"', 'levelling_period = 100' and 'spare_rows_fraction = 0.0' to [write_policy] (the "
    f"behaviour of earlier versions), or start the file with 'base = \"{DEFAULT_PROFILE}\"'")
_MIGRATION = (
    ". This key is new in neurosim 0.3: profiles now state component attributes and derive per-action costs from "
    f"them. To migrate a 0.2 profile, add 'base = \"{DEFAULT_PROFILE}\"' at its top and keep only the keys that "
    f"differ, or copy the new keys from `neurosim profiles show {DEFAULT_PROFILE} --toml`; per-action figures your "
    "file states (periphery.adc_energy_pj, device.read_energy_pj, ...) stay valid and pin those costs")


class _Enough(Exception):
    """Raised by :class:`_Errors` when it holds as many errors as its caller wants."""


class _Errors(list):
    """Errors collected in file order, up to ``limit``: a load needs only the first, and a file of a million bad
    keys must not take minutes to report."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def add(self, error: ProfileError) -> None:
        self.append(error)
        if len(self) >= self.limit:
            raise _Enough


def _build_section(name: str, raw: Any, where: str, errors: _Errors, partial: bool = False
                   ) -> tuple[Any, dict[str, Any]]:
    """The section's dataclass (None if any of its keys is invalid) and its valid values (attribute -> SI value, for
    the cross-checks); adds every error of its keys to ``errors``, in file order: unknown keys first, then each
    declared key (missing or invalid). ``partial``: missing keys are not errors (a file whose base could not be
    read)."""
    cls = SECTIONS[name]
    if not isinstance(raw, dict):
        errors.add(_error(where, name, "a table [" + name + "]", raw,
                          f"must be a table [{name}], not {type(raw).__name__}"))
        return None, {}
    fields = section_fields(name)
    before = len(errors)
    for key in raw:
        if key not in fields:
            errors.add(_unknown_key(where, f"{name}.{key}", raw[key], "a key listed in the schema"))
    values, valid = {}, {}
    for key, f in fields.items():
        path = f"{name}.{key}"
        if key not in raw and f.metadata.get("pin"):
            values[f.name] = None  # not pinned: a component model derives the figure
            continue
        if key not in raw:
            if not partial:
                errors.add(ProfileError(f"missing key {path!r} ({f.metadata['doc']}; {describe_constraint(f)})"
                                        + (_MIGRATION if path in KEYS_ADDED_IN_0_3 else "")
                                        + (_MIGRATION_0_4 if path in KEYS_ADDED_IN_0_4 else "")
                                        + (_MIGRATION_0_5 if path in KEYS_ADDED_IN_0_5 else ""),
                                        file=where, key=path, constraint="required", value=None))
            continue
        converted, problem = convert(f, raw[key])
        if problem is not None:
            errors.add(_error(where, path, describe_constraint(f), raw[key], problem))
        else:
            valid[f.name] = converted
        values[f.name] = converted
    return (None if len(errors) > before or partial else cls(**values)), valid


def _cross_checks(v: dict[str, dict[str, Any]], raw: Mapping[str, Any], where: str, errors: _Errors) -> None:
    """Rules between keys (``v``: section -> its valid values by attribute). Each rule runs when the keys it reads
    are valid, whatever else is wrong, so every failed rule is reported."""
    def has(section: str, *attributes: str) -> bool:
        return all(v.get(section, {}).get(a) is not None for a in attributes)

    dev, xbar, peri = v.get("device", {}), v.get("crossbar", {}), v.get("periphery", {})
    # a sum of 1 leaves no working cell: every weight would read as stuck, and accuracy would mean nothing
    if has("device", "stuck_at_low_rate", "stuck_at_high_rate") and \
            dev["stuck_at_low_rate"] + dev["stuck_at_high_rate"] >= 1:
        errors.add(_error(where, "device.stuck_at_high_rate",
                          "device.stuck_at_low_rate + device.stuck_at_high_rate < 1",
                          raw["device"]["stuck_at_high_rate"],
                          f"must keep device.stuck_at_low_rate + device.stuck_at_high_rate < 1 (some cells must "
                          f"work; device.stuck_at_low_rate is {_shown(raw['device']['stuck_at_low_rate'], 30)})"))
    if has("periphery", "columns_per_adc") and has("crossbar", "cols") and peri["columns_per_adc"] > xbar["cols"]:
        errors.add(_error(where, "periphery.columns_per_adc", f"<= crossbar.cols ({xbar['cols']})",
                          raw["periphery"]["columns_per_adc"]))
    if has("crossbar", "weight_encoding", "cells_per_weight") and xbar["weight_encoding"] == "differential_pair" \
            and xbar["cells_per_weight"] % 2:
        errors.add(_error(where, "crossbar.cells_per_weight", "even for weight_encoding 'differential_pair'",
                          raw["crossbar"]["cells_per_weight"]))
    wp = v.get("write_policy", {})
    if has("write_policy", "wear_levelling", "spare_rows_fraction") and has("crossbar", "rows"):
        spares = spare_rows(xbar["rows"], wp["spare_rows_fraction"])
        if wp["wear_levelling"] != "none" and spares < 1:
            errors.add(_error(where, "write_policy.spare_rows_fraction",
                              f"> 0 with wear_levelling {wp['wear_levelling']!r} (it moves rows into a free one)",
                              raw["write_policy"]["spare_rows_fraction"]))
        elif spares >= xbar["rows"]:
            errors.add(_error(where, "write_policy.spare_rows_fraction",
                              f"leaving at least one of crossbar.rows ({xbar['rows']}) for weights",
                              raw["write_policy"]["spare_rows_fraction"]))
    if has("crossbar", "cells_per_weight", "cols") and xbar["cells_per_weight"] > xbar["cols"]:
        errors.add(_error(where, "crossbar.cells_per_weight", f"<= crossbar.cols ({xbar['cols']})",
                          raw["crossbar"]["cells_per_weight"]))


def _text_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file could hold it
        return "must be a string of Unicode characters (it holds a lone surrogate)"
    return None


def _validate(raw: Any, source: str, partial: bool = False, limit: int = 1
              ) -> tuple[dict[str, Any], list[ProfileError]]:
    """The valid sections and the first ``limit`` independent errors of ``raw``, in the order a single-error load
    reports them (``errors[0]`` is what :func:`profile_from_dict` raises). ``partial``: missing keys are not
    errors."""
    errors = _Errors(limit)
    sections: dict[str, Any] = {}
    try:
        _collect(raw, source, partial, errors, sections)
    except _Enough:
        pass
    return sections, list(errors)


def _collect(raw: Any, source: str, partial: bool, errors: _Errors, sections: dict[str, Any]) -> None:
    if not isinstance(raw, Mapping):
        errors.add(ProfileError(f"a profile must be a table of keys, not {type(raw).__name__}", file=source))
        return
    for key in raw:
        if not isinstance(key, str):
            errors.add(_unknown_key(source, str(key), raw[key], "a top-level key or section of the schema (a "
                                    "string)"))
        elif key not in SECTIONS and key not in TOP_LEVEL_TEXT:
            # ('base' is valid only in a file, where load_profile resolves it before validation)
            errors.add(_unknown_key(source, key, raw[key], "a top-level key or section of the schema",
                                    [k for k in all_key_paths() if k != "base"]))
    for key in TOP_LEVEL_TEXT:
        if key not in raw:
            if not partial:
                errors.add(ProfileError(f"missing key {key!r}", file=source, key=key, constraint="required",
                                        value=None))
            continue
        problem = _text_problem(raw[key])
        if problem is not None:
            errors.add(_error(source, key, "a string", raw[key], problem))
    if isinstance(raw.get("name"), str) and not _NAME_RE.fullmatch(raw["name"]):
        errors.add(_error(source, "name", "1-64 letters, digits, '_', '-' or '.'", raw["name"]))
    valid = {}
    for name in SECTIONS:
        if name not in raw:
            if not partial:
                errors.add(ProfileError(f"missing section [{name}]", file=source, key=name, constraint="required",
                                        value=None))
            continue
        spec, valid[name] = _build_section(name, raw[name], source, errors, partial)
        if spec is not None:
            sections[name] = spec
    _cross_checks(valid, raw, source, errors)


def _plain(value: Any) -> Any:
    # numpy scalars (np.float32, np.int64, np.bool_) pass the rules but are not JSON; the file's own ints and floats
    # are kept as they are, so the content hash of a file does not change
    return value.item() if isinstance(value, np.generic) else value


def profile_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> Profile:
    """Validate a profile given as a nested dict of file keys (as parsed from TOML) and build it.

    Raises
    ------
    ProfileError
        Naming ``source``, the key path, the constraint and the value.
    """
    sections, errors = _validate(raw, source)
    if errors:
        raise errors[0]
    canonical = {k: raw[k] for k in TOP_LEVEL_TEXT}
    for name in SECTIONS:
        canonical[name] = {k: _plain(raw[name][k]) for k in section_fields(name) if k in raw[name]}
    return Profile(name=raw["name"], description=raw["description"], source=source,
                   _raw_json=json.dumps(canonical, sort_keys=False), costs=derive_costs(sections), **sections)


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path, "profile file", lambda message: ProfileError(message, file=str(path)))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def load_profile_file(path: str | Path, _depth: int = 0) -> Profile:
    """Load and validate one profile file (a ``base = "..."`` key is resolved first).

    Raises
    ------
    ProfileError
        The first error of the file (see :func:`profile_errors` for all of them).
    """
    path = Path(path)
    raw = _read_toml(path)
    return profile_from_dict(_resolve_base(raw, str(path), path.parent, _depth), source=str(path))


def profile_errors(path: str | Path, max_errors: int = 200) -> list[ProfileError]:
    """Every error of one profile file, not only the first: each unknown, missing or invalid key and each failed
    cross-check (for ``neurosim profiles validate FILE...``). An empty list means the file loads.

    Parameters
    ----------
    path : str or Path
        The profile file, as :func:`load_profile_file` takes it.
    max_errors : int, default 200
        Stop after this many errors (a file of garbage could hold hundreds of thousands of keys).

    Returns
    -------
    list of ProfileError
        In file order; the first is the error ``load_profile_file(path)`` raises. A file that cannot be found,
        read or parsed gives that one error. A ``base`` that cannot be resolved gives its error followed by the
        errors of the file's own keys (unknown keys, invalid values, cross-checks among them; missing keys need the
        base). A cross-check is reported whenever the keys it compares are valid themselves.
    """
    limit = max(1, int(max_errors))
    path = Path(path)
    try:
        raw = _read_toml(path)
    except ProfileError as exc:
        return [exc]
    where = str(path)
    own = dict(raw)
    try:
        merged = _resolve_base(raw, where, path.parent, 0)
    except ProfileError as exc:
        own.pop("base", None)
        if limit == 1:
            return [exc]
        return [exc] + _validate(own, where, partial=True, limit=limit - 1)[1]
    return _validate(merged, where, limit=limit)[1]


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


__all__ = ["Profile", "profile_from_dict", "load_profile_file", "profile_errors", "fields_table", "costs_table"]
