"""Headline metrics of study points: one declaration each (label, unit, which way is better, which kinds have it),
and how each is read from a point's record.

Every metric is computed from the record by the same code whether the point was simulated or re-priced, and
priced under the record's own profile (counts, then prices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..mapping.mapper import MappingReport
from ..record import InferenceReport, RunRecord, summary_rows
from ..record._files import profile_of


@dataclass(frozen=True)
class Metric:
    """A headline metric: ``label`` names it with its unit; ``better`` is ``"max"`` or ``"min"``."""

    label: str
    better: str
    kinds: tuple[str, ...]
    scale: float = 1.0  # shown value = stored value x scale (e.g. fractions shown as %)
    unit: str = ""
    short: str = ""  # a table's column header (the label when empty)
    missing_is_infinite: bool = False  # no value means "never" (a lifetime with no wear), not "unknown"

    @property
    def header(self) -> str:
        return self.short or self.label


_TRAIN = ("train", "adapt")
METRICS: dict[str, Metric] = {
    # training and online adaptation
    "test_accuracy": Metric("test accuracy (%)", "max", _TRAIN, 100.0, "%", short="test acc %"),
    "test_accuracy_before": Metric("test accuracy before training (%)", "max", _TRAIN, 100.0, "%",
                      short="acc before %"),
    "online_accuracy": Metric("online accuracy over the stream, each sample scored before its update (%)", "max",
                              ("adapt",), 100.0, "%", short="online acc %"),
    "writes_total": Metric("cell writes", "min", _TRAIN, short="writes"),
    "writes_max_cell": Metric("writes of the most-written cell", "min", _TRAIN, short="worst cell"),
    "write_density": Metric("writes per cell per step", "min", _TRAIN, short="density"),
    "cells_failed": Metric("cells worn out (stuck)", "min", _TRAIN, short="failed"),
    "energy_total_j": Metric("training energy (J)", "min", _TRAIN, unit="J", short="energy J"),
    "energy_write_j": Metric("write energy (J)", "min", _TRAIN, unit="J", short="write J"),
    "power_w": Metric("average power (W)", "min", ("train", "adapt", "infer"), unit="W", short="power W"),
    "aux_memory_bytes": Metric("auxiliary memory (bytes)", "min", _TRAIN, unit="B", short="aux bytes"),
    "lifetime_steps": Metric("lifetime (update steps until the first cell wears out)", "max", _TRAIN,
                             short="lifetime steps", missing_is_infinite=True),
    "lifetime_days": Metric("lifetime to the first worn-out cell at 1 training sample/s (days)", "max", _TRAIN,
                            unit="d", short="life d", missing_is_infinite=True),
    "lifetime_1pct_days": Metric("lifetime to 1 % worn-out cells at 1 training sample/s (days)", "max", _TRAIN,
                                 unit="d", short="life 1% d", missing_is_infinite=True),
    "write_density_per_sample": Metric("writes per cell per training sample", "min", _TRAIN,
                                       short="writes/cell/sample"),
    "energy_program_j": Metric("programming energy, write-verify included (J)", "min", _TRAIN, unit="J",
                               short="program J"),
    "average_power_w": Metric("average power at 1 training sample/s (W)", "min", _TRAIN, unit="W",
                              short="avg power W"),
    "wall_time_s": Metric("simulation wall time (s)", "min", _TRAIN, unit="s", short="wall s"),
    # inference
    "accuracy": Metric("accuracy on the chip (%)", "max", ("infer",), 100.0, "%", short="accuracy %"),
    "reference_accuracy": Metric("reference model accuracy (%)", "max", ("infer",), 100.0, "%", short="reference %"),
    "energy_per_inference_j": Metric("energy per inference (J)", "min", ("infer",), unit="J", short="J/inference"),
    "adc_energy_share": Metric("ADC share of inference energy (%)", "min", ("infer",), 100.0, "%", short="ADC %"),
    "latency_s": Metric("latency per inference (s)", "min", ("infer",), unit="s", short="latency s"),
    "throughput_per_s": Metric("throughput (inferences/s)", "max", ("infer",), unit="1/s", short="inferences/s"),
    "tops_per_w": Metric("energy efficiency (TOPS/W)", "max", ("infer",), unit="TOPS/W", short="TOPS/W"),
    "tops_per_mm2": Metric("area efficiency (TOPS/mm2)", "max", ("infer",), unit="TOPS/mm2", short="TOPS/mm2"),
    # mapping (and the area of an inference chip)
    "area_mm2": Metric("area of the cores in use (mm2)", "min", ("map", "infer"), unit="mm2", short="area mm2"),
    "chip_area_mm2": Metric("whole-chip area (mm2)", "min", ("map", "infer"), unit="mm2", short="chip mm2"),
    "tiles": Metric("crossbar tiles", "min", ("map",), short="tiles"),
    "cores_used": Metric("cores in use", "min", ("map",), short="cores"),
    "cell_utilisation": Metric("cells used of cells allocated (%)", "max", ("map",), 100.0, "%", short="util %"),
    "flit_hops": Metric("NoC flit-hops per inference", "min", ("map",), short="flit-hops"),
}

#: The metrics shown first (tables, plots, Pareto fronts) for each kind.
HEADLINE: dict[str, tuple[str, ...]] = {
    "train": ("test_accuracy", "writes_total", "writes_max_cell", "energy_total_j", "lifetime_days",
              "aux_memory_bytes"),
    "adapt": ("test_accuracy", "online_accuracy", "test_accuracy_before", "writes_total", "writes_max_cell",
              "energy_total_j", "lifetime_days"),
    "infer": ("accuracy", "energy_per_inference_j", "latency_s", "area_mm2", "tops_per_w", "tops_per_mm2"),
    "map": ("tiles", "cores_used", "cell_utilisation", "area_mm2", "flit_hops"),
}
#: Pareto pairs (x, y) drawn for each kind.
PARETO: dict[str, tuple[tuple[str, str], ...]] = {
    "train": (("energy_total_j", "test_accuracy"), ("lifetime_days", "test_accuracy"),
              ("writes_total", "test_accuracy")),
    "adapt": (("energy_total_j", "test_accuracy"), ("lifetime_days", "test_accuracy")),
    "infer": (("energy_per_inference_j", "accuracy"), ("area_mm2", "accuracy")),
    "map": (("area_mm2", "flit_hops"),),
}


def load_result(kind: str, record: dict[str, Any]) -> Any:
    """A point's record as its object (:class:`RunRecord`, :class:`InferenceReport`, or the mapping record dict),
    checked; raises :class:`~neurosim.record.RecordError` for a malformed one."""
    if kind in _TRAIN:
        return RunRecord.from_dict(record, source="study point")
    if kind == "infer":
        return InferenceReport.from_dict(record, source="study point")
    if kind == "map":
        return record
    raise ValueError(f"unknown study kind {kind!r}")


def metrics_of(kind: str, record: dict[str, Any]) -> dict[str, float | None]:
    """The headline metrics of a point's record (priced under the record's embedded profile)."""
    return metrics_of_result(kind, load_result(kind, record))


def metrics_of_result(kind: str, result: Any) -> dict[str, float | None]:
    """The headline metrics of a loaded result (see :func:`load_result`)."""
    if kind in _TRAIN:
        row = summary_rows([result])[0]  # at the default sample rate, one training sample a second
        out = {k: _number(row[k]) for k in ("test_accuracy", "test_accuracy_before", "online_accuracy", "writes_total",
                                            "writes_max_cell", "write_density", "write_density_per_sample",
                                            "cells_failed", "energy_total_j", "energy_write_j", "energy_program_j",
                                            "power_w", "average_power_w", "aux_memory_bytes", "lifetime_steps",
                                            "wall_time_s")}
        for key, seconds in (("lifetime_days", row["lifetime_s"]), ("lifetime_1pct_days", row["lifetime_1pct_s"])):
            out[key] = _number(None if seconds is None else seconds / 86400.0)
        return out
    if kind == "infer":
        report = result
        per = report.energy_per_inference_j
        total = math.fsum(per.values())
        areas = report.areas_m2
        return {"accuracy": report.accuracy, "reference_accuracy": report.reference_accuracy,
                "energy_per_inference_j": total, "adc_energy_share": per.get("adc", 0.0) / total if total else None,
                "latency_s": report.latency_s, "throughput_per_s": report.throughput_per_s,
                "power_w": _number(report.power_w), "tops_per_w": report.tops_per_w,
                "tops_per_mm2": report.tops_per_mm2, "area_mm2": areas["cores_in_use"] * 1e6,
                "chip_area_mm2": areas["chip"] * 1e6}
    if kind == "map":
        mapping = MappingReport.from_dict(result["mapping"])
        areas = mapping.areas_m2(profile_of(result["profile"], "study point").costs)
        return {"tiles": sum(r.tiles for r in mapping.layers), "cores_used": mapping.cores_used,
                "cell_utilisation": mapping.cells_used / mapping.cells_allocated if mapping.cells_allocated else None,
                "flit_hops": mapping.flit_hops, "area_mm2": areas["cores_in_use"] * 1e6,
                "chip_area_mm2": areas["chip"] * 1e6}
    raise ValueError(f"unknown study kind {kind!r}")


def reprice_result(kind: str, result: Any, record: dict[str, Any], profile) -> tuple[Any, dict[str, Any]]:
    """A simulated point's result (loaded, and its record dict) priced under ``profile``: the new result and its
    record dict. Exact; refuses a profile that differs in structure, naming the key.

    A run record's dict is the source's with the embedded profile swapped (what :meth:`RunRecord.reprice` does,
    without writing out hundreds of kilobytes of unchanged counts again)."""
    if kind in _TRAIN:
        repriced = result.reprice(profile)
        return repriced, {**record, "profile": repriced.profile}
    if kind == "infer":
        repriced = result.reprice(profile)
        return repriced, repriced.to_dict()
    raise ValueError(f"points of kind {kind!r} are not re-priced")


def reprice_record(kind: str, record: dict[str, Any], profile) -> dict[str, Any]:
    """A simulated point's record priced under ``profile`` (exact; refuses a structural difference by name)."""
    return reprice_result(kind, load_result(kind, record), record, profile)[1]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


__all__ = ["Metric", "METRICS", "HEADLINE", "PARETO", "metrics_of", "metrics_of_result", "load_result",
           "reprice_result", "reprice_record"]
