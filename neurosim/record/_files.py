"""JSON-safe values, embedded profiles and atomic saves shared by the record types."""

from __future__ import annotations

import collections
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from ..errors import NeurosimError, ProfileError
from ..profiles import Profile, profile_from_dict


class RecordError(NeurosimError, ValueError):
    """A run record or report file is missing, malformed or of an unknown schema version."""


def json_safe(value: Any) -> Any:
    """Plain JSON values: non-finite floats become None, numpy scalars Python numbers, tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return json_safe(value.item())
    return value


def profile_entry(profile: Profile) -> dict[str, Any]:
    """How a record keeps its pricing profile: name, content hash and every value (file keys and units), so that
    the record prices itself without the profile file and can be re-priced under another."""
    values = profile.to_dict()
    _remember(json.dumps(values, sort_keys=True), profile)  # a record made from it prices without re-parsing it
    return {"name": profile.name, "content_hash": profile.content_hash, "values": values}


def profile_of(entry: Any, source: str) -> Profile:
    """The :class:`Profile` kept in a record (raises :class:`RecordError` naming ``source``)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
        raise RecordError(f"{source}: key 'profile' must hold the profile's 'values' (got {str(entry)[:60]})")
    key = json.dumps(entry["values"], sort_keys=True)
    cached = _PROFILES.get(key)
    if cached is not None:
        _PROFILES.move_to_end(key)
        return cached
    try:
        profile = profile_from_dict(json.loads(key), source=f"{source}: profile")
    except ProfileError as exc:
        raise RecordError(str(exc)) from None
    _remember(key, profile)
    return profile


# Profiles by their canonical values: records are priced often (tables, plots, re-pricing) and parsing a profile
# costs more than pricing a ledger. Least recently used entries go first.
_PROFILES: collections.OrderedDict[str, Profile] = collections.OrderedDict()
_PROFILES_KEPT = 256


def _remember(key: str, profile: Profile) -> None:
    _PROFILES[key] = profile
    _PROFILES.move_to_end(key)
    while len(_PROFILES) > _PROFILES_KEPT:
        _PROFILES.popitem(last=False)


def check_keys(data: Any, required: tuple[str, ...], optional: tuple[str, ...], where: str) -> dict[str, Any]:
    """A JSON object with exactly the known keys (all required ones present); raises :class:`RecordError`."""
    if not isinstance(data, dict):
        raise RecordError(f"{where} must be a JSON object (got {type(data).__name__})")
    for key in data:
        if key not in required and key not in optional:
            raise RecordError(f"{where}: unknown key {key!r}; keys are: {', '.join(required + optional)}")
    for key in required:
        if key not in data:
            raise RecordError(f"{where}: missing key {key!r}")
    return data


def save_json(text: str, path: str | Path, what: str) -> Path:
    """Write ``text`` to ``path`` whole, then rename (never half a file); raises :class:`RecordError`."""
    path = Path(path)
    if path.is_dir():
        raise RecordError(f"{path}: is a folder; give a file name for the {what}")
    tmp = path.with_name(f".{path.name}.{hashlib.sha1(str(path).encode()).hexdigest()[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RecordError(f"{path}: cannot write the {what}: {exc.strerror or exc}") from None
    return path


def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file; raises :class:`RecordError` naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: not valid JSON: {exc}") from None
