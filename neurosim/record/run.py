"""RunRecord: everything a training run produced, as versioned JSON, with its event counts.

A record keeps *counts*, never priced figures: every epoch and checkpoint carries the ledger counts since the run
began, and the record embeds its pricing profile (every value). Energies, power and time are priced from those
counts when asked (:meth:`RunRecord.energy`), so :meth:`RunRecord.reprice` under a profile that differs only in
prices gives exactly the record that re-simulating under that profile gives, and refuses a profile whose
structure differs (naming the first differing key). Same seed and inputs give an identical record apart from
wall times.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import LedgerError
from ..ledger import EnergyReport, Ledger, price
from ..profiles import Profile
from ._files import RecordError, check_keys, json_safe, profile_entry, profile_of, read_json, save_json

SCHEMA_VERSION = 2


def _ledger(data: Any, source: str) -> Ledger:
    try:
        return Ledger.from_dict(data, source=source)
    except LedgerError as exc:
        raise RecordError(str(exc)) from None


@dataclass(frozen=True)
class EpochRecord:
    """State after one epoch (epoch 0: before training). Counts are cumulative since training began.

    Attributes
    ----------
    ledger : dict
        The run's event counts up to this point (:meth:`neurosim.Ledger.to_dict`); priced by :meth:`energy`.
    """

    epoch: int
    steps: int
    train_accuracy: float | None
    train_loss: float | None
    test_accuracy: float | None
    test_loss: float | None
    writes_total: int
    writes_max_cell: int
    write_density: float
    cells_failed: int
    aux_memory_bytes: int
    wall_time_s: float
    ledger: dict[str, Any] = field(repr=False)

    def energy(self, profile: Profile) -> EnergyReport:
        """This epoch's cumulative energy and time priced under ``profile``."""
        return price(_ledger(self.ledger, f"epoch {self.epoch}: ledger"), profile)


@dataclass(frozen=True)
class Checkpoint:
    """An evaluation point along a run (every ``steps_per_eval`` steps, or along an online stream)."""

    step: int
    samples: int | None
    wall_time_s: float
    test_accuracy: float | None
    writes_total: int
    ledger: dict[str, Any] = field(repr=False)
    #: online runs: prequential accuracy of the stream so far (each sample predicted by the chip before the update
    #: it takes part in, as Gural et al. 2020 score online training); None for offline training
    online_accuracy: float | None = None

    def energy(self, profile: Profile) -> EnergyReport:
        """The run's cumulative energy and time at this point, priced under ``profile``."""
        return price(_ledger(self.ledger, f"checkpoint {self.step}: ledger"), profile)


@dataclass(frozen=True)
class RunRecord:
    """One training run (see the module docstring). Built by the training loop, read with :func:`load_record`."""

    schema_version: int
    package_version: str
    profile: dict[str, Any]
    executor: str
    model: dict[str, Any]
    trainer: dict[str, Any]
    data: dict[str, Any]
    seed: int
    batch_size: int
    steps: int
    epochs: list[EpochRecord]
    checkpoints: list[Checkpoint]
    aux_memory: dict[str, int]
    lifetime: dict[str, Any]
    memory: dict[str, Any]
    ledger: dict[str, Any]
    programming_ledger: dict[str, Any]
    run_info: dict[str, Any] = field(default_factory=dict)
    write_map: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> EpochRecord:
        return self.epochs[-1]

    @property
    def online_accuracy(self) -> float | None:
        """Online runs: prequential accuracy over the whole stream (each sample predicted by the chip before the
        update it takes part in); None for offline training."""
        return self.checkpoints[-1].online_accuracy if self.checkpoints else None

    # ------------------------------------------------------------------------------------------------ pricing
    def pricing_profile(self) -> Profile:
        """The profile this record is priced under (embedded, so no file is needed)."""
        return profile_of(self.profile, "run record")

    def training_ledger(self) -> Ledger:
        """The training run's raw event counts."""
        return _ledger(self.ledger, "run record: ledger")

    def energy(self, epoch: int = -1) -> EnergyReport:
        """Energy, time and power of the run up to the end of ``epoch`` (default: the last), priced now from its
        counts under the record's profile."""
        return self.epochs[epoch].energy(self.pricing_profile())

    def reprice(self, profile: Profile) -> RunRecord:
        """This run priced under ``profile``: the same counts, the new prices.

        Exact: for a profile that differs from the record's only in prices and labels (energies, latencies, the
        clock, write parallelism; see ``ROLES`` in :mod:`neurosim.profiles.schema`) the result equals the record
        of re-simulating the run under ``profile`` (wall times aside).

        Raises
        ------
        RecordError
            When ``profile`` changes what is simulated (levels, geometry, encoding, converters, noise, faults...),
            naming the first differing key: such a run must be simulated again.
        """
        mine = self.pricing_profile()
        key = mine.first_structural_difference(profile)
        if key is not None:
            ours, theirs = (_file_value(p, key) for p in (mine, profile))
            raise RecordError(f"cannot re-price a run made on profile {mine.name!r} under {profile.name!r}: key "
                              f"{key!r} differs ({ours!r} vs {theirs!r}) and changes what is simulated, not only "
                              "what it costs; simulate the run again under that profile")
        return replace(self, profile=profile_entry(profile))

    # ------------------------------------------------------------------------------------------------- saving
    def to_dict(self) -> dict[str, Any]:
        # field by field rather than dataclasses.asdict, which deep-copies every ledger first (4x slower here)
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("epochs", "checkpoints"):
            data[key] = [{f.name: getattr(e, f.name) for f in fields(e)} for e in data[key]]
        return json_safe(data)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (whole, then renamed: never half a file)."""
        return save_json(self.to_json(), path, "run record")

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> RunRecord:
        """Rebuild a record saved by :meth:`to_dict`; raises :class:`RecordError` naming what is wrong."""
        if not isinstance(data, dict):
            raise RecordError(f"{source}: a run record must be a JSON object")
        version = data.get("schema_version")
        if version == 1:
            raise RecordError(f"{source}: schema_version 1 (neurosim 0.1) stored energies already priced; this "
                              f"version ({__version__}) keeps counts and prices them when shown, and cannot read "
                              "it: run the training again to get a schema 2 record")
        if version != SCHEMA_VERSION:
            raise RecordError(f"{source}: key 'schema_version' must be {SCHEMA_VERSION} (got {version!r})")
        names = tuple(cls.__dataclass_fields__)
        check_keys(data, names[:-2], names[-2:], source)
        epochs = [_typed(EpochRecord, e, f"{source}: epochs[{i}]") for i, e in enumerate(_list(data, "epochs", source))]
        points = [_typed(Checkpoint, c, f"{source}: checkpoints[{i}]")
                  for i, c in enumerate(_list(data, "checkpoints", source))]
        if not epochs:
            raise RecordError(f"{source}: key 'epochs' must hold at least the state before training")
        record = cls(**{**data, "epochs": epochs, "checkpoints": points})
        record.pricing_profile()
        for what, counts in [("ledger", record.ledger), ("programming_ledger", record.programming_ledger)] + [
                (f"epochs[{i}].ledger", e.ledger) for i, e in enumerate(epochs)] + [
                (f"checkpoints[{i}].ledger", c.ledger) for i, c in enumerate(points)]:
            _ledger(counts, f"{source}: {what}")
        return record


def _file_value(profile: Profile, key: str) -> Any:
    section, name = key.split(".")
    return profile.to_dict()[section][name]


def _list(data: dict, key: str, source: str) -> list:
    value = data[key]
    if not isinstance(value, list):
        raise RecordError(f"{source}: key {key!r} must be a list (got {type(value).__name__})")
    return value


#: numeric field annotations of the epoch and checkpoint records -> whether null is allowed
_NUMBERS = {"int": False, "float": False, "int | None": True, "float | None": True}


def _typed(cls: type, data: Any, where: str) -> Any:
    declared = fields(cls)
    required = tuple(f.name for f in declared if f.default is MISSING and f.default_factory is MISSING)
    optional = tuple(f.name for f in declared if f.name not in required)  # added later, with a default
    checked = check_keys(data, required, optional, where)
    for f in declared:  # a figure that is not a number would be shown wrong, or break a table or plot later
        nullable = _NUMBERS.get(str(f.type))
        value = checked.get(f.name)
        if nullable is None or f.name not in checked or (value is None and nullable):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecordError(f"{where}: key {f.name!r} must be a number{' or null' if nullable else ''} "
                              f"(got {value!r})")
    return cls(**checked)


def load_record(path: str | Path) -> RunRecord:
    """Read a run record JSON file (raises :class:`RecordError` naming the file)."""
    return RunRecord.from_dict(read_json(path, "run record"), source=str(path))


__all__ = ["RunRecord", "EpochRecord", "Checkpoint", "load_record", "RecordError", "SCHEMA_VERSION"]
