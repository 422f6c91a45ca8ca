"""What inference on a chip costs, as a report that keeps counts: energy by category, latency, throughput, power,
utilisation.

The report holds the inference events (programming and any later writes excluded), the embedded pricing profile
and the mapping's report; every energy, time and power figure is priced from the counts when read, and
:meth:`InferenceReport.reprice` is exact for a profile that differs only in prices.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import LedgerError
from ..ledger import EnergyReport, Ledger, price, stage_times
from ..mapping.mapper import MappingReport
from ..profiles import Profile
from ._files import RecordError, json_safe, profile_entry, profile_of, save_json

REPORT_SCHEMA = "neurosim.inference/1"


@dataclass(frozen=True)
class InferenceReport:
    """Inference figures of a chip, priced from its counts when read.

    Attributes
    ----------
    profile : dict
        The pricing profile (name, content hash, every value).
    model, executor : str
        The model's name and the executor that ran it.
    samples : int
        Inferences run.
    accuracy, reference_accuracy : float or None
        On the chip, and of the model's exact (float) forward pass.
    ledger : dict
        Inference events only (:meth:`neurosim.Ledger.to_dict`).
    mapping : MappingReport
    executor_options : dict
        The executor's settings (timesteps of spiking execution, activation levels of lookup tables...).
    """

    profile: dict[str, Any]
    model: str
    executor: str
    samples: int
    accuracy: float | None
    reference_accuracy: float | None
    ledger: dict[str, Any] = field(repr=False)
    mapping: MappingReport = field(repr=False)
    executor_options: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------------ pricing
    def pricing_profile(self) -> Profile:
        return profile_of(self.profile, "inference report")

    def counts(self) -> Ledger:
        """The inference events as a ledger."""
        try:
            return Ledger.from_dict(self.ledger, source="inference report: ledger")
        except LedgerError as exc:
            raise RecordError(str(exc)) from None

    def energy(self) -> EnergyReport:
        """Energy and time of all the inferences, priced now."""
        return price(self.counts(), self.pricing_profile())

    @property
    def energy_per_inference_j(self) -> dict[str, float]:
        """Joules per inference by category."""
        n = max(self.samples, 1)
        return {k: v / n for k, v in self.energy().energy_j.items()}

    @property
    def total_energy_per_inference_j(self) -> float:
        return math.fsum(self.energy_per_inference_j.values())

    @property
    def latency_s(self) -> float:
        """Seconds for one sample through the pipeline (first input to its logits): the sum of its stages."""
        return sum(stage_times(self.counts(), self.pricing_profile()).values())

    @property
    def time_s(self) -> float:
        """Simulated time of all inferences (layers pipelined)."""
        return self.energy().total_time_s

    @property
    def throughput_per_s(self) -> float:
        return self.samples / self.time_s if self.time_s > 0 else 0.0

    @property
    def power_w(self) -> float:
        """Energy over simulated time (0 before any inference)."""
        return self.energy().power_w if self.samples else 0.0

    @property
    def operations(self) -> int:
        """Operations the network asked for: 2 per multiply-accumulate."""
        return 2 * int(self.ledger["counts"]["macs"])

    @property
    def areas_m2(self) -> dict[str, Any]:
        """Silicon area under the report's profile (see :meth:`MappingReport.areas_m2`)."""
        return self.mapping.areas_m2(self.pricing_profile().costs)

    @property
    def tops_per_w(self) -> float:
        """Energy efficiency: tera-operations per joule (= TOPS per watt)."""
        energy = self.energy().total_energy_j
        return self.operations / energy / 1e12 if energy > 0 else 0.0

    @property
    def tops_per_mm2(self) -> float:
        """Area efficiency: tera-operations per second per mm^2 of the cores in use."""
        time, area_mm2 = self.time_s, self.areas_m2["cores_in_use"] * 1e6
        return self.operations / time / 1e12 / area_mm2 if time > 0 and area_mm2 > 0 else 0.0

    def reprice(self, profile: Profile) -> InferenceReport:
        """The same inferences priced under ``profile`` (exact; refuses a structurally different profile, naming
        the first differing key)."""
        mine = self.pricing_profile()
        key = mine.first_structural_difference(profile)
        if key is not None:
            raise RecordError(f"cannot re-price inference on profile {mine.name!r} under {profile.name!r}: key "
                              f"{key!r} differs and changes what is simulated; run the inference again")
        return replace(self, profile=profile_entry(profile), mapping=replace(self.mapping, profile=profile.name))

    # ------------------------------------------------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        """Counts and, for convenience, the figures priced under the report's profile."""
        power = self.power_w
        return json_safe({
            "schema": REPORT_SCHEMA, "profile": self.profile, "model": self.model, "executor": self.executor,
            "executor_options": self.executor_options, "samples": self.samples, "accuracy": self.accuracy,
            "reference_accuracy": self.reference_accuracy,
            "energy_per_inference_j": dict(self.energy_per_inference_j),
            "total_energy_per_inference_j": self.total_energy_per_inference_j, "latency_s": self.latency_s,
            "time_s": self.time_s, "throughput_per_s": self.throughput_per_s,
            "power_w": None if math.isnan(power) else power, "operations": self.operations,
            "tops_per_w": self.tops_per_w, "tops_per_mm2": self.tops_per_mm2,
            "area_mm2": {"cores_in_use": self.areas_m2["cores_in_use"] * 1e6, "chip": self.areas_m2["chip"] * 1e6},
            "ledger": self.ledger, "mapping": self.mapping.to_dict()})

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> InferenceReport:
        """Rebuild a report saved by :meth:`to_dict` (the priced convenience figures are recomputed, not read);
        raises :class:`RecordError` naming what is wrong."""
        if not isinstance(data, dict):
            raise RecordError(f"{source}: an inference report must be a JSON object")
        if data.get("schema") != REPORT_SCHEMA:
            raise RecordError(f"{source}: key 'schema' must be {REPORT_SCHEMA!r} (got {data.get('schema')!r})")
        missing = [k for k in ("profile", "model", "executor", "samples", "accuracy", "reference_accuracy",
                               "ledger", "mapping") if k not in data]
        if missing:
            raise RecordError(f"{source}: missing key {missing[0]!r}")
        try:
            mapping = MappingReport.from_dict(data["mapping"])
        except (KeyError, TypeError) as exc:
            raise RecordError(f"{source}: key 'mapping' is malformed ({exc})") from None
        report = cls(profile=data["profile"], model=data["model"], executor=data["executor"],
                     samples=data["samples"], accuracy=data["accuracy"],
                     reference_accuracy=data["reference_accuracy"], ledger=data["ledger"], mapping=mapping,
                     executor_options=dict(data.get("executor_options") or {}))
        report.pricing_profile()
        report.counts()
        return report

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON (whole, then renamed)."""
        return save_json(json.dumps(self.to_dict(), indent=2, allow_nan=False), path, "inference report")

    def format(self) -> str:
        name = self.profile["name"]
        options = "".join(f", {k} {v}" for k, v in self.executor_options.items())
        lines = [f"model {self.model} on {name}: {self.samples} inferences"
                 + ("" if self.executor == "analog" else f" ({self.executor} executor{options})")]
        if self.accuracy is not None:
            ref = f" (reference ternary model {100 * self.reference_accuracy:.2f} %)" \
                if self.reference_accuracy is not None else ""
            lines.append(f"accuracy            {100 * self.accuracy:.2f} %{ref}")
        per = self.energy_per_inference_j
        total = math.fsum(per.values())
        lines.append(f"energy / inference  {total:.4e} J")
        for cat, e in per.items():
            if e > 0:
                lines.append(f"  {cat:<17} {e:.4e} J  {100 * e / total:5.1f} %")
        lines.append(f"latency             {self.latency_s:.4e} s per inference (pipeline fill)")
        lines.append(f"throughput          {self.throughput_per_s:.4e} inferences/s (layers pipelined)")
        lines.append(f"power               {self.power_w:.4e} W")
        m = self.mapping
        util = m.cells_used / m.cells_allocated if m.cells_allocated else 0.0
        lines.append(f"utilisation         {100 * util:.1f} % of {m.cells_allocated:,} cells in "
                     f"{sum(r.tiles for r in m.layers)} tiles on {m.cores_used} cores")
        areas = self.areas_m2
        lines.append(f"area                {areas['cores_in_use'] * 1e6:.4f} mm2 in the cores in use "
                     f"(whole chip {areas['chip'] * 1e6:.3f} mm2)")
        lines.append(f"efficiency          {self.tops_per_w:.3f} TOPS/W, {self.tops_per_mm2:.4f} TOPS/mm2 "
                     f"({self.operations / max(self.samples, 1):,.0f} operations per inference)")
        return "\n".join(lines)


__all__ = ["InferenceReport", "REPORT_SCHEMA"]
