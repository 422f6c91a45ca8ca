"""numba kernels of quantisation (private); numpy twins in ``_twins.py`` that the tests compare against.

Sums are numpy's pairwise summation, reproduced step for step (8 accumulators over blocks of at most 128 values,
halving above that, on multiples of 8), so that a kernel returns the same float64 bits as ``np.abs(w).mean()``:
quantisation decides which weights are zero, and a last-bit difference would move a run's numbers.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _abs_block_sum(a, lo, n):
    """numpy's pairwise leaf: float64 sum of ``|a[lo:lo + n]|`` for ``n <= 128``."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += abs(np.float64(a[i]))
        return res
    r0 = abs(np.float64(a[lo]))
    r1 = abs(np.float64(a[lo + 1]))
    r2 = abs(np.float64(a[lo + 2]))
    r3 = abs(np.float64(a[lo + 3]))
    r4 = abs(np.float64(a[lo + 4]))
    r5 = abs(np.float64(a[lo + 5]))
    r6 = abs(np.float64(a[lo + 6]))
    r7 = abs(np.float64(a[lo + 7]))
    i = 8
    whole = n - n % 8
    while i < whole:
        r0 += abs(np.float64(a[lo + i]))
        r1 += abs(np.float64(a[lo + i + 1]))
        r2 += abs(np.float64(a[lo + i + 2]))
        r3 += abs(np.float64(a[lo + i + 3]))
        r4 += abs(np.float64(a[lo + i + 4]))
        r5 += abs(np.float64(a[lo + i + 5]))
        r6 += abs(np.float64(a[lo + i + 6]))
        r7 += abs(np.float64(a[lo + i + 7]))
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += abs(np.float64(a[lo + i]))
        i += 1
    return res


@nb.njit(cache=True, nogil=True)
def _abs_pairwise_sum(a, lo, n):
    """Pairwise float64 sum of ``|a[lo:lo + n]|`` in numpy's order: ``sum(first half) + sum(second half)`` with
    the half rounded down to a multiple of 8, leaves of at most 128 values. (Written with an explicit stack: a
    recursive function cannot be cached by numba.)"""
    if n <= 128:
        return _abs_block_sum(a, lo, n)
    stack_lo = np.empty(128, dtype=np.int64)
    stack_n = np.empty(128, dtype=np.int64)
    left = np.empty(128, dtype=np.float64)
    stage = np.zeros(128, dtype=np.int64)  # 0: left half pending, 1: right half pending
    sp = 1
    stack_lo[0], stack_n[0], stage[0] = lo, n, 0
    result = 0.0
    while True:
        f = sp - 1
        if stack_n[f] <= 128:
            result = _abs_block_sum(a, stack_lo[f], stack_n[f])
            sp -= 1
            # hand the value up: a left half waits for its right half, a right half completes its parent
            while sp > 0:
                parent = sp - 1
                if stage[parent] == 0:
                    left[parent] = result
                    stage[parent] = 1
                    half = stack_n[parent] // 2
                    half -= half % 8
                    stack_lo[sp], stack_n[sp], stage[sp] = stack_lo[parent] + half, stack_n[parent] - half, 0
                    sp += 1
                    break
                result = left[parent] + result
                sp -= 1
            if sp == 0:
                return result
        else:
            half = stack_n[f] // 2
            half -= half % 8
            stack_lo[sp], stack_n[sp], stage[sp] = stack_lo[f], half, 0
            sp += 1


@nb.njit(cache=True, nogil=True)
def ternarize(w, threshold, codes):
    """TWN ternarisation of the flat weights ``w`` (float32 or float64, read as float64) into ``codes`` (int8).

    Returns ``(mean |w|, scale)``: codes are +-1 where ``|w| > threshold x mean |w|`` (with the sign of ``w``),
    else 0; ``scale`` is the mean |w| over the non-zero codes (1.0 if none). A non-finite mean is returned at once
    (codes untouched) for the caller to report.
    """
    n = w.size
    if n == 0:
        return 0.0, 1.0
    mean = _abs_pairwise_sum(w, 0, n) / n
    if not np.isfinite(mean):
        return mean, 1.0
    delta = threshold * mean
    kept = np.empty(n, dtype=np.float64)
    k = 0
    for i in range(n):  # branch-free: about half the weights go each way, in no order a predictor could learn
        v = np.float64(w[i])
        m = abs(v)
        keep = np.int8(m > delta)
        codes[i] = keep * (np.int8(v > 0) - np.int8(v < 0))
        kept[k] = m
        k += np.int64(keep)
    if k == 0:
        return mean, 1.0
    return mean, _abs_pairwise_sum(kept, 0, k) / k
