"""Accuracy over time: a programmed chip read again after its stored conductances have drifted.

``accuracy_over_time(chip, x, y, ["1h", "1d", "1y"])`` lets simulated time pass from the moment of programming to
each point (``Chip.age``), optionally measures and corrects the drift (``Chip.compensate_drift``, global drift
compensation), and runs the test inputs through the chip: accuracy, and the energy of those inferences priced under
the chip's profile.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NeurosimError
from ..record import InferenceReport, profile_entry
from .chip import Chip

_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365.25 * 86400.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|min|m|h|d|w|y)?\s*$")


class AgingError(NeurosimError, ValueError):
    """A duration that cannot be read, or times that do not go forward."""


def parse_duration(text: str) -> float:
    """Seconds in ``"90s"``, ``"15min"``, ``"1h"``, ``"1d"``, ``"2w"``, ``"1y"`` (a bare number is seconds; m and
    min are minutes, y is 365.25 days)."""
    m = _DURATION.match(str(text))
    if not m:
        raise AgingError(f"a duration must be a number with an optional unit s, min, h, d, w or y, e.g. '1h' "
                         f"(got {text!r})")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not math.isfinite(seconds) or seconds > 1e12:
        raise AgingError(f"a duration must be at most 1e12 s (about 31,700 years; got {text!r})")
    return seconds


def parse_durations(text: str) -> list[float]:
    """Comma-separated durations (``"1h,1d,1y"``) in seconds, checked to go forward."""
    times = [parse_duration(t) for t in str(text).split(",") if t.strip()]
    if not times:
        raise AgingError(f"--after takes comma-separated durations such as 1h,1d,1y (got {text!r})")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise AgingError(f"--after durations must increase (got {text!r})")
    return times


def human_duration(seconds: float) -> str:
    """``3600`` -> ``"1 h"`` (the largest unit that divides it well)."""
    for unit, size in (("y", _UNITS["y"]), ("d", _UNITS["d"]), ("h", _UNITS["h"]), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


@dataclass(frozen=True)
class AgingPoint:
    """The chip read ``seconds`` after programming.

    Attributes
    ----------
    seconds : float
    accuracy : float
    drift_factors : dict of int to float
        Per layer, the measured drift of its total read current (1: none; only with compensation).
    report : InferenceReport
        The inferences run at this point (their counts, priced under the chip's profile).
    """

    seconds: float
    accuracy: float
    drift_factors: dict[int, float]
    report: InferenceReport


def accuracy_over_time(chip: Chip, x: Any, y: Any, after: list[float] | list[str], *, compensate: bool = False,
                       batch: int = 256) -> list[AgingPoint]:
    """Accuracy (and energy) of ``chip`` on ``(x, y)`` now and at each time ``after`` programming.

    Parameters
    ----------
    after : list of seconds or of durations such as ``"1d"``
        Increasing times since programming; the first point (0 s, as programmed) is always included.
    compensate : bool
        Measure the drift and correct for it (global drift compensation) before each evaluation.
    """
    times = [t if isinstance(t, (int, float)) else parse_duration(t) for t in after]
    if any(b <= a for a, b in zip([0.0, *times], times)):
        raise AgingError(f"times after programming must be > 0 and increase (got {after!r})")
    y = np.asarray(y)
    points = []
    now = 0.0
    for when in [0.0, *times]:
        chip.age(when - now)
        now = when
        if compensate and when > 0:
            chip.compensate_drift()
        before, samples = chip.ledger.copy(), chip.inferences
        predicted = np.concatenate([chip.predict(x[i: i + batch]) for i in range(0, len(x), batch)])
        events = (chip.ledger - before).without_writes()
        accuracy = float(np.mean(predicted == y))
        report = InferenceReport(profile=profile_entry(chip.profile), model=chip.model.name,
                                 executor=chip.executor.name, samples=chip.inferences - samples, accuracy=accuracy,
                                 reference_accuracy=None, ledger=events.to_dict(), mapping=chip.mapping.report(),
                                 executor_options=dict(chip.executor.settings))
        factors = dict(getattr(chip.executor, "drift_factors", {}))
        points.append(AgingPoint(seconds=when, accuracy=accuracy, drift_factors=factors, report=report))
    return points


def format_aging(points: list[AgingPoint], compensate: bool) -> str:
    """The table ``neurosim infer --after`` prints."""
    head = f"{'after':>10}{'accuracy':>10}{'energy / inference':>20}" + (f"{'drift factor':>14}" if compensate else "")
    lines = [head]
    for p in points:
        drift = ""
        if compensate:
            f = np.mean(list(p.drift_factors.values())) if p.drift_factors else 1.0
            drift = f"{f:>14.4f}"
        lines.append(f"{human_duration(p.seconds):>10}{100 * p.accuracy:>9.2f}%"
                     f"{p.report.total_energy_per_inference_j:>18.4e} J{drift}")
    return "\n".join(lines)


__all__ = ["AgingPoint", "AgingError", "accuracy_over_time", "parse_duration", "parse_durations", "format_aging",
           "human_duration"]
