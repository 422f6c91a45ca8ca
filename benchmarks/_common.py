"""What every benchmark reports besides its figures: the machine's load while it ran, medians with their spread,
and whether a target was met. (A helper of the scripts in this folder, not part of the package.)"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


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


def _twn(w: np.ndarray) -> tuple[np.ndarray, np.floating]:
    """Plain numpy TWN: what a careful numpy programmer writes (in the weights' dtype throughout)."""
    magnitude = np.abs(w)
    keep = magnitude > w.dtype.type(0.7) * magnitude.mean()
    scale = magnitude[keep].mean() if keep.any() else w.dtype.type(1.0)
    return np.sign(w) * keep, scale


def bare_mlp(x: np.ndarray, y: np.ndarray, sizes: list[int], epochs: int, *, ternary: bool = False, seed: int = 0,
             batch: int = 64, lr: float = 3e-3, dtype=np.float32) -> tuple[list[np.ndarray], list[float]]:
    """A bare numpy MLP (ReLU, softmax cross-entropy, Adam), ternary straight-through or float, with no chip: the
    baseline the benchmarks compare with. Returns its layers' effective weights and biases ``[w1, ..., b1, ...]``
    and the wall time of each epoch."""
    rng = np.random.default_rng(seed)
    ws = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b, dtype) for b in sizes[1:]]
    params = ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    x = x.reshape(len(x), -1).astype(dtype)

    def effective(w: np.ndarray) -> np.ndarray:
        if not ternary:
            return w
        codes, scale = _twn(w)
        return codes * scale

    times, t = [], 0
    for _ in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        for k in range(0, len(x), batch):
            idx = order[k: k + batch]
            h, acts, used = x[idx], [], []
            for i, (w, b) in enumerate(zip(ws, bs)):
                w = effective(w)
                used.append(w)
                acts.append(h)
                h = h @ w + b
                if i < len(ws) - 1:
                    h = np.maximum(h, 0)
            p = np.exp(h - h.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            dz = p / len(idx)
            grads_w, grads_b = [None] * len(ws), [None] * len(ws)
            for i in range(len(ws) - 1, -1, -1):
                grads_w[i], grads_b[i] = acts[i].T @ dz, dz.sum(axis=0)
                if i:
                    dz = (dz @ used[i].T) * (acts[i] > 0)
            t += 1
            for j, (param, g) in enumerate(zip(params, grads_w + grads_b)):
                m[j] *= 0.9
                m[j] += 0.1 * g
                v[j] *= 0.999
                v[j] += 0.001 * g * g
                param -= lr * (m[j] / (1 - 0.9 ** t)) / (np.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8)
        times.append(time.perf_counter() - start)
    return [effective(w) for w in ws] + bs, times


def run_main(main: Callable[[], Any]) -> None:
    """Run a benchmark's ``main`` as a script and exit: status 1 when it returns False, its own status when it
    returns an int, else 0. Bad input (a :class:`~neurosim.errors.NeurosimError`, e.g. no MNIST folder) ends in one
    line, and Ctrl-C too, over the figures already printed: never a traceback."""
    from neurosim.errors import NeurosimError

    try:
        status = main()
    except NeurosimError as exc:
        raise SystemExit(f"error: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit("interrupted: the figures printed above are the runs that finished") from None
    if status is False:
        raise SystemExit(1)
    raise SystemExit(status if isinstance(status, int) and not isinstance(status, bool) else 0)
