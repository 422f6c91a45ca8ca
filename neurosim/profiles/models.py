"""Small analytic device/circuit models used to fill in profile numbers for what-if studies."""

from __future__ import annotations

import math

from ..errors import ProfileError


def sar_adc(bits: int) -> tuple[float, float]:
    """Energy (pJ) and latency (ns) of one SAR ADC conversion at ``bits`` bits.

    The DNN+NeuroSim 22 nm SAR model (see shared/design/HARDWARE.md): power ``(0.538 log2 L + 4.375)`` uW over
    ``(log2 L + 1)`` ns for ``L = 2**bits`` levels; 5 bits gives ~0.042 pJ, 8 bits ~0.078 pJ.

    Returns
    -------
    (energy_pj, latency_ns)
        In the units of the profile keys ``periphery.adc_energy_pj`` and ``periphery.adc_latency_ns``.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 32:
        raise ProfileError(f"ADC bits must be an integer in [1, 32] (got {bits!r})", key="periphery.adc_bits",
                           constraint="an integer in [1, 32]", value=bits)
    log_levels = math.log2(2 ** bits)
    latency_ns = log_levels + 1.0
    power_uw = 0.538 * log_levels + 4.375
    return power_uw * latency_ns * 1e-3, latency_ns  # uW x ns = 1e-3 pJ
