"""numba kernels of chip inference (private); numpy twins in ``_twins.py``.

Kernels that divide use numba's ``error_model="numpy"``: IEEE division, as numpy does, instead of a zero check per
division, which kept the loops from vectorising (8x slower for Adam's update).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, parallel=False)
def dac_quantize(x, lo, hi, steps, out):
    """Clip ``x`` to [lo, hi] and round it to one of ``steps + 1`` evenly spaced levels (in place into ``out``)."""
    width = hi - lo
    scale = steps / width
    inv = width / steps
    flat_x = x.reshape(-1)
    flat_out = out.reshape(-1)
    for i in range(flat_x.size):
        v = flat_x[i]
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        flat_out[i] = lo + np.rint((v - lo) * scale) * inv


@nb.njit(cache=True, nogil=True, error_model="numpy")
def adc_accumulate(partial, acc, step, qmin, qmax, factor):
    """``acc += factor * clip(rint(partial / step), qmin, qmax) * step``, per column ``step``; ADC conversion of
    one tile's column outputs and the digital shift-add of its slice, in one pass."""
    rows, cols = partial.shape
    for i in range(rows):
        for j in range(cols):
            # min/max rather than branches: the loop vectorises (3-7x faster on real partial sums)
            q = min(max(np.rint(partial[i, j] / step[j]), qmin), qmax)
            acc[i, j] += factor * q * step[j]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def adc_accumulate_noisy(partial, noise, spread, acc, step, qmin, qmax, factor):
    """:func:`adc_accumulate` of ``partial + spread[:, None] * noise``: a fresh read-noise fluctuation per column
    output (``spread`` per vector, standard normal ``noise`` per output), added in the same pass."""
    rows, cols = partial.shape
    for i in range(rows):
        s = spread[i]
        for j in range(cols):
            q = min(max(np.rint((partial[i, j] + s * noise[i, j]) / step[j]), qmin), qmax)
            acc[i, j] += factor * q * step[j]


@nb.njit(cache=True, nogil=True)
def count_driven(drive, out):
    """``out[j] += number of rows i with drive[i, j] != 0``: the vectors that drive each crossbar row."""
    rows, cols = drive.shape
    for i in range(rows):
        for j in range(cols):
            out[j] += drive[i, j] != 0


@nb.njit(cache=True, nogil=True)
def update_changed(codes, last, out):
    """Positions where ``codes`` differs from ``last`` (written to ``out``; returns how many), and ``last`` updated
    to ``codes`` there: a whole-layer request reduced to what changed, in one pass over any integer dtypes."""
    n = 0
    for i in range(codes.size):
        c = codes[i]
        if c != last[i]:
            last[i] = c
            out[n] = i
            n += 1
    return n
