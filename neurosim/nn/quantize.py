"""Float weights to ternary or low-bit integer codes with a per-layer scale.

A quantised layer stores integer codes ``q`` and one float ``scale``; its effective weights are ``scale * q``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from . import _kernels

TWN_THRESHOLD = 0.7  # Li & Liu, "Ternary weight networks" (2016): delta = 0.7 * mean |W|


def max_code(bits: int) -> int:
    """Largest code magnitude of a ``bits``-bit symmetric weight (2 bits = ternary: 1)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 16:
        raise ModelError(f"weight_bits must be an integer in [2, 16] (got {bits!r})")
    return 2 ** (int(bits) - 1) - 1


def ternarize_twn(weights: np.ndarray, threshold: float = TWN_THRESHOLD) -> tuple[np.ndarray, float]:
    """Ternary weight network quantisation.

    Parameters
    ----------
    weights : ndarray
        Float weights of one layer.
    threshold : float
        Weights with ``|w| <= threshold * mean|W|`` become 0.

    Returns
    -------
    codes : ndarray of int8
        Values in {-1, 0, +1}, same shape as ``weights``.
    scale : float
        Mean of ``|w|`` over the non-zero positions (1.0 if every code is 0).
    """
    w = np.asarray(weights)
    if w.dtype not in (np.float32, np.float64):
        w = w.astype(np.float64)
    codes = np.empty(w.shape, dtype=np.int8)
    # one kernel pass for mean |w| (numpy's pairwise sum, bit for bit), one for the codes and the scale
    mean, scale = _kernels.ternarize(np.ascontiguousarray(w).reshape(-1), float(threshold), codes.reshape(-1))
    # a non-finite weight makes the mean non-finite; so can (float64 input only) an overflowing sum: check then
    if not math.isfinite(mean) and not np.all(np.isfinite(w)):
        raise ModelError("weights must be finite to ternarize (found NaN or inf)")
    return codes, float(scale)


def quantize_symmetric(weights: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """Uniform symmetric ``bits``-bit quantisation (``bits = 2`` is TWN ternary).

    Codes are integers in ``[-(2^(bits-1) - 1), 2^(bits-1) - 1]``; the scale maps the largest |w| to the top code.
    """
    top = max_code(bits)
    if top == 1:
        return ternarize_twn(weights)
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ModelError("weights must be finite to quantise (found NaN or inf)")
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    scale = peak / top if peak > 0 else 1.0
    codes = np.clip(np.rint(w / scale), -top, top).astype(np.int16 if top > 127 else np.int8)
    return codes, scale
