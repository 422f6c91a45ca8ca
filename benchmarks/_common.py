"""What every benchmark reports besides its figures: the machine's load while it ran, medians with their spread,
and whether a target was met. (A helper of the scripts in this folder, not part of the package.)"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return idle, sum(fields)


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Load:
    """The machine's load over a benchmark: start it, run, then :meth:`describe` (load averages at start and
    end, how idle the CPUs were in between, and what this process itself used)."""

    def __init__(self) -> None:
        self.start_load = os.getloadavg()
        self.start_cpu = _cpu_times()
        self.start_wall = time.perf_counter()
        self.start_self = _cpu_seconds()

    def describe(self) -> str:
        end_load = os.getloadavg()
        wall = time.perf_counter() - self.start_wall
        mine = _cpu_seconds() - self.start_self
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        text = (f"machine: {cores} cores; load average {self.start_load[0]:.2f} at start, {end_load[0]:.2f} at end; "
                f"this benchmark (and its child processes) used {mine:.0f} CPU-s over {wall:.0f} s")
        end_cpu = _cpu_times()
        if self.start_cpu and end_cpu and end_cpu[1] > self.start_cpu[1]:
            idle = (end_cpu[0] - self.start_cpu[0]) / (end_cpu[1] - self.start_cpu[1])
            text += f"; CPUs {100 * idle:.0f} % idle over the run"
        return text


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """``median [min-max] (n)`` of ``values`` times ``scale``."""
    vals = sorted(v * scale for v in values)
    return f"{statistics.median(vals):.{digits}f} [{vals[0]:.{digits}f}-{vals[-1]:.{digits}f}] (n={len(vals)})"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
