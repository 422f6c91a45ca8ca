"""Accuracy and energy of spiking execution against its number of timesteps: the same chip state, run for each
number of ticks in turn (more ticks: rates closer to the activations, more spikes, more energy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ExecutorError
from ..nn.model import Model
from ..profiles import Profile
from ..record import InferenceReport
from .chip import Chip


@dataclass(frozen=True)
class TimestepPoint:
    """One number of timesteps: its accuracy and the report of its inferences (energy, latency, events)."""

    timesteps: int
    accuracy: float
    report: InferenceReport


def accuracy_over_timesteps(profile: Profile | str, model: Model | str, x: Any, y: Any, timesteps: list[int], *,
                            seed: int = 0, calibration: Any = None, options: dict[str, Any] | None = None,
                            batch: int = 256) -> list[TimestepPoint]:
    """Run ``x`` on a chip with the ``spiking`` executor for every number of ``timesteps`` (the chip is programmed
    with ``seed`` each time, so every run sees the same cells).

    Parameters
    ----------
    timesteps : list of int
        Increasing numbers of ticks.
    options : dict, optional
        The spiking executor's other options (encoding, engine, ...).
    """
    if not timesteps or any(b <= a for a, b in zip(timesteps, timesteps[1:])) or min(timesteps) < 1:
        raise ExecutorError(f"timesteps must be increasing integers >= 1 (got {timesteps!r})")
    y = np.asarray(y)
    points = []
    for t in timesteps:
        chip = Chip(profile, model, seed=seed, executor="spiking", calibration=calibration,
                    executor_options={**(options or {}), "timesteps": int(t)})
        report = chip.evaluate(x, y, batch=batch)
        points.append(TimestepPoint(timesteps=int(t), accuracy=float(report.accuracy), report=report))
    return points


__all__ = ["TimestepPoint", "accuracy_over_timesteps"]
