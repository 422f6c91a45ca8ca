"""Slow numpy twins of ``_kernels.py`` (used by the tests)."""

from __future__ import annotations

import numpy as np


def ternarize_numpy(w, threshold, codes):
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0:
        return 0.0, 1.0
    mean = float(np.mean(np.abs(w)))
    if not np.isfinite(mean):
        return mean, 1.0
    delta = threshold * mean
    codes[...] = np.where(w > delta, 1, np.where(w < -delta, -1, 0))
    nonzero = codes != 0
    return mean, (float(np.mean(np.abs(w[nonzero]))) if nonzero.any() else 1.0)
