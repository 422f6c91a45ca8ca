"""Typed, frozen sections of a hardware profile and the rules each key obeys.

Each dataclass field carries its own rule in ``metadata`` (type, unit, bounds, allowed choices, documentation), so
the loader, the validator, the ``profiles show`` table and the fuzz tests all read one source of truth.

Units: attributes are SI (``set_energy_j``, ``read_latency_s``, ``clock_hz``, ``capacity_bytes``); the file key is
the attribute with its SI suffix swapped for the file unit (``set_energy_pj``, ``read_latency_ns``, ``clock_mhz``,
``capacity_kib``). Conversion happens once, in :func:`convert`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._fields import Rule
from ..encodings import ENCODINGS

# file unit -> (SI suffix of the attribute, factor from file unit to SI)
UNITS: dict[str, tuple[str, float]] = {
    "pj": ("j", 1e-12),
    "fj": ("j", 1e-15),
    "ns": ("s", 1e-9),
    "s": ("s", 1.0),
    "mhz": ("hz", 1e6),
    "kib": ("bytes", 1024.0),
}


#: what a key does: "structure" changes what is simulated and counted (a run under another value must be simulated
#: again); "price" enters only when counts are priced (energies, latencies, clock, write parallelism); "label"
#: changes no number (names, the technology's name, a capacity that is only reported against)
ROLES = ("structure", "price", "label")


def _field(rule: Rule, role: str) -> Any:
    return field(metadata=rule.as_metadata(role=role))


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
    checked, problem = f.metadata["rule"].check(value)
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
    set_latency_s: float = price("duration of one SET pulse", "ns", 0, 1e9)
    reset_latency_s: float = price("duration of one RESET pulse", "ns", 0, 1e9)
    read_energy_j: float = price("energy of reading one cell (one cell's contribution to an MVM)", "pj", 0, 1e6)
    read_latency_s: float = price("duration of one crossbar read (one MVM cycle)", "ns", 0, 1e9)
    on_off_ratio: float = price("conductance ratio of the highest to the lowest level", None, 1, 1e12)
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

    def transition_energy_matrix(self) -> np.ndarray:
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


@dataclass(frozen=True)
class PeripherySpec:
    """Converters at the crossbar's edges."""

    dac_bits: int = integer("input DAC resolution", 1, 32)
    dac_energy_j: float = price("energy per DAC conversion", "pj", 0, 1e6)
    dac_latency_s: float = price("duration of one DAC conversion", "ns", 0, 1e9)
    adc_bits: int = integer("output ADC resolution", 1, 32)
    adc_energy_j: float = price("energy per ADC conversion", "pj", 0, 1e6)
    adc_latency_s: float = price("duration of one ADC conversion", "ns", 0, 1e9)
    columns_per_adc: int = integer("crossbar columns sharing one ADC (converted one after another)", 1, 65536)


@dataclass(frozen=True)
class CoreSpec:
    """A core: crossbars plus the digital neurons that accumulate and activate."""

    crossbars_per_core: int = integer("crossbar tiles per core", 1, 1_000_000)
    neurons: int = integer("neurons per core", 1, 1_000_000_000)
    neuron_update_energy_j: float = price("energy of one neuron update (accumulate + activate)", "pj", 0, 1e6)
    neuron_update_latency_s: float = price("duration of one neuron update", "ns", 0, 1e9)


@dataclass(frozen=True)
class ChipSpec:
    """Cores on a 2D mesh network-on-chip."""

    mesh_rows: int = integer("rows of cores in the 2D mesh", 1, 4096)
    mesh_cols: int = integer("columns of cores in the 2D mesh", 1, 4096)
    flit_bits: int = integer("bits carried by one NoC flit", 1, 65536)
    noc_energy_per_flit_hop_j: float = price("energy to move one flit one hop", "pj", 0, 1e6)
    noc_latency_per_flit_hop_s: float = price("time to move one flit one hop", "ns", 0, 1e9)
    clock_hz: float = price("digital clock frequency", "mhz", 1e-6, 1e5)

    @property
    def clock_period_s(self) -> float:
        """One clock cycle (s)."""
        return 1.0 / self.clock_hz


@dataclass(frozen=True)
class AuxMemorySpec:
    """Volatile memory beside the NVM for trainer state (latent weights, low-rank factors, counters)."""

    technology: str = choice("auxiliary memory technology", "sram", "dram", role="label")
    read_energy_per_byte_j: float = price("energy to read one byte", "pj", 0, 1e6)
    write_energy_per_byte_j: float = price("energy to write one byte", "pj", 0, 1e6)
    capacity_bytes: float = quantity("capacity available to trainers", "kib", 0, 1e12, role="label")


@dataclass(frozen=True)
class WritePolicySpec:
    """How the write circuit programs cells."""

    mode: str = choice("'skip_unchanged': read before write, program only changed cells; 'always': program every "
                       "requested cell", "skip_unchanged", "always")
    parallel_cells: int = integer("cells programmed at the same time (sets write time, not energy)", 1, 1_000_000_000,
                                  role="price")


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
