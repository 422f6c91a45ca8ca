"""What one inference costs on the chip: energy by category, latency, throughput, power, utilisation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..ledger import price
from ..mapping.mapper import MappingReport

if TYPE_CHECKING:  # pragma: no cover
    from .chip import Chip


@dataclass(frozen=True)
class InferenceReport:
    """Inference figures of a chip, priced from its ledger (programming events excluded).

    Attributes
    ----------
    samples : int
        Inferences run.
    energy_per_inference_j : dict of str to float
        Joules per inference by category.
    latency_s : float
        One sample through the pipeline.
    time_s : float
        Simulated time of all inferences (pipelined).
    power_w : float
        Energy over simulated time.
    """

    profile: str
    model: str
    samples: int
    accuracy: float | None
    reference_accuracy: float | None
    energy_per_inference_j: dict[str, float]
    latency_s: float
    time_s: float
    power_w: float
    mapping: MappingReport

    @classmethod
    def of(cls, chip: "Chip", accuracy: float | None = None,
           reference_accuracy: float | None = None) -> "InferenceReport":
        inference = chip.ledger - chip.programming_ledger
        # writes made after programming (e.g. training) are not inference: keep them out of this report
        inference.cell_writes[:] = 0
        inference.counts["write_verify_reads"] = 0
        for k in ("write_set", "write_reset", "write_verify"):
            inference.steps[k] = 0
        priced = price(inference, chip.profile)
        n = max(chip.inferences, 1)
        return cls(profile=chip.profile.name, model=chip.model.name, samples=chip.inferences, accuracy=accuracy,
                   reference_accuracy=reference_accuracy,
                   energy_per_inference_j={k: v / n for k, v in priced.energy_j.items()},
                   latency_s=chip.latency_s, time_s=priced.total_time_s,
                   power_w=priced.power_w if chip.inferences else 0.0, mapping=chip.mapping.report())

    @property
    def total_energy_per_inference_j(self) -> float:
        return math.fsum(self.energy_per_inference_j.values())

    @property
    def throughput_per_s(self) -> float:
        return self.samples / self.time_s if self.time_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "model": self.model, "samples": self.samples, "accuracy": self.accuracy,
                "reference_accuracy": self.reference_accuracy,
                "energy_per_inference_j": dict(self.energy_per_inference_j),
                "total_energy_per_inference_j": self.total_energy_per_inference_j, "latency_s": self.latency_s,
                "time_s": self.time_s, "throughput_per_s": self.throughput_per_s,
                "power_w": None if math.isnan(self.power_w) else self.power_w, "mapping": self.mapping.to_dict()}

    def format(self) -> str:
        lines = [f"model {self.model} on {self.profile}: {self.samples} inferences"]
        if self.accuracy is not None:
            ref = f" (reference ternary model {100 * self.reference_accuracy:.2f} %)" \
                if self.reference_accuracy is not None else ""
            lines.append(f"accuracy            {100 * self.accuracy:.2f} %{ref}")
        total = self.total_energy_per_inference_j
        lines.append(f"energy / inference  {total:.4e} J")
        for cat, e in self.energy_per_inference_j.items():
            if e > 0:
                lines.append(f"  {cat:<17} {e:.4e} J  {100 * e / total:5.1f} %")
        lines.append(f"latency             {self.latency_s:.4e} s per inference (pipeline fill)")
        lines.append(f"throughput          {self.throughput_per_s:.4e} inferences/s (layers pipelined)")
        lines.append(f"power               {self.power_w:.4e} W")
        util = self.mapping.cells_used / self.mapping.cells_allocated if self.mapping.cells_allocated else 0.0
        lines.append(f"utilisation         {100 * util:.1f} % of {self.mapping.cells_allocated:,} cells in "
                     f"{sum(r.tiles for r in self.mapping.layers)} tiles on {self.mapping.cores_used} cores")
        return "\n".join(lines)
