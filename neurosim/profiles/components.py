"""Component models: energy, latency and area per action from a component's attributes (SI in, SI out).

Each model is a named, documented function, in the manner of Accelergy/CACTI and DNN+NeuroSim: a profile states
attributes (bits, a figure of merit, a clock, a feature size, wire capacitance per micrometre...) and
:mod:`neurosim.profiles.costs` derives the per-action figures the price table uses, so that changing one attribute
moves every figure that depends on it.

Modelling choices (documented here because they change numbers):

- *SAR ADC.* Energy per conversion = FOM x 2^bits (the Walden figure of merit, energy per conversion step, taking
  the effective number of bits as the nominal bits); one conversion takes bits + 1 cycles of the ADC clock
  (sampling plus one comparison per bit); area grows with the capacitor DAC, area per step x 2^bits.
- *Flash ADC.* 2^bits - 1 comparators: energy and area per comparator x (2^bits - 1); one clock cycle.
- *Digital readout* (digital compute-in-memory, TrueNorth-like cores: no analog conversion): energy and area per
  output bit x bits; ceil(bits / 8) clock cycles (a byte per cycle).
- *DAC.* A multi-level driver: energy and area per level step x (2^bits - 1), one conversion per driven input (a
  1-bit DAC is a row driver, ISAAC's choice; inputs wider than the DAC go bit-serially, see the analog executor).
- *Cell read.* V^2 x G x t for a cell at conductance G; a level l of L levels conducts
  G_off + (G_on - G_off) l / (L - 1) with G_off = G_on / on_off_ratio.
- *Crossbar wires.* A word line spans the tile's columns and a bit line its rows; a line of n cells at pitch p has
  capacitance c x n x p and costs C V^2 each time it is charged (one word line per driven row, one bit line per
  column read). The wire between neighbouring cells has the profile's segment resistance (IR drop, see the chip's
  held state): it is a structural attribute, so re-pricing under another pitch never changes what was simulated.
- *Cell pitch.* sqrt(cell area in F^2) x F.
- *Buffers (SRAM/eDRAM).* Energy per byte grows with the square root of capacity (word- and bit-line length, the
  CACTI trend): e(C) = e(64 KiB) x sqrt(C / 64 KiB); writes cost ``write_read_ratio`` times reads; leakage and area
  are per KiB.
- *Router and link.* Energy per bit moved one hop x flit bits per flit-hop.
"""

from __future__ import annotations

import math

#: the reference capacity of the buffer model's energy per byte
BUFFER_REFERENCE_BYTES = 64 * 1024

ADC_TYPES = ("sar", "flash", "digital")


def adc_energy(adc_type: str, bits: int, energy_per_step_j: float) -> float:
    """Joules per conversion (see the module docstring for each type)."""
    if adc_type == "sar":
        return energy_per_step_j * 2.0 ** bits
    if adc_type == "flash":
        return energy_per_step_j * (2.0 ** bits - 1.0)
    return energy_per_step_j * bits


def adc_latency(adc_type: str, bits: int, clock_hz: float) -> float:
    """Seconds per conversion."""
    if adc_type == "sar":
        return (bits + 1) / clock_hz
    if adc_type == "flash":
        return 1.0 / clock_hz
    return math.ceil(bits / 8) / clock_hz


def adc_area(adc_type: str, bits: int, area_per_step_m2: float) -> float:
    """Square metres of one converter."""
    if adc_type == "sar":
        return area_per_step_m2 * 2.0 ** bits
    if adc_type == "flash":
        return area_per_step_m2 * (2.0 ** bits - 1.0)
    return area_per_step_m2 * bits


def dac_energy(bits: int, energy_per_step_j: float) -> float:
    """Joules per driven input (a level step each: 2^bits - 1 of them)."""
    return energy_per_step_j * (2.0 ** bits - 1.0)


def dac_area(bits: int, area_per_step_m2: float) -> float:
    return area_per_step_m2 * (2.0 ** bits - 1.0)


def cell_read_energy(voltage_v: float, conductance_s: float, time_s: float) -> float:
    """V^2 G t: one cell read at conductance G."""
    return voltage_v ** 2 * conductance_s * time_s


def cell_pitch(cell_area_f2: float, feature_size_m: float) -> float:
    """Metres between neighbouring cells of a square cell of ``cell_area_f2`` F^2."""
    return math.sqrt(cell_area_f2) * feature_size_m


def line_energy(cells: int, pitch_m: float, capacitance_per_m: float, voltage_v: float) -> float:
    """C V^2 of charging a wire spanning ``cells`` cells."""
    return capacitance_per_m * cells * pitch_m * voltage_v ** 2


def buffer_energy_per_byte(capacity_bytes: float, energy_per_byte_at_reference_j: float) -> float:
    """Joules per byte read from a buffer of ``capacity_bytes`` (square-root scaling, see the module docstring)."""
    return energy_per_byte_at_reference_j * math.sqrt(max(capacity_bytes, 1.0) / BUFFER_REFERENCE_BYTES)


def router_energy_per_flit_hop(energy_per_bit_j: float, flit_bits: int) -> float:
    return energy_per_bit_j * flit_bits


def integer_add_energy(feature_size_m: float) -> float:
    """Energy of one 32-bit integer addition (J): 0.1 pJ at 45 nm (Horowitz, "Computing's energy problem", ISSCC
    2014), scaled linearly with the feature size (switched capacitance shrinks with F; the supply voltage is taken
    as unchanged, which overestimates the energy at small nodes)."""
    return 0.1e-12 * feature_size_m / 45e-9


__all__ = ["integer_add_energy", "ADC_TYPES", "BUFFER_REFERENCE_BYTES", "adc_energy", "adc_latency", "adc_area",
           "dac_energy", "dac_area", "cell_read_energy", "cell_pitch", "line_energy", "buffer_energy_per_byte",
           "router_energy_per_flit_hop"]
