"""DAC and ADC ranges of each analog layer: the chip designer's choice, made explicit.

A converter of at least :data:`WIDE_BITS` bits is set to the *guaranteed* range (inputs from interval arithmetic
over the model, partial sums from the tile's rows x input bound x largest slice value), so it can never clip and its
rounding error is negligible: this is what makes the ideal profile exact. A narrower converter is set to the range
seen on calibration data when :meth:`neurosim.Chip.calibrate` has been called (the usual practice), else to the
guaranteed range (correct but coarse).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mapping.tiling import LayerTiling
from ..profiles import Profile

WIDE_BITS = 16


@dataclass(frozen=True, eq=False)
class LayerConverters:
    """Converter settings of one analog layer.

    Attributes
    ----------
    dac_lo, dac_hi : float
        Input range of the layer's DACs.
    dac_steps : int
        ``2**dac_bits - 1``.
    adc_step : ndarray, shape (row_blocks, slices, fan_out)
        Size of one ADC code for each column of each row block and slice.
    adc_qmin, adc_qmax : int
        Code range of the signed ADC.
    calibrated : bool
        Whether narrow converters use calibrated ranges.
    """

    dac_lo: float
    dac_hi: float
    dac_steps: int
    adc_step: np.ndarray
    adc_qmin: int
    adc_qmax: int
    calibrated: bool


def guaranteed_partial_range(tiling: LayerTiling, input_bound: float) -> np.ndarray:
    """Largest possible |partial sum| per (row block, slice, column): rows x input bound x slice maximum."""
    rows = np.array([tiling.row_range(rb).stop - tiling.row_range(rb).start for rb in range(tiling.row_blocks)],
                    dtype=np.float64)
    full = rows * input_bound * tiling.layout.slice_max
    return np.broadcast_to(full[:, None, None], (tiling.row_blocks, tiling.layout.slices, tiling.fan_out)).copy()


def make_converters(tiling: LayerTiling, profile: Profile, bounds: tuple[float, float],
                    observed_input_max: float | None = None,
                    observed_partial_max: np.ndarray | None = None) -> LayerConverters:
    """Converter settings for one layer.

    Parameters
    ----------
    bounds : (float, float)
        Guaranteed (min, max) of the layer's inputs.
    observed_input_max, observed_partial_max : optional
        Calibration: the largest input seen, and the largest |partial sum| per (row block, slice, column).
    """
    peri = profile.periphery
    lo, hi = bounds
    calibrated = observed_input_max is not None
    if calibrated and peri.dac_bits < WIDE_BITS and observed_input_max > lo:
        hi = min(hi, float(observed_input_max))
    if hi <= lo:  # a layer whose inputs are constant: any non-empty range works
        hi = lo + 1.0
    input_bound = max(abs(lo), abs(hi))
    full_scale = guaranteed_partial_range(tiling, input_bound)
    if calibrated and peri.adc_bits < WIDE_BITS and observed_partial_max is not None:
        seen = np.asarray(observed_partial_max, dtype=np.float64)
        # a column never seen non-zero keeps the guaranteed range (its ADC is then coarse, not blind)
        full_scale = np.where(seen > 0, np.minimum(seen, full_scale), full_scale)
    qmax = 2 ** (peri.adc_bits - 1) - 1 if peri.adc_bits > 1 else 1
    qmin = -(2 ** (peri.adc_bits - 1)) if peri.adc_bits > 1 else -1
    step = np.where(full_scale > 0, full_scale / qmax, 1.0)
    return LayerConverters(dac_lo=float(lo), dac_hi=float(hi), dac_steps=2 ** peri.dac_bits - 1, adc_step=step,
                           adc_qmin=qmin, adc_qmax=qmax, calibrated=calibrated)
