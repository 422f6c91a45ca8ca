"""Compare on-chip trainers on one profile, data set and scenario, with the same seeds: the package's main job.

A comparison is a study over trainers and seeds (:mod:`neurosim.experiments.sweep`): its points run on local worker
processes (or a Dask cluster), land in the folder's store as they finish (each record is also saved as JSON right
away), and a rerun of the same command resumes; an interrupted comparison keeps every finished trainer's record.

Two settings:

- *from scratch* (no scenario): every trainer starts from the same fresh seeded model (or the same shipped model)
  and trains for ``epochs`` epochs;
- *online adaptation* (a :class:`~neurosim.data.streams.Scenario`): a model is pre-trained on the host on the
  scenario's pre-training part, mapped onto the chip, and every trainer adapts the same chip state to the shifted
  stream in one pass while the memory drifts.

Outputs in the folder: one :class:`~neurosim.record.RunRecord` JSON per run (``TRAINER.json``, or
``TRAINER_seedN.json`` with several seeds), ``summary.csv`` (one row per run), with several seeds
``summary_over_seeds.csv`` (mean and 95 % confidence interval per trainer), and plots drawn from the records only
(:mod:`neurosim.plots.compare`; with several seeds, means with error bars).
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.streams import Scenario
from ..errors import NeurosimError
from ..plots.compare import plot_comparison
from ..profiles import DEFAULT_PROFILE, Profile
from ..record import CSV_COLUMNS, RunRecord, format_table, summary_rows
from ..record._files import save_json
from ..record.table import DEFAULT_SAMPLE_RATE_HZ, format_life_table, format_table_over_seeds, summary_rows_over_seeds
from .points import COMPARE_SOURCE, Point, expand
from .report import context_line
from .spec import StudySpec
from .store import StudyStore
from .sweep import SweepOutcome, run_study

REPORT = "compare"


@dataclass
class CompareSpec:
    """What to compare (defaults: the main job on the bundled digits data).

    ``seed`` is the first seed; ``seeds`` runs ``seed, seed + 1, ...``. ``batch_size`` applies to every trainer
    (default: each trainer's own); ``batch_sizes`` overrides it per trainer.
    """

    trainers: list[str]
    profile: str | Profile = DEFAULT_PROFILE
    data: str = "digits"
    model: str = "64-64-10"
    epochs: int = 10
    seed: int = 0
    weight_bits: int = 2
    scenario: Scenario | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_sizes: dict[str, int] = field(default_factory=dict)
    pretrain_epochs: int = 10
    seeds: int = 1
    batch_size: int | None = None
    write_budget: int | None = None
    stream: int | None = None
    endurance_scale: float = 1.0
    min_accuracy: float | None = None
    stop_failed: float | None = None


@dataclass
class CompareResult:
    """The records of a comparison (trainer order, then seeds) and what the run of its study did."""

    records: list[RunRecord]
    outcome: SweepOutcome


def compare_study(spec: CompareSpec) -> StudySpec:
    """The study a comparison runs: trainers x seeds of one kind (``train``, or ``adapt`` with a scenario)."""
    if not spec.trainers:
        raise NeurosimError("compare needs at least one trainer")
    if spec.seeds < 1:
        raise NeurosimError(f"compare --seeds must be >= 1 (got {spec.seeds})")
    fixed: dict[str, Any] = {"profile": spec.profile, "model": spec.model, "data": spec.data,
                             "batch_size": spec.batch_size, "weight_bits": spec.weight_bits}
    if spec.write_budget is not None:
        fixed["write_budget"] = spec.write_budget
    continual = {"stream": spec.stream, "endurance_scale": spec.endurance_scale, "min_accuracy": spec.min_accuracy,
                 "stop_failed": spec.stop_failed}
    if spec.scenario is None:
        given = [k for k, v in continual.items() if v is not None and not (k == "endurance_scale" and v == 1.0)]
        if given:
            raise NeurosimError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to online "
                                "adaptation: give a scenario (--scenario)")
        kind = "train"
        fixed["epochs"] = spec.epochs
    else:
        if spec.stream is None and any(v is not None for k, v in continual.items() if k in ("min_accuracy",
                                                                                          "stop_failed")):
            raise NeurosimError("min_accuracy and stop_failed are rules of a continual stream: give --stream N")
        fixed.update({k: v for k, v in continual.items() if v is not None})
        kind = "adapt"
        s = spec.scenario
        if s.seed != spec.seed:
            raise NeurosimError(f"a comparison's scenario is seeded by the comparison (seed {spec.seed}), not by "
                                f"its own seed {s.seed}")
        fixed.update({"scenario": s.shift, "analog_drift": s.analog_drift, "digital_drift": s.digital_drift,
                      "pretrain_epochs": spec.pretrain_epochs, "strength": s.strength,
                      "pretrain_range": _listed(s.pretrain), "stream_range": _listed(s.stream),
                      "test_range": _listed(s.test)})
    params = {t: dict(v) for t, v in spec.params.items()}
    for trainer, batch in spec.batch_sizes.items():
        params.setdefault(trainer, {})["batch_size"] = batch
    for trainer in params:
        if trainer not in spec.trainers:
            raise NeurosimError(f"parameters given for trainer {trainer!r}, which is not compared "
                                f"({', '.join(spec.trainers)})")
    return StudySpec(name="compare", kind=kind, fixed=fixed, seeds=tuple(range(spec.seed, spec.seed + spec.seeds)),
                     trainers=tuple(spec.trainers), params=params, source=COMPARE_SOURCE)


def _listed(pair: tuple[int, int] | None) -> list[int] | None:
    return None if pair is None else [int(pair[0]), int(pair[1])]


def run_compare(spec: CompareSpec, out_dir: str | Path | None = None, progress: bool = True, *,
                workers: int | None = None, scheduler: str | None = None) -> list[RunRecord]:
    """Run every trainer of ``spec`` (every seed); write records, CSV and plots to ``out_dir`` when given (a
    temporary folder holds the store otherwise). Returns the records, trainers in order, then seeds.

    Raises
    ------
    NeurosimError
        Before any work for bad settings; after the run, naming every point that failed.
    """
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="neurosim_compare_") as tmp:
            return run_compare(spec, Path(tmp) / "study", progress, workers=workers, scheduler=scheduler)
    result = compare(spec, out_dir, progress=progress, workers=workers, scheduler=scheduler)
    failed = [p for p in result.outcome.points if p.status == "failed"]
    if failed:
        raise NeurosimError("; ".join(f"{p.axes.get('trainer')} (seed {p.seed}): {(p.error or '').splitlines()[0]}"
                                      for p in failed))
    return result.records


def compare(spec: CompareSpec, out_dir: str | Path, *, progress: bool = True, workers: int | None = None,
            scheduler: str | None = None, retry_failed: bool = False, command: str = "",
            sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ) -> CompareResult:
    """Run a comparison as a study into ``out_dir`` (resuming one that is there) and write its outputs."""
    study = compare_study(spec)
    points = expand(study)
    out = Path(out_dir)
    multi = spec.seeds > 1

    def save(point: Point, record: dict[str, Any]) -> None:  # each record as soon as it exists
        save_json(RunRecord.from_dict(record, source="compare").to_json(), out / _record_name(point, multi),
                  "run record")

    outcome = run_study(study, out, workers=workers, scheduler=scheduler, retry_failed=retry_failed,
                        progress=progress, command=command, on_done=save, points=points)
    with StudyStore.open(out) as store:
        store.set_meta(report=REPORT, sample_rate_hz=sample_rate_hz)
    records = write_compare_outputs(out)
    return CompareResult(records=records, outcome=outcome)


def _record_name(point: Point, multi_seed: bool) -> str:
    trainer = point.axes["trainer"]
    return f"{trainer}_seed{point.seed}.json" if multi_seed else f"{trainer}.json"


def write_compare_outputs(folder: str | Path, sample_rate_hz: float | None = None) -> list[RunRecord]:
    """From the store only: every finished run's record JSON, ``summary.csv``, ``summary_over_seeds.csv`` (several
    seeds) and the comparison plots. Returns the records (trainers in order, then seeds)."""
    folder = Path(folder)
    with StudyStore.open(folder) as store:
        points = [p for p in store.points() if p.status == "done"]
        records = [RunRecord.from_dict(store.record(p.key), source=f"{folder}: point {p.key[:12]}") for p in points]
        context = context_line(store, store.points())
        if sample_rate_hz is None:
            sample_rate_hz = store.meta("sample_rate_hz") or DEFAULT_SAMPLE_RATE_HZ
    if not records:
        return []
    seeds = sorted({r.seed for r in records})
    for r in records:
        r.save(folder / (f"{r.trainer['name']}_seed{r.seed}.json" if len(seeds) > 1 else f"{r.trainer['name']}.json"))
    save_json(_csv([{"seed": r.seed, **row} for r, row in zip(records, summary_rows(records, sample_rate_hz))],
                   ["trainer", "seed"] + CSV_COLUMNS[1:]), folder / "summary.csv", "summary table")
    if len(seeds) > 1:
        rows = summary_rows_over_seeds(records, sample_rate_hz)
        save_json(_csv(rows, list(rows[0])), folder / "summary_over_seeds.csv", "summary table")
    plot_comparison(records, folder, context=context)
    return records


def format_comparison(records: list[RunRecord], sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ) -> str:
    """The comparison table: one row per run, or with several seeds one row per trainer (mean +- 95 % CI)."""
    table = (format_table_over_seeds(records, sample_rate_hz) if len({r.seed for r in records}) > 1
             else format_table(records, sample_rate_hz))
    life = format_life_table(records, sample_rate_hz)
    return table + ("\n\n" + life if life else "")


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


__all__ = ["CompareSpec", "CompareResult", "compare", "compare_study", "run_compare", "write_compare_outputs",
           "format_comparison", "format_table", "summary_rows", "CSV_COLUMNS"]
