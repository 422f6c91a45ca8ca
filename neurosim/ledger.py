"""Event counts and their pricing: "count events, price them later".

Simulation only counts (a :class:`Ledger`); :func:`price` turns counts and a profile into joules and seconds in one
place. Counts serialise to JSON, so a saved run can be re-priced under any other profile without re-simulating.

Time is counted the same way: components record *serial steps* (latency-bearing events on the critical path, e.g.
one group of cells programmed in parallel, one ADC conversion of a shared ADC) and pricing multiplies them by the
profile's latencies. Power is energy over that simulated time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LedgerError
from .profiles import Profile

SCHEMA = "neurosim.ledger/1"
MAX_LEVELS = 256  # the profile schema's bound on levels per cell
FLOAT_BYTES = 4  # auxiliary memory holds float32 values
MAX_COUNT = 2 ** 63 - 1  # counts beyond int64 are a bug upstream, not a workload

#: scalar event counts and what each one is
COUNTS: dict[str, str] = {
    "write_verify_reads": "cell reads done by read-before-write (write policy skip_unchanged)",
    "cell_reads": "cell reads in crossbar MVMs (one per cell per activated read)",
    "dac_conversions": "input DAC conversions",
    "adc_conversions": "output ADC conversions",
    "noc_flit_hops": "flits moved one hop on the network-on-chip",
    "neuron_updates": "neuron accumulate/activate updates",
    "aux_bytes_read": "bytes read from auxiliary (SRAM) memory",
    "aux_bytes_written": "bytes written to auxiliary (SRAM) memory",
}

#: serial steps (critical-path events) and the profile latency that prices each
SERIAL_STEPS: tuple[str, ...] = ("write_set", "write_reset", "write_verify", "crossbar_read", "dac", "adc",
                                 "noc_hop", "neuron", "clock")

ENERGY_CATEGORIES: tuple[str, ...] = ("write", "write_verify", "read", "dac", "adc", "noc", "neuron", "aux_memory")


class Ledger:
    """Mutable event counts of one simulation.

    Parameters
    ----------
    levels : int
        Levels per cell of the memory being counted; sizes the transition matrix.

    Attributes
    ----------
    cell_writes : ndarray of int64, shape (levels, levels)
        Programming events by transition, ``cell_writes[a, b]`` from level ``a`` to level ``b``; pulses per event
        (``per_level_step`` energy scaling) are derived from the transition at pricing time.
    counts : dict of str to int
        The scalar counts listed in :data:`COUNTS`.
    steps : dict of str to int
        Serial steps listed in :data:`SERIAL_STEPS`.
    """

    def __init__(self, levels: int):
        if not isinstance(levels, (int, np.integer)) or isinstance(levels, bool) or not 2 <= levels <= MAX_LEVELS:
            raise LedgerError(f"levels must be an integer in [2, {MAX_LEVELS}] (got {levels!r})")
        self.levels = int(levels)
        self.cell_writes = np.zeros((self.levels, self.levels), dtype=np.int64)
        self.counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self.steps: dict[str, int] = dict.fromkeys(SERIAL_STEPS, 0)

    # ------------------------------------------------------------------------------------------------ counting
    def add(self, **counts: int) -> None:
        """Add to scalar counts, e.g. ``ledger.add(adc_conversions=128, cell_reads=16384)``."""
        for key, n in counts.items():
            if key not in self.counts:
                raise LedgerError(f"unknown count {key!r}; counts are: {', '.join(COUNTS)}")
            self.counts[key] += _non_negative(key, n)

    def add_steps(self, **steps: int) -> None:
        """Add serial steps (critical-path events priced by latency), e.g. ``ledger.add_steps(adc=16)``."""
        for key, n in steps.items():
            if key not in self.steps:
                raise LedgerError(f"unknown serial step {key!r}; steps are: {', '.join(SERIAL_STEPS)}")
            self.steps[key] += _non_negative(key, n)

    def add_transitions(self, transitions: np.ndarray) -> None:
        """Add a (levels x levels) matrix of programming events by transition."""
        arr = np.asarray(transitions)
        if arr.shape != self.cell_writes.shape or arr.dtype.kind not in "iu" or (arr.size and arr.min() < 0):
            raise LedgerError(f"transitions must be a {self.levels}x{self.levels} matrix of non-negative integers "
                              f"(got shape {arr.shape}, dtype {arr.dtype})")
        self.cell_writes += arr

    @property
    def writes_total(self) -> int:
        """Total programming events (every transition)."""
        return int(self.cell_writes.sum())

    # ------------------------------------------------------------------------------------------ combination
    def copy(self) -> "Ledger":
        """An independent copy (a snapshot)."""
        out = Ledger(self.levels)
        out.cell_writes[:] = self.cell_writes
        out.counts.update(self.counts)
        out.steps.update(self.steps)
        return out

    def __sub__(self, earlier: "Ledger") -> "Ledger":
        """Events counted since the snapshot ``earlier``."""
        if not isinstance(earlier, Ledger) or earlier.levels != self.levels:
            raise LedgerError("can only subtract a ledger of the same cell levels")
        out = self.copy()
        out.cell_writes -= earlier.cell_writes
        for k in out.counts:
            out.counts[k] -= earlier.counts[k]
        for k in out.steps:
            out.steps[k] -= earlier.steps[k]
        return out

    def __add__(self, other: "Ledger") -> "Ledger":
        if not isinstance(other, Ledger) or other.levels != self.levels:
            raise LedgerError("can only add a ledger of the same cell levels")
        out = self.copy()
        out.cell_writes += other.cell_writes
        for k in out.counts:
            out.counts[k] += other.counts[k]
        for k in out.steps:
            out.steps[k] += other.steps[k]
        return out

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Ledger) and other.levels == self.levels
                and np.array_equal(other.cell_writes, self.cell_writes)
                and other.counts == self.counts and other.steps == self.steps)

    # ------------------------------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (integers only)."""
        return {"schema": SCHEMA, "levels": self.levels, "cell_writes": self.cell_writes.tolist(),
                "counts": dict(self.counts), "steps": dict(self.steps)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> "Ledger":
        """Rebuild counts saved by :meth:`to_dict`; raises :class:`LedgerError` naming what is wrong."""
        if not isinstance(data, dict):
            raise LedgerError(f"{source}: a ledger must be a JSON object, not {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise LedgerError(f"{source}: key 'schema' must be {SCHEMA!r} (got {data.get('schema')!r})")
        levels = data.get("levels")
        if not isinstance(levels, int) or isinstance(levels, bool) or not 2 <= levels <= MAX_LEVELS:
            raise LedgerError(f"{source}: key 'levels' must be an integer in [2, {MAX_LEVELS}] (got {levels!r})")
        out = cls(levels)
        matrix = data.get("cell_writes")
        try:
            arr = np.asarray(matrix)
            ok = arr.shape == (levels, levels) and arr.dtype.kind in "iu" and (arr >= 0).all()
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise LedgerError(f"{source}: key 'cell_writes' must be a {levels}x{levels} matrix of non-negative "
                              f"integers (got {str(matrix)[:60]})")
        out.cell_writes[:] = arr
        for section, names in (("counts", COUNTS), ("steps", SERIAL_STEPS)):
            given = data.get(section)
            if not isinstance(given, dict):
                raise LedgerError(f"{source}: key {section!r} must be an object (got {given!r})")
            for key, n in given.items():
                if key not in names:
                    raise LedgerError(f"{source}: unknown key '{section}.{key}'")
                if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_COUNT:
                    raise LedgerError(f"{source}: key '{section}.{key}' must be an integer in [0, 2**63) "
                                      f"(got {n!r})")
                getattr(out, section)[key] = n
        return out

    @classmethod
    def from_json(cls, text: str, source: str = "<json>") -> "Ledger":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LedgerError(f"{source}: not valid JSON: {exc}") from None
        return cls.from_dict(data, source)

    def __repr__(self) -> str:
        nonzero = {k: v for k, v in self.counts.items() if v}
        return f"Ledger(levels={self.levels}, writes_total={self.writes_total}, {nonzero})"


def _non_negative(key: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_COUNT:
        raise LedgerError(f"count {key!r} must be an integer in [0, 2**63) (got {n!r})")
    return int(n)


@dataclass(frozen=True)
class EnergyReport:
    """Counts priced by one profile.

    Attributes
    ----------
    profile : str
        Name of the pricing profile.
    energy_j : dict of str to float
        Joules by category (:data:`ENERGY_CATEGORIES`).
    time_s : dict of str to float
        Seconds by serial-step kind (:data:`SERIAL_STEPS`).
    """

    profile: str
    energy_j: dict[str, float]
    time_s: dict[str, float]

    @property
    def total_energy_j(self) -> float:
        return float(math.fsum(self.energy_j.values()))

    @property
    def total_time_s(self) -> float:
        return float(math.fsum(self.time_s.values()))

    @property
    def power_w(self) -> float:
        """Average power: total energy over simulated time (nan when no time was simulated but energy was spent)."""
        t, e = self.total_time_s, self.total_energy_j
        if t > 0:
            return e / t
        return 0.0 if e == 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        power = self.power_w
        return {"profile": self.profile, "energy_j": dict(self.energy_j), "time_s": dict(self.time_s),
                "total_energy_j": self.total_energy_j, "total_time_s": self.total_time_s,
                "power_w": None if math.isnan(power) else power}

    def format_table(self) -> str:
        """A small text table of energy by category, total, time and power."""
        total = self.total_energy_j
        lines = [f"{'category':<14}{'energy (J)':>14}{'share':>8}"]
        for cat, e in self.energy_j.items():
            share = f"{100 * e / total:6.1f}%" if total > 0 else "     -"
            lines.append(f"{cat:<14}{e:>14.4e}{share:>8}")
        lines.append(f"{'total':<14}{total:>14.4e}")
        lines.append(f"{'time (s)':<14}{self.total_time_s:>14.4e}")
        lines.append(f"{'power (W)':<14}{self.power_w:>14.4e}")
        return "\n".join(lines)


def step_latencies(profile: Profile) -> dict[str, float]:
    """Seconds per serial step of each kind in :data:`SERIAL_STEPS` under ``profile``."""
    dev, peri, core, chip = profile.device, profile.periphery, profile.core, profile.chip
    return {"write_set": dev.set_latency_s, "write_reset": dev.reset_latency_s, "write_verify": dev.read_latency_s,
            "crossbar_read": dev.read_latency_s, "dac": peri.dac_latency_s, "adc": peri.adc_latency_s,
            "noc_hop": chip.noc_latency_per_flit_hop_s, "neuron": core.neuron_update_latency_s,
            "clock": 1.0 / chip.clock_hz}


def price(ledger: Ledger, profile: Profile) -> EnergyReport:
    """Turn event counts into energy and time under ``profile``.

    Parameters
    ----------
    ledger : Ledger
        The counts (from this run, or loaded from another run's JSON).
    profile : Profile
        Prices and latencies. Its cells must have the ledger's number of levels, since write energy is priced per
        level transition.

    Returns
    -------
    EnergyReport
        Energy is the sum over categories of count x price, exactly.

    Raises
    ------
    LedgerError
        When the profile's cell levels differ from the ledger's.
    """
    dev, peri, core, chip, aux = profile.device, profile.periphery, profile.core, profile.chip, profile.aux_memory
    if dev.levels != ledger.levels:
        raise LedgerError(f"cannot price writes counted on {ledger.levels}-level cells with profile "
                          f"{profile.name!r}, whose cells have {dev.levels} levels (device.levels)")
    c = ledger.counts
    energy = {
        "write": float((ledger.cell_writes * dev.transition_energy_matrix()).sum()),
        "write_verify": c["write_verify_reads"] * dev.read_energy_j,
        "read": c["cell_reads"] * dev.read_energy_j,
        "dac": c["dac_conversions"] * peri.dac_energy_j,
        "adc": c["adc_conversions"] * peri.adc_energy_j,
        "noc": c["noc_flit_hops"] * chip.noc_energy_per_flit_hop_j,
        "neuron": c["neuron_updates"] * core.neuron_update_energy_j,
        "aux_memory": c["aux_bytes_read"] * aux.read_energy_per_byte_j
        + c["aux_bytes_written"] * aux.write_energy_per_byte_j,
    }
    latency = step_latencies(profile)
    time = {k: ledger.steps[k] * latency[k] for k in SERIAL_STEPS}
    return EnergyReport(profile=profile.name, energy_j=energy, time_s=time)
