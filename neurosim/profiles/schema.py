"""Typed, frozen sections of a hardware profile and the rules each key obeys.

Each dataclass field carries its own rule in ``metadata`` (type, unit, bounds, allowed choices, documentation), so
the loader, the validator, the ``profiles show`` table and the fuzz tests all read one source of truth.

Units: attributes are SI (``set_energy_j``, ``read_latency_s``, ``clock_hz``, ``capacity_bytes``); the file key is
the attribute with its SI suffix swapped for the file unit (``set_energy_pj``, ``read_latency_ns``, ``clock_mhz``,
``capacity_kib``). Conversion happens once, in :func:`convert`.

Zeros, decided per key (a value that makes a figure meaningless is refused, not accepted and priced):

- *Must be > 0* (bounds open at 0): ``device.set_latency_ns``, ``device.reset_latency_ns``, ``device.read_latency_ns``
  (a crossbar read is the MVM cycle: inference time, throughput, the power of ``profiles show`` and the derived cell
  read energy all divide or scale by it; 0 gave throughput 0 and power nan), ``core.neuron_update_latency_ns`` and
  ``core.tick_ns`` when pinned (spiking inference time is ticks x tick), and, as before, every clock.
- *0 has a meaning*: ``periphery.dac_latency_ns`` (no DAC, inputs drive the rows directly, as in digital
  compute-in-memory: the ``sram`` profile), a pinned ``periphery.adc_latency_ns`` (conversions hidden under the read),
  ``chip.noc_latency_per_flit_hop_ns`` (an ideal interconnect); every energy and area (a free component); rates, noise,
  drift and wire resistance (the effect is off).
- Cross-checks between keys (in the loader): ``device.stuck_at_low_rate + device.stuck_at_high_rate < 1`` (at 1 every
  cell is dead), ``periphery.columns_per_adc <= crossbar.cols``, ``crossbar.cells_per_weight <= crossbar.cols`` and
  even for ``differential_pair``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._fields import Rule
from ..encodings import ENCODINGS
from .components import ADC_TYPES

# file unit -> (SI suffix of the attribute, factor from file unit to SI)
UNITS: dict[str, tuple[str, float]] = {
    "pj": ("j", 1e-12),
    "fj": ("j", 1e-15),
    "ns": ("s", 1e-9),
    "s": ("s", 1.0),
    "mhz": ("hz", 1e6),
    "kib": ("bytes", 1024.0),
    "v": ("v", 1.0),
    "us": ("siemens", 1e-6),
    "nm": ("m", 1e-9),
    "um2": ("m2", 1e-12),
    "uw": ("w", 1e-6),
    "ff_per_um": ("f_per_m", 1e-9),
    "nw_per_kib": ("w_per_byte", 1e-9 / 1024.0),
    "um2_per_kib": ("m2_per_byte", 1e-12 / 1024.0),
}
#: how an SI attribute suffix is written for people
SI_SYMBOLS = {"j": "J", "s": "s", "hz": "Hz", "bytes": "B", "v": "V", "siemens": "S", "m": "m", "m2": "m2",
              "w": "W", "f_per_m": "F/m", "w_per_byte": "W/B", "m2_per_byte": "m2/B"}


#: what a key does: "structure" changes what is simulated and counted (a run under another value must be simulated
#: again); "price" enters only when counts are priced (energies, latencies, clock, write parallelism); "label"
#: changes no number (names, the technology's name, a capacity that is only reported against)
ROLES = ("structure", "price", "label")


def _field(rule: Rule, role: str, pin: bool = False) -> Any:
    if pin:
        return field(default=None, metadata=rule.as_metadata(role=role, pin=True))
    return field(metadata=rule.as_metadata(role=role, pin=False))


def pinned(doc: str, unit: str | None, lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """An optional per-action figure: absent, it is derived from the component's attributes by a model
    (:mod:`neurosim.profiles.costs`); given, it pins the figure and the model is not used for it."""
    return _field(Rule("float", doc, unit=unit, lo=lo, hi=hi, lo_open=lo_open), "price", pin=True)


def quantity(doc: str, unit: str | None, lo: float, hi: float, *, lo_open: bool = False,
             role: str = "structure") -> Any:
    """A real number in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``), given in ``unit`` in the file."""
    return _field(Rule("float", doc, unit=unit, lo=lo, hi=hi, lo_open=lo_open), role)


def price(doc: str, unit: str | None, lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """A value used only when counts are priced or reported (an energy, a latency, a clock): a run re-priced under
    a profile that differs only in such values gives exactly what re-simulating under it gives."""
    return quantity(doc, unit, lo, hi, lo_open=lo_open, role="price")


def integer(doc: str, lo: int, hi: int, *, role: str = "structure") -> Any:
    """A whole number in ``[lo, hi]``."""
    return _field(Rule("int", doc, lo=lo, hi=hi), role)


def choice(doc: str, *choices: str, role: str = "structure") -> Any:
    """One string out of ``choices``."""
    return _field(Rule("choice", doc, choices=tuple(choices)), role)


def flag(doc: str, *, role: str = "structure") -> Any:
    """True or false."""
    return _field(Rule("bool", doc), role)


def file_key(f: dataclasses.Field) -> str:
    """The key under which field ``f`` is written in a profile file (with its file unit)."""
    unit = f.metadata.get("unit")
    if unit is None:
        return f.name
    si_suffix = UNITS[unit][0]
    return f.name[: -len(si_suffix)] + unit


def describe_constraint(f: dataclasses.Field) -> str:
    """Human-readable constraint of field ``f``, in file units (used in errors and ``profiles show``)."""
    return f.metadata["rule"].describe()


def convert(f: dataclasses.Field, value: Any) -> tuple[Any, str | None]:
    """Check ``value`` against the rule of field ``f`` and convert it to SI.

    Returns
    -------
    (converted, problem)
        ``problem`` is None when the value is valid, else a short reason.
    """
    rule = f.metadata["rule"]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1.7976931348623157e308:
        return None, f"must be {rule.describe()}"  # float() of such an int would raise OverflowError
    checked, problem = rule.check(value)
    if problem is not None or f.metadata["kind"] != "float":
        return checked, problem
    unit = f.metadata["unit"]
    return checked * (UNITS[unit][1] if unit else 1.0), None


# --------------------------------------------------------------------------------------------------------- sections

TECHNOLOGIES = ("rram", "pcm", "stt_mram", "fefet", "sram", "flash", "generic")


@dataclass(frozen=True)
class DeviceSpec:
    """The memory cell: levels, write/read cost, endurance, faults, noise and drift."""

    technology: str = choice("cell technology", *TECHNOLOGIES, role="label")
    levels: int = integer("distinct conductance levels one cell stores (2 = binary)", 2, 256)
    set_energy_j: float = price("energy of one SET (level-raising) programming event", "pj", 0, 1e6)
    reset_energy_j: float = price("energy of one RESET (level-lowering) programming event", "pj", 0, 1e6)
    energy_scaling: str = choice(
        "'per_event': a transition costs one SET/RESET whatever its size; 'per_level_step': it costs one SET/RESET "
        "per level crossed (program-and-verify pulse trains)", "per_event", "per_level_step", role="price")
    set_latency_s: float = price("duration of one SET pulse (> 0: a write takes time)", "ns", 0, 1e9, lo_open=True)
    reset_latency_s: float = price("duration of one RESET pulse (> 0: a write takes time)", "ns", 0, 1e9,
                                   lo_open=True)
    read_latency_s: float = price("duration of one crossbar read (one MVM cycle; the cells conduct this long; > 0: "
                                  "inference time, throughput, power and cell read energy divide or scale by it)",
                                  "ns", 0, 1e9, lo_open=True)
    read_voltage_v: float = price("voltage across a cell while it is read", "v", 0, 10)
    on_conductance_siemens: float = quantity(
        "conductance of the highest level (sets cell read energy and, against wire resistance, IR drop)", "us", 0,
        1e6)
    on_off_ratio: float = price("conductance ratio of the highest to the lowest level (off cells read cheaper)",
                                None, 1, 1e12)
    read_noise_sigma: float = quantity(
        "standard deviation of a fresh conductance fluctuation on every read, in units of one level step", None, 0,
        10)
    endurance_cycles: float = quantity("median number of writes a cell survives", None, 1, 1e18)
    endurance_sigma: float = quantity("spread of ln(endurance) across cells (log-normal sigma)", None, 0, 5)
    stuck_at_low_rate: float = quantity("fraction of cells stuck at the lowest level from manufacture", None, 0, 1)
    stuck_at_high_rate: float = quantity("fraction of cells stuck at the highest level from manufacture", None, 0, 1)
    stuck_policy: str = choice(
        "where a cell that exhausts its endurance is stuck: 'last' level written, 'low' or 'high' level",
        "last", "low", "high")
    write_noise_sigma: float = quantity(
        "standard deviation of the programmed conductance, in units of one level step", None, 0, 10)
    drift_nu: float = quantity("conductance drift exponent nu: g(t) = g0 ((t + t0) / t0)^-nu", None, 0, 1)
    drift_t0_s: float = quantity("drift reference time t0", "s", 1e-9, 1e9)
    read_energy_j: float | None = pinned(
        "energy of one cell read at the highest level (default: read_voltage^2 x on_conductance x read_latency)",
        "pj", 0, 1e6)

    def transition_energy_matrix(self) -> np.ndarray:  # (a twin of the ledger's pulse pricing, for tests)
        """Energy (J) of programming one cell from level ``a`` (row) to level ``b`` (column).

        Raising the level is a SET, lowering it a RESET. Re-writing the held level (only under the ``always``
        write policy) applies the pulse that targets that level: SET for any level above 0, RESET for level 0.
        With ``per_level_step`` scaling a transition costs one pulse per level crossed (at least one).
        """
        a = np.arange(self.levels)[:, None]
        b = np.arange(self.levels)[None, :]
        up = (b > a) | ((b == a) & (b > 0))
        pulses = np.maximum(np.abs(b - a), 1) if self.energy_scaling == "per_level_step" else np.ones_like(a - b)
        return np.where(up, self.set_energy_j, self.reset_energy_j) * pulses


@dataclass(frozen=True)
class CrossbarSpec:
    """One crossbar tile and how a weight is spread over its cells."""

    rows: int = integer("word lines (inputs) per crossbar", 1, 65536)
    cols: int = integer("bit lines (outputs) per crossbar", 1, 65536)
    weight_encoding: str = choice("how a signed weight is stored in cells", *ENCODINGS)
    cells_per_weight: int = integer(
        "most cells one weight may occupy (the encoding decides how many a layer's weights use: 2 per slice for "
        "a differential pair, 1 per slice otherwise; more bits per weight need more slices)", 1, 64)
    cell_area_f2: float = price("area of one cell in F^2 (4 for a 1R cross-point, 12-50 with an access transistor)",
                                None, 1, 1e4)
    wire_capacitance_f_per_m: float = price("word- and bit-line capacitance per length", "ff_per_um", 0, 100)
    wire_segment_ohm: float = quantity(
        "word- and bit-line resistance between neighbouring cells (IR drop; 0 turns it off)", None, 0, 1e6)


@dataclass(frozen=True)
class PeripherySpec:
    """Converters at the crossbar's edges."""

    input_bits: int = integer(
        "bits of every MVM input; wider than dac_bits, an input goes in bit-serially, dac_bits per crossbar read, "
        "each read converted and shift-added (ISAAC's 1-bit DACs)", 1, 32)
    dac_bits: int = integer("input DAC resolution", 1, 32)
    dac_energy_per_step_j: float = price("DAC energy per level step (a conversion costs 2^bits - 1 steps)", "fj", 0,
                                         1e9)
    dac_area_per_step_m2: float = price("DAC area per level step", "um2", 0, 1e9)
    dac_latency_s: float = price("duration of one DAC conversion (0: inputs drive the rows directly, no DAC time, "
                                 "as in digital compute-in-memory)", "ns", 0, 1e9)
    adc_type: str = choice("'sar' and 'flash' convert analog column currents; 'digital' reads an exact digital sum "
                           "(digital compute-in-memory: no analog conversion, no rounding)", *ADC_TYPES)
    adc_bits: int = integer("output ADC resolution", 1, 32)
    adc_energy_per_step_j: float = price(
        "ADC energy per step: SAR the Walden figure of merit (x 2^bits), flash per comparator (x 2^bits - 1), "
        "digital per output bit (x bits)", "fj", 0, 1e9)
    adc_clock_hz: float = price("ADC clock (SAR: bits + 1 cycles a conversion, flash 1, digital a byte a cycle)",
                                "mhz", 1e-6, 1e7)
    adc_area_per_step_m2: float = price("ADC area per step (scaled like the energy)", "um2", 0, 1e9)
    columns_per_adc: int = integer("crossbar columns sharing one ADC (converted one after another)", 1, 65536)
    sample_hold_energy_j: float = price("energy of sampling one column output (per column, per read)", "fj", 0, 1e9)
    sample_hold_area_m2: float = price("area of one column's sample-and-hold", "um2", 0, 1e9)
    shift_add_area_m2: float = price("area of one ADC's shift-and-add unit", "um2", 0, 1e9)
    exact: bool = flag("ideal converters: no clipping, no rounding (a check of the simulator, not a circuit; costs "
                       "are still those of the stated bits)")
    dac_energy_j: float | None = pinned("energy per DAC conversion (default: from dac_bits and the energy per step)",
                                        "pj", 0, 1e6)
    adc_energy_j: float | None = pinned("energy per ADC conversion (default: from adc_type, adc_bits and the "
                                        "energy per step)", "pj", 0, 1e6)
    adc_latency_s: float | None = pinned("duration of one ADC conversion (default: from adc_type, adc_bits and the "
                                         "ADC clock; a pinned 0: conversions hidden under the crossbar read)", "ns",
                                         0, 1e9)


@dataclass(frozen=True)
class CoreSpec:
    """A core: crossbars plus the digital neurons that accumulate and activate."""

    crossbars_per_core: int = integer("crossbar tiles per core", 1, 1_000_000)
    neurons: int = integer("neurons per core", 1, 1_000_000_000)
    neuron_update_energy_j: float = price("energy of one neuron update (accumulate + activate, or one shift-add of "
                                          "a converted column)", "pj", 0, 1e6)
    neuron_area_m2: float = price("area of one neuron unit (accumulator, shift-add, activation)", "um2", 0, 1e12)
    buffer_bytes: float = price("activation buffer of one core (inputs and outputs between layers)", "kib", 0,
                                1e12)
    leakage_w: float = price("static power of one core's digital logic, buffer excluded", "uw", 0, 1e12)
    neuron_update_latency_s: float | None = pinned("duration of one neuron update (default: one cycle of "
                                                   "chip.clock_mhz; > 0: the default spiking tick is neurons x it)",
                                                   "ns", 0, 1e9, lo_open=True)
    # the events of the spiking and lookup-table executors (digital neuromorphic cores state them directly)
    tick_s: float | None = pinned("one timestep of spiking execution (default: every neuron of a core updated once, "
                                  "one after another: neurons x neuron update latency; > 0: spiking inference time "
                                  "is ticks x it)", "ns", 0, 1e12, lo_open=True)
    synaptic_event_energy_j: float | None = pinned(
        "energy of one synaptic event of spiking execution: a spike reaching one synapse of non-zero weight "
        "(default: reading the weight's cells at the on-level plus one integer addition)", "pj", 0, 1e6)
    neuron_tick_energy_j: float | None = pinned("energy of updating one spiking neuron in a tick in which it got no "
                                                "input (default: one neuron update)", "pj", 0, 1e6)
    active_neuron_tick_energy_j: float | None = pinned(
        "energy of updating one spiking neuron in a tick in which it got input (default: one neuron update)", "pj",
        0, 1e6)
    spike_energy_j: float | None = pinned("energy of emitting one spike (default: writing one byte, its address, to "
                                          "the core's buffer)", "pj", 0, 1e6)
    int_add_energy_j: float | None = pinned(
        "energy of one 32-bit integer addition (default: 0.1 pJ at 45 nm, Horowitz ISSCC 2014, scaled by "
        "chip.feature_size / 45 nm)", "pj", 0, 1e6)


@dataclass(frozen=True)
class ChipSpec:
    """Cores on a 2D mesh network-on-chip."""

    mesh_rows: int = integer("rows of cores in the 2D mesh", 1, 4096)
    mesh_cols: int = integer("columns of cores in the 2D mesh", 1, 4096)
    flit_bits: int = integer("bits carried by one NoC flit", 1, 65536)
    router_energy_per_bit_j: float = price("energy to move one bit one hop (router and link)", "fj", 0, 1e9)
    router_area_m2: float = price("area of one core's router", "um2", 0, 1e12)
    noc_latency_per_flit_hop_s: float = price("time to move one flit one hop (0: an ideal interconnect, transfers "
                                              "take no time)", "ns", 0, 1e9)
    clock_hz: float = price("digital clock frequency (a neuron update takes one cycle)", "mhz", 1e-6, 1e5)
    feature_size_m: float = price("technology node F (cell areas are given in F^2)", "nm", 1, 1e4)
    noc_energy_per_flit_hop_j: float | None = pinned("energy to move one flit one hop (default: energy per bit x "
                                                     "flit_bits)", "pj", 0, 1e6)

    @property
    def clock_period_s(self) -> float:
        """One clock cycle (s)."""
        return 1.0 / self.clock_hz


@dataclass(frozen=True)
class AuxMemorySpec:
    """The chip's volatile memory: trainer state (latent weights, low-rank factors, counters) and, with the same
    technology, the cores' activation buffers."""

    technology: str = choice("volatile memory technology", "sram", "edram", "dram", role="label")
    # structure: what does not fit is spilled off chip (counted), so the capacity changes counts, not only prices
    capacity_bytes: float = quantity("capacity available to trainers (sets its energy per byte, and what of a "
                                     "trainer's state fits on chip)", "kib", 0, 1e12)
    energy_per_byte_j: float = price("read energy per byte of a 64 KiB array (scaled by sqrt(capacity / 64 KiB))",
                                     "fj", 0, 1e9)
    write_read_ratio: float = price("write energy over read energy", None, 0, 100)
    leakage_w_per_byte: float = price("static power per capacity", "nw_per_kib", 0, 1e12)
    area_m2_per_byte: float = price("area per capacity", "um2_per_kib", 0, 1e12)
    overflow: str = choice("trainer state beyond capacity: 'refuse' the run, or spill it to 'off_chip' memory "
                           "(DRAM) whose traffic is counted and priced", "refuse", "off_chip")
    off_chip_energy_per_byte_j: float = price("energy to move one byte of spilled trainer state to or from off-chip "
                                              "memory", "pj", 0, 1e6)
    read_energy_per_byte_j: float | None = pinned("energy to read one byte of trainer state (default: from the "
                                                  "capacity and the energy per byte)", "pj", 0, 1e6)
    write_energy_per_byte_j: float | None = pinned("energy to write one byte of trainer state (default: read x "
                                                   "write_read_ratio)", "pj", 0, 1e6)


@dataclass(frozen=True)
class WritePolicySpec:
    """How the write circuit programs cells."""

    mode: str = choice("'skip_unchanged': read before write, program only changed cells; 'always': program every "
                       "requested cell", "skip_unchanged", "always")
    parallel_cells: int = integer("cells programmed at the same time (sets write time, not energy)", 1, 1_000_000_000,
                                  role="price")
    wear_levelling: str = choice(
        "how the write controller spreads wear over a tile's rows: 'none'; 'rotate' (start-gap: every "
        "levelling_period update steps each tile's free row moves up one row, its neighbour's data moving into it, "
        "so over time every logical row visits every physical row); 'hot_cold' (every levelling_period steps each "
        "tile moves the data written most in that period onto its least-worn row, and the data there onto a free "
        "row); moves are writes through the one door, counted and priced", "none", "rotate", "hot_cold")
    levelling_period: int = integer("update steps between wear-levelling moves (each move copies at most two rows "
                                    "of each tile)", 1, 1_000_000_000)
    spare_rows_fraction: float = quantity(
        "share of each crossbar's rows held free for wear levelling (rounded up to whole rows; the mapping uses "
        "the rest, so spares cost tiles and area); 'rotate' and 'hot_cold' need at least one", None, 0, 0.5)


def spare_rows(rows: int, fraction: float) -> int:
    """Rows of a ``rows``-row crossbar held free for wear levelling: ``fraction`` of them, rounded up (a share
    that is a whole number of rows up to float rounding stays that number)."""
    return min(rows, math.ceil(rows * fraction - 1e-9)) if fraction > 0 else 0


SECTIONS: dict[str, type] = {
    "device": DeviceSpec,
    "crossbar": CrossbarSpec,
    "periphery": PeripherySpec,
    "core": CoreSpec,
    "chip": ChipSpec,
    "aux_memory": AuxMemorySpec,
    "write_policy": WritePolicySpec,
}
TOP_LEVEL_TEXT = ("name", "description")

#: keys introduced in neurosim 0.5 (wear levelling in the write controller)
KEYS_ADDED_IN_0_5 = frozenset({"write_policy.wear_levelling", "write_policy.levelling_period",
                               "write_policy.spare_rows_fraction"})
#: keys introduced in neurosim 0.4 (trainer state that does not fit on chip)
KEYS_ADDED_IN_0_4 = frozenset({"aux_memory.overflow", "aux_memory.off_chip_energy_per_byte_pj"})
#: keys introduced when per-action costs became derived (neurosim 0.3): a profile file written for 0.2 lacks them
KEYS_ADDED_IN_0_3 = frozenset({
    "device.read_voltage_v", "device.on_conductance_us", "device.read_noise_sigma", "crossbar.cell_area_f2",
    "crossbar.wire_capacitance_ff_per_um", "crossbar.wire_segment_ohm", "periphery.input_bits",
    "periphery.dac_energy_per_step_fj", "periphery.dac_area_per_step_um2", "periphery.adc_type",
    "periphery.adc_energy_per_step_fj", "periphery.adc_clock_mhz", "periphery.adc_area_per_step_um2",
    "periphery.sample_hold_energy_fj", "periphery.sample_hold_area_um2", "periphery.shift_add_area_um2",
    "periphery.exact", "core.neuron_area_um2", "core.buffer_kib", "core.leakage_uw", "chip.router_energy_per_bit_fj",
    "chip.router_area_um2", "chip.feature_size_nm", "aux_memory.energy_per_byte_fj", "aux_memory.write_read_ratio",
    "aux_memory.leakage_nw_per_kib", "aux_memory.area_um2_per_kib"})


def section_fields(section: str) -> dict[str, dataclasses.Field]:
    """File key -> field of one section, in declaration order."""
    return {file_key(f): f for f in dataclasses.fields(SECTIONS[section])}


def all_key_paths() -> list[str]:
    """Every valid dotted key path of a profile file (for suggestions on typos)."""
    paths = list(TOP_LEVEL_TEXT) + ["base"] + list(SECTIONS)
    for name in SECTIONS:
        paths += [f"{name}.{k}" for k in section_fields(name)]
    return paths


def key_roles() -> dict[str, str]:
    """Dotted file key -> its role (:data:`ROLES`), in declaration order (``name`` and ``description`` are labels)."""
    out = {k: "label" for k in TOP_LEVEL_TEXT}
    for name in SECTIONS:
        out.update({f"{name}.{k}": f.metadata["role"] for k, f in section_fields(name).items()})
    return out
