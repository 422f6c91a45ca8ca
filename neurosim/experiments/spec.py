"""Study specs: what a study runs, declared in TOML and checked like a hardware profile before any work starts.

A study is a grid of *points*. Its spec names the kind of work (``map``, ``infer``, ``train``, ``adapt``), the fixed
settings (profile, model, data, ...), the seeds, and ``[axes]``: lists of values for any dotted profile key
(``"periphery.adc_bits" = [4, 6, 8]``), any trainer hyper-parameter (``"sgd.lr" = [0.01, 0.1]``) or any of the
fixed settings (``epochs = [1, 5]``, ``profile = ["rram_hfo2", "pcm"]``). Points are the product of the axes, the
trainers and the seeds; a ``[zip.NAME]`` group varies its keys together (equal-length lists) as one axis::

    name = "chip_designer_grid"
    kind = "infer"
    profile = "rram_hfo2"
    model = "mnist_cnn"
    data = "mnist"
    samples = 1000
    seeds = 1

    [axes]
    profile = ["rram_hfo2", "pcm", "fefet", "sram"]
    "periphery.adc_bits" = [4, 6, 8]

    [zip.crossbar]
    "crossbar.rows" = [64, 128, 256]
    "crossbar.cols" = [64, 128, 256]

Every key is checked against its rule (an unknown key is named with the closest valid one); values of profile keys
are checked when the points are resolved (:mod:`neurosim.experiments.points`), still before any work starts.
Relative paths (profile, model, ``mnist:PATH`` data) are relative to the spec file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._fields import Rule, shown
from .._toml import read_toml
from ..chip import DEFAULT_EXECUTOR, EXECUTORS
from ..data.streams import SHIFTS
from ..errors import StudyError
from ..profiles import DEFAULT_PROFILE, Profile
from ..profiles.schema import SECTIONS, section_fields
from ..training import TRAINERS, trainer_class
from ..training.params import HyperParameter

KINDS = ("map", "infer", "train", "adapt")

#: Rules of the fixed settings; every one of them may also be an axis (``seeds`` and ``trainers`` are lists).
FIELDS: dict[str, Rule] = {
    "profile": Rule("str", "shipped profile name or path to a profile TOML"),
    "model": Rule("str", "shipped model name, path to a model TOML, or layer sizes of a fresh MLP (784-128-10)"),
    "data": Rule("str", "iris, digits, wine, breast_cancer, mnist or mnist:PATH"),
    "executor": Rule("choice", "how the mapped network runs", choices=tuple(sorted(EXECUTORS))),
    "placement": Rule("choice", "placement strategy of tiles on the mesh", choices=("optimized", "naive")),
    "samples": Rule("int", "test samples to infer (default: the whole test split)", lo=1),
    "calibration": Rule("int", "training samples that set narrow converters' ranges (0: none)", lo=0),
    "epochs": Rule("int", "epochs of training from scratch", lo=1),
    "batch_size": Rule("int", "samples per trainer step (default: each trainer's own)", lo=1),
    "weight_bits": Rule("int", "bits of a fresh model's weights (2 = ternary)", lo=2, hi=8),
    "scenario": Rule("choice", "distribution shift of the online stream", choices=SHIFTS),
    "analog_drift": Rule("float", "conductance random walk per stream sample", unit="level steps", lo=0),
    "digital_drift": Rule("float", "level-flip probability per cell and stream sample", lo=0, hi=1),
    "pretrain_epochs": Rule("int", "host pre-training epochs before the stream", lo=1),
    "strength": Rule("float", "strength of the distribution shift (1: the scenario's own)", lo=0),
    "write_budget": Rule("int", "writes each cell may take during the run (requests beyond are refused and "
                         "counted; default: no budget)", lo=1),
    "stream": Rule("int", "run a continual stream of this many samples (the shifted stream repeated) until the "
                   "end of useful life (default: one pass)", lo=1),
    "endurance_scale": Rule("float", "accelerated test: the profile's endurance x this; times are converted back",
                            lo=0, hi=1, lo_open=True),
    "min_accuracy": Rule("float", "with stream: end of useful life below this held-out accuracy (default: 5 "
                         "points below the best so far)", lo=0, hi=1),
    "stop_failed": Rule("float", "with stream: also stop when this fraction of the cells has worn out", lo=0, hi=1,
                        lo_open=True),
}
#: Index ranges [start, end) into the data set's train + test samples (adapt; default: the scenario's own split).
RANGES = ("pretrain_range", "stream_range", "test_range")
#: Which settings apply to which kind (any other setting in a spec of that kind is an error).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "map": ("profile", "model", "placement"),
    "infer": ("profile", "model", "data", "executor", "placement", "samples", "calibration"),
    "train": ("profile", "model", "data", "epochs", "batch_size", "weight_bits", "write_budget"),
    "adapt": ("profile", "model", "data", "batch_size", "weight_bits", "scenario", "analog_drift",
              "digital_drift", "pretrain_epochs", "strength", "write_budget", "stream", "endurance_scale",
              "min_accuracy", "stop_failed"),
}
DEFAULTS: dict[str, Any] = {
    "profile": DEFAULT_PROFILE, "model": "64-64-10", "data": "digits", "executor": DEFAULT_EXECUTOR,
    "placement": "optimized", "samples": None, "calibration": 256, "epochs": 5, "batch_size": None, "weight_bits": 2,
    "scenario": "rotate", "analog_drift": 0.0, "digital_drift": 0.0, "pretrain_epochs": 10, "strength": 1.0,
    "write_budget": None, "stream": None, "endurance_scale": 1.0, "min_accuracy": None, "stop_failed": None}
TOP_KEYS = ("name", "kind", "description", "seeds", "trainers", "set", "params", "axes", "zip") + tuple(FIELDS) + RANGES
#: The per-trainer batch size is set like a hyper-parameter (``[params.sgd] batch_size = 32``, axis
#: ``"sgd.batch_size"``), although the trainer itself does not take it.
BATCH_SIZE = HyperParameter(None, Rule("int", "samples per step of this trainer", lo=1))
_PATH_FIELDS = ("profile", "model")


@dataclass(frozen=True)
class StudySpec:
    """A checked study spec (see the module docstring).

    Attributes
    ----------
    name, kind, description : str
    fixed : dict
        The fixed settings of :data:`FIELDS` that apply to ``kind``, defaults filled in (``profile`` may be a
        :class:`~neurosim.profiles.Profile` given through the Python API).
    seeds : tuple of int
    trainers : tuple of str
        Trainers of a ``train`` or ``adapt`` study (empty otherwise).
    settings : dict
        Fixed profile changes (``[set]``), dotted key -> value.
    params : dict
        Fixed trainer hyper-parameters (``[params.TRAINER]``), trainer -> {key: value}.
    axes : tuple of (tuple of str, list of tuple)
        Every axis as (its keys, its value tuples): a plain axis has one key, a zip group several.
    source : str
        Where the spec came from (a file path, or ``"<python>"``).
    """

    name: str
    kind: str
    fixed: dict[str, Any]
    seeds: tuple[int, ...] = (0,)
    trainers: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    axes: tuple[tuple[tuple[str, ...], list[tuple[Any, ...]]], ...] = ()
    description: str = ""
    source: str = "<python>"

    @property
    def axis_keys(self) -> list[str]:
        """Every key an axis varies, in spec order (zip groups' keys in their order)."""
        return [k for keys, _ in self.axes for k in keys]

    def identity(self) -> dict[str, Any]:
        """What makes two specs the same study: everything but the description and the values of the axes, the
        trainers and the seeds (adding values resumes a study; changing anything else, the order of the axes
        included, is another study)."""
        fixed = {k: (v.content_hash if isinstance(v, Profile) else v) for k, v in self.fixed.items()}
        return {"name": self.name, "kind": self.kind, "fixed": fixed, "set": self.settings, "params": self.params,
                "axes": [list(keys) for keys, _ in self.axes]}

    def identity_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (what the store keeps; ``profile`` objects by name and content hash)."""
        fixed = {k: ({"name": v.name, "content_hash": v.content_hash} if isinstance(v, Profile) else v)
                 for k, v in self.fixed.items()}
        return {"name": self.name, "kind": self.kind, "description": self.description, "fixed": fixed,
                "seeds": list(self.seeds), "trainers": list(self.trainers), "set": self.settings,
                "params": self.params, "axes": [[list(keys), [list(v) for v in values]] for keys, values in self.axes],
                "source": self.source}


# ------------------------------------------------------------------------------------------------------- loading
def load_study_spec(path: str | Path) -> StudySpec:
    """Read and check a study spec TOML file.

    Raises
    ------
    StudyError
        Naming the file, the key, the constraint and the value (an unknown key with the closest valid one).
    """
    path = Path(path)
    try:
        missing = not path.exists()
    except OSError:  # e.g. a name too long for the file system
        missing = True
    if missing:
        raise StudyError(f"{path}: no such study spec file")
    # the package's one guarded TOML reader: size, nesting and file-type limits, errors naming the file
    raw = read_toml(path, "study spec", lambda message: StudyError(f"{path}: {message}"))
    return study_spec_from_dict(raw, source=str(path), folder=path.parent)


def study_spec_from_dict(raw: dict[str, Any], source: str = "<dict>", folder: Path | None = None) -> StudySpec:
    """Check a study spec given as a dict (a parsed TOML file); see :func:`load_study_spec`."""
    where = source
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: a study spec is a table of keys (got {type(raw).__name__})")
    for key in raw:
        if key not in TOP_KEYS:
            raise _unknown(where, key, TOP_KEYS, "a study key")
    name = _required(raw, "name", Rule("str", "the study's name"), where)
    if not name.strip():
        raise StudyError(f"{where}: key 'name' must be a non-empty string (got {name!r})")
    kind = _required(raw, "kind", Rule("choice", "kind of work", choices=KINDS), where)
    description = _optional(raw, "description", Rule("str", "what the study is for"), where, "")
    allowed = KIND_FIELDS[kind]
    fixed: dict[str, Any] = {}
    for key in FIELDS:
        if key in raw and key not in allowed:
            raise StudyError(f"{where}: key {key!r} does not apply to kind {kind!r} (its settings: "
                             f"{', '.join(allowed)})")
    for key in allowed:
        value = _optional(raw, key, FIELDS[key], where, DEFAULTS.get(key))
        fixed[key] = _relative(key, value, folder)
    for key in RANGES:
        if key in raw and kind != "adapt":
            raise StudyError(f"{where}: key {key!r} does not apply to kind {kind!r} (only to 'adapt')")
        if kind == "adapt":
            fixed[key] = _range(raw.get(key), where, key)
    seeds = _seeds(raw.get("seeds", 1), where)
    trainers = _trainers(raw, kind, where)
    settings = _table(raw, "set", where)
    for key in settings:
        _check_profile_key(key, where, "set")
    params = _params(raw, trainers, where)
    axes = _axes(raw, kind, allowed, trainers, where, folder)
    if kind in ("map", "infer") and "model" not in raw and "model" not in [k for keys, _ in axes for k in keys]:
        raise StudyError(f"{where}: key 'model' is required for kind {kind!r} (a shipped model name or a path)")
    return StudySpec(name=name, kind=kind, fixed=fixed, seeds=seeds, trainers=trainers, settings=settings,
                     params=params, axes=axes, description=description, source=source)


# ----------------------------------------------------------------------------------------------------- helpers
def _unknown(where: str, key: Any, valid: tuple[str, ...] | list[str], what: str) -> StudyError:
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return StudyError(f"{where}: unknown key {key!r}{hint} (must be {what})")


def _checked(rule: Rule, value: Any, where: str, key: str) -> Any:
    checked, problem = rule.check(value)
    if problem is not None:
        raise StudyError(f"{where}: key {key!r} {problem} (got {shown(value)})")
    return checked


def _required(raw: dict, key: str, rule: Rule, where: str) -> Any:
    if key not in raw:
        raise StudyError(f"{where}: key {key!r} is required ({rule.doc}: {rule.describe()})")
    return _checked(rule, raw[key], where, key)


def _optional(raw: dict, key: str, rule: Rule, where: str, default: Any) -> Any:
    return _checked(rule, raw[key], where, key) if key in raw else default


def _relative(key: str, value: Any, folder: Path | None) -> Any:
    """A relative path in a spec file is relative to the file's folder (names of shipped things stay names)."""
    if folder is None or not isinstance(value, str):
        return value
    if key in _PATH_FIELDS and value.endswith(".toml") and not Path(value).is_absolute():
        return str((folder / value).resolve())
    if key == "data" and value.startswith("mnist:") and not Path(value[6:]).is_absolute():
        return "mnist:" + str((folder / value[6:]).resolve())
    return value


def _range(value: Any, where: str, key: str) -> list[int] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in value) or not 0 <= value[0] < value[1]):
        raise StudyError(f"{where}: key {key!r} must be [start, end] sample indices with 0 <= start < end "
                         f"(got {shown(value)})")
    return list(value)


MAX_SEEDS = 10_000
MAX_SEED = 2**32 - 1  # what numpy's generators and the data splits take


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_SEEDS:
            raise StudyError(f"{where}: key 'seeds' must be a count in [1, {MAX_SEEDS}] or a list of integers (got "
                             f"{value!r})")
        return tuple(range(value))
    if isinstance(value, list) and value:
        if len(value) > MAX_SEEDS:
            raise StudyError(f"{where}: key 'seeds' lists {len(value)} seeds; at most {MAX_SEEDS}")
        for i, s in enumerate(value):
            if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= MAX_SEED:
                raise StudyError(f"{where}: key 'seeds'[{i}] must be an integer in [0, 2**32 - 1] (got {shown(s)})")
        if len(set(value)) != len(value):
            raise StudyError(f"{where}: key 'seeds' lists a seed twice (got {value!r})")
        return tuple(value)
    raise StudyError(f"{where}: key 'seeds' must be a count >= 1 or a non-empty list of integers (got {shown(value)})")


def _trainers(raw: dict, kind: str, where: str) -> tuple[str, ...]:
    if kind not in ("train", "adapt"):
        if "trainers" in raw or "params" in raw:
            key = "trainers" if "trainers" in raw else "params"
            raise StudyError(f"{where}: key {key!r} does not apply to kind {kind!r}")
        return ()
    value = raw.get("trainers")
    if value is None:
        raise StudyError(f"{where}: key 'trainers' is required for kind {kind!r} (a list of: "
                         f"{', '.join(sorted(TRAINERS))})")
    if not isinstance(value, list) or not value:
        raise StudyError(f"{where}: key 'trainers' must be a non-empty list of trainer names (got {shown(value)})")
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in TRAINERS:
            close = difflib.get_close_matches(str(name), sorted(TRAINERS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise StudyError(f"{where}: key 'trainers'[{i}] must be one of {', '.join(sorted(TRAINERS))} "
                             f"(got {shown(name)}){hint}")
    if len(set(value)) != len(value):
        raise StudyError(f"{where}: key 'trainers' lists a trainer twice (got {value!r})")
    return tuple(value)


def _table(raw: dict, key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise StudyError(f"{where}: key {key!r} must be a table (got {shown(value)})")
    return dict(value)


def _check_profile_key(key: str, where: str, table: str) -> None:
    section, _, name = key.partition(".")
    if section in SECTIONS and name in section_fields(section):
        return
    valid = [f"{s}.{k}" for s in SECTIONS for k in section_fields(s)]
    raise _unknown(where, f"{table}.{key}", [f"{table}.{v}" for v in valid], f"a dotted profile key in [{table}]")


def trainer_rules(trainer: str) -> dict[str, HyperParameter]:
    """The hyper-parameters a spec may set for ``trainer``: its declared ones and ``batch_size``."""
    return {**trainer_class(trainer).hyper_parameters, "batch_size": BATCH_SIZE}


def _params(raw: dict, trainers: tuple[str, ...], where: str) -> dict[str, dict[str, Any]]:
    table = _table(raw, "params", where)
    params: dict[str, dict[str, Any]] = {}
    for trainer, values in table.items():
        if trainer not in trainers:
            raise StudyError(f"{where}: [params.{trainer}] names a trainer the study does not run (it runs: "
                             f"{', '.join(trainers)})")
        if not isinstance(values, dict):
            raise StudyError(f"{where}: [params.{trainer}] must be a table of hyper-parameters (got {shown(values)})")
        rules = trainer_rules(trainer)
        params[trainer] = {}
        for key, value in values.items():
            if key not in rules:
                raise _unknown(where, f"params.{trainer}.{key}", [f"params.{trainer}.{k}" for k in rules],
                               f"a hyper-parameter of {trainer!r} (see `neurosim trainers show {trainer}`)")
            params[trainer][key] = _checked(rules[key].rule, value, where, f"params.{trainer}.{key}")
    return params


def axis_kind(key: str) -> str:
    """``"field"``, ``"profile"`` or ``"param"``: what an axis key varies (assumes a checked key)."""
    if key in FIELDS:
        return "field"
    return "profile" if key.partition(".")[0] in SECTIONS else "param"


def _axis_values(key: str, values: Any, where: str, kind: str, allowed: tuple[str, ...], trainers: tuple[str, ...],
                 folder: Path | None, unique: bool = True) -> list[Any]:
    label = f"axes.{key}" if "." not in key else f"axes.'{key}'"
    if not isinstance(values, list) or not values:
        raise StudyError(f"{where}: {label} must be a non-empty list of values (got {shown(values)})")
    head, _, tail = key.partition(".")
    if key in FIELDS:
        if key not in allowed:
            raise StudyError(f"{where}: axis {key!r} does not apply to kind {kind!r} (its settings: "
                             f"{', '.join(allowed)})")
        out = [_relative(key, _checked(FIELDS[key], v, where, f"{label}[{i}]"), folder)
               for i, v in enumerate(values)]
    elif head in SECTIONS:
        _check_profile_key(key, where, "axes")
        out = list(values)  # checked by the profile when the points are resolved
    elif head in TRAINERS and tail:
        if head not in trainers:
            raise StudyError(f"{where}: axis {key!r} names trainer {head!r}, which the study does not run (it runs: "
                             f"{', '.join(trainers) or 'none'})")
        rules = trainer_rules(head)
        if tail not in rules:
            raise _unknown(where, key, [f"{head}.{k}" for k in rules],
                           f"a hyper-parameter of {head!r} (see `neurosim trainers show {head}`)")
        out = [_checked(rules[tail].rule, v, where, f"{label}[{i}]") for i, v in enumerate(values)]
    else:
        valid = [k for k in FIELDS if k in allowed] + [f"{s}.{k}" for s in SECTIONS for k in section_fields(s)] + [
            f"{t}.{k}" for t in trainers for k in trainer_rules(t)]
        hint = " ('seeds' and 'trainers' are lists of their own, not axes)" if key in ("seed", "seeds", "trainer",
                                                                                        "trainers") else ""
        raise _unknown(where, f"axes.{key}", [f"axes.{v}" for v in valid],
                       f"a setting, a dotted profile key or TRAINER.PARAM{hint}")
    if unique and len({json.dumps(v, sort_keys=True) for v in out}) != len(out):
        raise StudyError(f"{where}: {label} lists a value twice (got {shown(values)})")
    return out


def _axes(raw: dict, kind: str, allowed: tuple[str, ...], trainers: tuple[str, ...], where: str,
          folder: Path | None) -> tuple[tuple[tuple[str, ...], list[tuple[Any, ...]]], ...]:
    axes: list[tuple[tuple[str, ...], list[tuple[Any, ...]]]] = []
    seen: set[str] = set()
    for key, values in _table(raw, "axes", where).items():
        axes.append(((key,), [(v,) for v in _axis_values(key, values, where, kind, allowed, trainers, folder)]))
        seen.add(key)
    for group, table in _table(raw, "zip", where).items():
        if not isinstance(table, dict) or len(table) < 2:
            raise StudyError(f"{where}: [zip.{group}] must be a table of at least two keys with equal-length lists "
                             f"(got {shown(table)})")
        columns = {k: _axis_values(k, v, where, kind, allowed, trainers, folder, unique=False)
                   for k, v in table.items()}
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise StudyError(f"{where}: [zip.{group}] lists must have equal lengths (got "
                             + ", ".join(f"{k}: {n}" for k, n in lengths.items()) + ")")
        rows = [json.dumps(row, sort_keys=True) for row in zip(*columns.values())]
        if len(set(rows)) != len(rows):
            raise StudyError(f"{where}: [zip.{group}] lists the same combination of values twice")
        for k in columns:
            if k in seen:
                raise StudyError(f"{where}: key {k!r} is varied twice (in [axes] or another [zip] group)")
            seen.add(k)
        axes.append((tuple(columns), list(zip(*columns.values()))))
    fixed_settings, fixed_params = _table(raw, "set", where), _table(raw, "params", where)
    for key in seen:
        if key in fixed_settings:
            raise StudyError(f"{where}: key {key!r} is both fixed in [set] and varied by an axis")
        head, _, tail = key.partition(".")
        if isinstance(fixed_params.get(head), dict) and tail in fixed_params[head]:
            raise StudyError(f"{where}: key {key!r} is both fixed in [params.{head}] and varied by an axis")
        if key in FIELDS and key in raw:
            raise StudyError(f"{where}: key {key!r} is both fixed and varied by an axis (keep one)")
    return tuple(axes)


__all__ = ["StudySpec", "load_study_spec", "study_spec_from_dict", "KINDS", "FIELDS", "KIND_FIELDS", "DEFAULTS",
           "RANGES", "axis_kind", "trainer_rules"]
