"""Run to failure: when a chip that keeps learning from a stream stops being useful.

A continual stream repeats the scenario's shifted stream until a stop rule ends it. Along it the record keeps three
times, in stream samples (and, at a stated sample rate, in seconds):

- *first failure*: the update step whose writes wore out the first cell;
- *1 % failed*: the step at which 1 % of the chip's cells (every cell of the tiles in use, spare rows included)
  have worn out;
- *end of useful life*: the first evaluation at which the accuracy on a held-out window of the shifted test part
  falls below the threshold, read as the mean of ``smoothing`` consecutive evaluations (one low evaluation can be
  noise; the time is that of the last of them). The threshold is ``min_accuracy`` when given, else ``drop`` below
  the best such mean so far (the chip fell that far from the best it did).

*Accelerated tests.* Cells last ``device.endurance_cycles`` writes; a run that wears them out in minutes scales
that median by ``endurance_scale`` (e.g. 1e-4) and converts back: at unchanged write rates a cell with ``1/scale``
times the endurance lasts ``1/scale`` times as many samples, so every time in the record is the simulated number of
samples divided by the scale (first order: it ignores that wear-dependent behaviour, e.g. a trainer reacting to
failed cells, may unfold differently over the longer time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._fields import Rule
from ..profiles import Profile
from .params import TrainingError

_RULES = {
    "min_accuracy": Rule("float", "held-out window accuracy below which the chip is no longer useful (fraction)",
                         lo=0, hi=1),
    "drop": Rule("float", "end of useful life this far below the best window accuracy so far (fraction; used "
                 "when min_accuracy is not given)", lo=0, hi=1),
    "failed_fraction": Rule("float", "also stop when this fraction of the chip's cells has worn out", lo=0, hi=1,
                            lo_open=True),
    "window": Rule("int", "held-out samples (of the shifted test part) the accuracy rule is evaluated on", lo=1),
    "evaluations": Rule("int", "evaluations of the window along the stream", lo=2),
    "smoothing": Rule("int", "the rule reads the mean of this many consecutive evaluations (one low evaluation "
                      "can be noise)", lo=1),
    "endurance_scale": Rule("float", "factor the profile's endurance was scaled by (times are divided by it)",
                            lo=0, hi=1, lo_open=True),
}


@dataclass(frozen=True)
class UsefulLife:
    """The stop rules of a continual stream, and how its times convert to the real chip (see the module
    docstring)."""

    min_accuracy: float | None = None
    drop: float = 0.05
    failed_fraction: float | None = None
    window: int = 2000
    evaluations: int = 60
    smoothing: int = 3
    endurance_scale: float = 1.0

    def __post_init__(self) -> None:
        for name, rule in _RULES.items():
            value = getattr(self, name)
            if value is None and name in ("min_accuracy", "failed_fraction"):
                continue
            checked, problem = rule.check(value)
            if problem is not None:
                raise TrainingError(f"useful-life rule {name!r} {problem} (got {value!r})")
            object.__setattr__(self, name, checked)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _RULES}


def scaled_endurance(profile: Profile, scale: float) -> Profile:
    """``profile`` with its median endurance scaled by ``scale`` for an accelerated test (raises
    :class:`~neurosim.errors.ProfileError` naming the key when the scaled endurance falls below one write)."""
    return profile.replace({"device.endurance_cycles": profile.device.endurance_cycles * scale})


class LifeTracker:
    """Follows a continual stream: failures, window accuracy, the threshold and the end of useful life."""

    def __init__(self, rule: UsefulLife, n_cells: int):
        self.rule = rule
        self.n_cells = n_cells
        self.cells_1pct = max(1, math.ceil(0.01 * n_cells))
        self.first_failure: int | None = None
        self.one_percent: int | None = None
        self.end_of_life: int | None = None
        self.failed_stop: int | None = None
        self.threshold = rule.min_accuracy
        self._best = -1.0
        self.timeline: list[dict[str, Any]] = []

    def after_step(self, samples: int, failed: int) -> bool:
        """Note the cells failed after ``samples`` stream samples; True when the failed-cell rule stops the run."""
        if failed and self.first_failure is None:
            self.first_failure = samples
        if failed >= self.cells_1pct and self.one_percent is None:
            self.one_percent = samples
        frac = self.rule.failed_fraction
        if frac is not None and failed >= frac * self.n_cells and self.failed_stop is None:
            self.failed_stop = samples
            return True
        return False

    def evaluated(self, samples: int, accuracy: float, failed: int, writes: int) -> bool:
        """Note a window evaluation; True when the accuracy rule ends the chip's useful life."""
        self.timeline.append({"samples": samples, "window_accuracy": accuracy, "cells_failed": failed,
                              "writes_total": writes})
        recent = [p["window_accuracy"] for p in self.timeline[-self.rule.smoothing:]]
        smoothed = sum(recent) / len(recent)
        if self.rule.min_accuracy is None:  # relative rule: below the best (smoothed) accuracy so far by ``drop``
            if len(recent) == self.rule.smoothing:
                self._best = max(self._best, smoothed)
            if self._best < 0:
                return False
            self.threshold = self._best - self.rule.drop
        if len(recent) == self.rule.smoothing and smoothed < self.threshold:
            self.end_of_life = samples
            return True
        return False

    def summary(self, samples_run: int, sample_rate_hz: float | None = None) -> dict[str, Any]:
        """The times (simulated samples, and converted back by the endurance scale), the rule and the timeline."""
        scale = self.rule.endurance_scale
        end = self.end_of_life if self.end_of_life is not None else samples_run
        life_points = [p["window_accuracy"] for p in self.timeline if p["samples"] <= end]
        out: dict[str, Any] = {
            "rule": self.rule.to_dict(), "threshold": self.threshold, "samples_run": samples_run,
            "simulated_samples_to": {"first_failure": self.first_failure, "one_percent_failed": self.one_percent,
                                     "end_of_life": self.end_of_life, "failed_fraction_stop": self.failed_stop},
            "samples_to": {k: None if v is None else v / scale
                           for k, v in (("first_failure", self.first_failure),
                                        ("one_percent_failed", self.one_percent),
                                        ("end_of_life", self.end_of_life))},
            "accuracy_over_life": sum(life_points) / len(life_points) if life_points else None,
            "conversion": (f"simulated with device.endurance_cycles x {scale:g}; times are simulated samples / "
                           f"{scale:g} (write rates unchanged)" if scale != 1 else "endurance as profiled"),
            "timeline": list(self.timeline)}
        return out


__all__ = ["UsefulLife", "LifeTracker", "scaled_endurance"]
