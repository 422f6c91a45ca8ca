"""Slow numpy twins of ``_kernels.py`` (used by the tests)."""

from __future__ import annotations

import numpy as np


def dac_quantize_numpy(x, lo, hi, steps, out):
    width = hi - lo
    out[...] = lo + np.rint((np.clip(x, lo, hi) - lo) * (steps / width)) * (width / steps)


def adc_accumulate_numpy(partial, acc, step, qmin, qmax, factor):
    acc += factor * np.clip(np.rint(partial / step), qmin, qmax) * step


def adc_accumulate_noisy_numpy(partial, noise, spread, acc, step, qmin, qmax, factor):
    adc_accumulate_numpy(partial + spread[:, None] * noise, acc, step, qmin, qmax, factor)


def count_driven_numpy(drive, out):
    out += (drive != 0).sum(axis=0)


def update_changed_numpy(codes, last, out):
    changed = np.flatnonzero(codes != last)
    last[changed] = codes[changed]
    out[: changed.size] = changed
    return changed.size
