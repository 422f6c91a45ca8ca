"""RunRecord: everything a training run produced, as versioned JSON.

Same seed and inputs give an identical record apart from wall times. The ledger's raw counts are kept so that a
run can be re-priced under any other profile (:meth:`RunRecord.reprice`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import NeurosimError
from ..ledger import EnergyReport, Ledger, price
from ..profiles import Profile

SCHEMA_VERSION = 1


class RecordError(NeurosimError, ValueError):
    """A run record file is missing, malformed or of an unknown schema version."""


@dataclass(frozen=True)
class EpochRecord:
    """State after one epoch (epoch 0: before training). Counts are cumulative since training began."""

    epoch: int
    steps: int
    train_accuracy: float
    train_loss: float
    test_accuracy: float
    test_loss: float
    writes_total: int
    writes_max_cell: int
    write_density: float
    cells_failed: int
    energy_j: dict[str, float]
    power_w: float | None
    aux_memory_bytes: int
    wall_time_s: float


@dataclass(frozen=True)
class RunRecord:
    """One training run (see the module docstring). Build with :func:`build_record`, read with
    :func:`load_record`."""

    schema_version: int
    package_version: str
    profile: dict[str, Any]
    model: dict[str, Any]
    trainer: dict[str, Any]
    data: dict[str, Any]
    seed: int
    batch_size: int
    steps: int
    epochs: list[EpochRecord]
    aux_memory: dict[str, int]
    lifetime: dict[str, Any]
    memory: dict[str, Any]
    ledger: dict[str, Any]
    programming_ledger: dict[str, Any]
    checkpoints: list[dict[str, float]] = field(default_factory=list)
    run_info: dict[str, Any] = field(default_factory=dict)
    write_map: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> EpochRecord:
        return self.epochs[-1]

    def training_ledger(self) -> Ledger:
        """The training run's raw event counts."""
        return Ledger.from_dict(self.ledger, source="run record")

    def reprice(self, profile: Profile) -> EnergyReport:
        """Energy of this run's events under another profile (same cell levels)."""
        return price(self.training_ledger(), profile)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return _json_safe(d)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            raise RecordError(f"{path}: is a folder; give a file name for the run record")
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(self.to_json())  # written whole, then renamed: never half a file
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise RecordError(f"{path}: cannot write the run record: {exc.strerror or exc}") from None
        return path

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> "RunRecord":
        if not isinstance(data, dict):
            raise RecordError(f"{source}: a run record must be a JSON object")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise RecordError(f"{source}: key 'schema_version' must be {SCHEMA_VERSION} "
                              f"(got {data.get('schema_version')!r})")
        try:
            epochs = [EpochRecord(**e) for e in data["epochs"]]
            fields = {k: data[k] for k in cls.__dataclass_fields__ if k != "epochs" and k in data}
            record = cls(epochs=epochs, **fields)
        except (KeyError, TypeError) as exc:
            raise RecordError(f"{source}: malformed run record ({exc})") from None
        Ledger.from_dict(record.ledger, source=f"{source}: ledger")
        return record


def load_record(path: str | Path) -> RunRecord:
    """Read a run record JSON file (raises :class:`RecordError` naming the file)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordError(f"{path}: cannot read run record: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: not valid JSON: {exc}") from None
    return RunRecord.from_dict(data, source=str(path))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _json_safe(value.item())
    return value


def write_map(chip: Any, start_counts: Any, max_side: int = 96) -> dict[str, Any]:
    """Writes per weight of the largest analog layer since ``start_counts`` (the most written cell of each
    weight), max-pooled to at most ``max_side`` x ``max_side`` blocks: the data of a write heat map."""
    import numpy as np

    delta = np.asarray(chip.memory.write_counts) - np.asarray(start_counts)
    lt = max(chip.mapping.tilings, key=lambda t: t.fan_in * t.fan_out)
    per_weight = delta[lt.cell_index].reshape(lt.fan_in, lt.fan_out, -1).max(axis=2)
    bi, bj = -(-lt.fan_in // max_side), -(-lt.fan_out // max_side)
    rows, cols = -(-lt.fan_in // bi), -(-lt.fan_out // bj)
    padded = np.zeros((rows * bi, cols * bj), dtype=np.int64)
    padded[: lt.fan_in, : lt.fan_out] = per_weight
    pooled = padded.reshape(rows, bi, cols, bj).max(axis=(1, 3))
    return {"layer": lt.layer, "shape": [lt.fan_in, lt.fan_out], "block": [bi, bj], "values": pooled.tolist()}


def build_record(*, chip: Any, trainer: Any, data: Any, seed: int, batch_size: int, epochs: list[EpochRecord],
                 training_ledger: Ledger, steps: int, aux: dict[str, int], checkpoints: list[dict[str, float]],
                 run_info: dict[str, Any], start_counts: Any = None,
                 first_failure_step: int | None = None) -> RunRecord:
    """Assemble the record of a finished run (called by the training loops). ``start_counts`` are the cells'
    write counts when the run began, so that wear and lifetime count the run's own writes only."""
    summary = chip.memory.summary(steps=max(steps, 1))
    lifetime = chip.memory.lifetime(steps=max(steps, 1), since=start_counts, first_failure_step=first_failure_step)
    model = chip.model
    return RunRecord(
        schema_version=SCHEMA_VERSION, package_version=__version__,
        profile={"name": chip.profile.name, "content_hash": chip.profile.content_hash},
        model={"name": model.name, "spec": run_info.get("model_spec", model.name), "n_weights": model.n_weights,
               "cells": chip.memory.n_cells, "tiles": chip.mapping.n_tiles},
        trainer={"name": trainer.name, "params": _json_safe(trainer.get_params())},
        data={"name": data.name, "n_train": int(len(data.x_train)), "n_test": int(len(data.x_test))},
        seed=int(seed), batch_size=int(batch_size), steps=int(steps), epochs=epochs, aux_memory=dict(aux),
        lifetime=lifetime.to_dict(),
        memory={"writes_total": training_ledger.writes_total, "writes_max_cell": epochs[-1].writes_max_cell,
                "cells_failed": summary.cells_failed,
                "cells_faulty_at_manufacture": summary.cells_faulty_at_manufacture},
        ledger=training_ledger.to_dict(), programming_ledger=chip.programming_ledger.to_dict(),
        checkpoints=checkpoints, run_info={k: v for k, v in run_info.items() if k != "model_spec"},
        write_map=write_map(chip, start_counts) if start_counts is not None else {})
