"""DAC and ADC settings of each analog layer: the chip designer's choice, made explicit.

Modelling choices (documented here because they change numbers):

- *Input precision.* Inputs are quantised to ``periphery.input_bits`` bits over the DAC's range. When
  ``input_bits`` exceeds ``dac_bits`` the input goes in bit-serially: ``ceil(input_bits / dac_bits)`` crossbar reads,
  each driving one ``dac_bits``-wide digit of every input, each read's column outputs converted by the ADCs and
  shift-added digitally (ISAAC's 1-bit DACs). A non-zero lower range bound adds ``lo x column sum`` digitally.
- *Ranges.* A converter of at least :data:`WIDE_BITS` bits is set to the *guaranteed* range (inputs from interval
  arithmetic over the model, partial sums from the tile's rows x largest input (or digit) x largest slice value),
  so it never clips and its rounding is negligible. A narrower converter is set to the range seen on calibration
  data when :meth:`neurosim.Chip.calibrate` has been called (the usual practice), else to the guaranteed range.
- *Exact converters* (``periphery.exact``, the ``ideal`` profile) and *digital readout* (``adc_type = "digital"``)
  do not round at all: inputs go in as they are, column sums come out as they are.
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
    input_steps : int
        ``2**input_bits - 1``: inputs are rounded to this many steps over the range.
    cycles : int
        Crossbar reads per input (1 unless the input goes in bit-serially).
    digit_bits : int
        Bits driven per read in bit-serial mode (``dac_bits``).
    adc_step : ndarray, shape (row_blocks, slices, fan_out)
        Size of one ADC code for each column of each row block and slice (per read).
    adc_qmin, adc_qmax : int
        Code range of the signed ADC.
    calibrated : bool
        Whether narrow converters use calibrated ranges.
    exact_dac, exact_adc : bool
        Whether inputs and column sums pass without rounding.
    """

    dac_lo: float
    dac_hi: float
    input_steps: int
    cycles: int
    digit_bits: int
    adc_step: np.ndarray
    adc_qmin: int
    adc_qmax: int
    calibrated: bool
    exact_dac: bool
    exact_adc: bool

    @property
    def bit_serial(self) -> bool:
        return self.cycles > 1


def input_cycles(profile: Profile) -> int:
    """Crossbar reads per input: ``ceil(input_bits / dac_bits)`` when inputs go in bit-serially, else 1."""
    peri = profile.periphery
    if peri.exact or peri.input_bits <= peri.dac_bits:
        return 1
    return -(-peri.input_bits // peri.dac_bits)


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
        Calibration: the largest input seen, and the largest |partial sum| per (row block, slice, column) of one
        read (of one digit, for bit-serial inputs).
    """
    peri = profile.periphery
    lo, hi = bounds
    calibrated = observed_input_max is not None
    exact_dac = peri.exact
    exact_adc = peri.exact or peri.adc_type == "digital"
    if calibrated and peri.input_bits < WIDE_BITS and not exact_dac and observed_input_max > lo:
        hi = min(hi, float(observed_input_max))
    if hi <= lo:  # a layer whose inputs are constant: any non-empty range works
        hi = lo + 1.0
    cycles = input_cycles(profile)
    # what one read drives per row: the input itself, or one digit of its index
    drive_bound = float(2 ** peri.dac_bits - 1) if cycles > 1 else max(abs(lo), abs(hi))
    full_scale = guaranteed_partial_range(tiling, drive_bound)
    if calibrated and peri.adc_bits < WIDE_BITS and not exact_adc and observed_partial_max is not None:
        seen = np.asarray(observed_partial_max, dtype=np.float64)
        # a column never seen non-zero keeps the guaranteed range (its ADC is then coarse, not blind)
        full_scale = np.where(seen > 0, np.minimum(seen, full_scale), full_scale)
    qmax = 2 ** (peri.adc_bits - 1) - 1 if peri.adc_bits > 1 else 1
    qmin = -(2 ** (peri.adc_bits - 1)) if peri.adc_bits > 1 else -1
    step = np.where(full_scale > 0, full_scale / qmax, 1.0)
    return LayerConverters(dac_lo=float(lo), dac_hi=float(hi), input_steps=2 ** peri.input_bits - 1, cycles=cycles,
                           digit_bits=peri.dac_bits, adc_step=step, adc_qmin=qmin, adc_qmax=qmax,
                           calibrated=calibrated, exact_dac=exact_dac, exact_adc=exact_adc)
