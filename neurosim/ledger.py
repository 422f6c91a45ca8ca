"""Event counts and their pricing: "count events, price them later".

Simulation only counts (a :class:`Ledger`); :func:`price` turns counts and a profile into joules and seconds, in
one place, through two tables that are data: :data:`ENERGY_TABLE` (which count is priced by which profile field,
into which category) and :data:`LATENCY_TABLE` (which serial step takes which profile latency). Counts never depend
on prices, so a saved run re-priced under a profile that differs only in prices gives exactly the figures
re-simulating under it gives.

What is counted:

- ``cell_writes``: programming events by level transition (a matrix); SET and RESET pulses are derived from it at
  pricing time (``device.energy_scaling`` decides how many pulses a transition takes);
- ``cell_reads``: cell reads in crossbar MVMs by the level the cell holds (a cell on a row the input leaves at zero
  is not read); their energy is priced per level at pricing time (a level conducts between the on-level and
  ``1 / on_off_ratio`` of it);
- ``counts``: scalar events (:data:`COUNTS`);
- ``steps``: serial steps on the critical path that add up plainly (:data:`SERIAL_STEPS`);
- ``write_groups``: for each kind of write-circuit operation (SET, RESET, verify read), how many program calls
  handled how many cells. The cells of one call are handled ``write_policy.parallel_cells`` at a time, so its steps
  are ``ceil(cells / parallel_cells)``, worked out at pricing time;
- ``stages`` and ``pipelines``: the per-sample serial steps of each pipeline stage (one per analog layer, from the
  mapping) and how many batches of how many samples streamed through which stages. A batch of B samples takes the
  sum of its stages' times plus (B - 1) times its slowest stage's time; which stage is slowest depends on the
  latencies, so it too is decided at pricing time;
- ``static``: what leaks while time passes (cores in use, bytes of trainer state); leakage energy is its static
  power times the simulated time, worked out at pricing time.

The prices themselves are the profile's :class:`~neurosim.profiles.costs.Costs` (derived from component attributes
or pinned). Power is energy over the simulated time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LedgerError
from .profiles import Profile

SCHEMA = "neurosim.ledger/3"
MAX_LEVELS = 256  # the profile schema's bound on levels per cell
FLOAT_BYTES = 4  # auxiliary memory holds float32 values
MAX_COUNT = 2 ** 63 - 1  # counts beyond int64 are a bug upstream, not a workload

#: scalar event counts and what each one is
COUNTS: dict[str, str] = {
    "write_verify_reads": "cell reads done by read-before-write (write policy skip_unchanged)",
    "dac_conversions": "input DAC conversions (driven rows; a zero input drives nothing)",
    "wordline_activations": "word lines charged (one per driven row per tile)",
    "bitline_reads": "bit lines read (one per used column per tile per crossbar read)",
    "sample_holds": "column outputs sampled for conversion",
    "adc_conversions": "output ADC conversions",
    "noc_flit_hops": "flits moved one hop on the network-on-chip",
    "neuron_updates": "neuron accumulate/activate updates (and shift-adds of converted columns)",
    "buffer_bytes_read": "bytes read from the cores' activation buffers",
    "buffer_bytes_written": "bytes written to the cores' activation buffers",
    "aux_bytes_read": "bytes read from auxiliary (SRAM) memory",
    "aux_bytes_written": "bytes written to auxiliary (SRAM) memory",
    "macs": "multiply-accumulates the network asked for (work done, not priced: TOPS = 2 x macs / time)",
    "spikes": "spikes emitted by spiking neurons (the input encoding's included)",
    "synaptic_events": "spikes reaching a synapse of non-zero weight (spike x non-zero fan-out)",
    "neuron_ticks": "spiking neurons updated in a tick without synaptic input",
    "active_neuron_ticks": "spiking neurons updated in a tick with synaptic input",
    "lut_lookups": "lookup-table reads of products (work done; priced by the bytes they read)",
    "lut_bytes_read": "bytes read from lookup tables",
    "int_adds": "integer additions (lookup-table accumulation, bias and threshold steps)",
    "offchip_bytes_read": "bytes of spilled trainer state read from off-chip memory",
    "offchip_bytes_written": "bytes of spilled trainer state written to off-chip memory",
}
#: counts that measure work rather than events with a price
UNPRICED_COUNTS: tuple[str, ...] = ("macs", "lut_lookups")
#: what leaks over time, and what it is counted in
STATIC_UNITS: dict[str, str] = {"cores": "cores in use", "aux_bytes": "bytes of trainer state held in aux memory"}

#: serial steps (critical-path events), each priced by one latency of :data:`LATENCY_TABLE`
SERIAL_STEPS: tuple[str, ...] = ("write_set", "write_reset", "write_verify", "crossbar_read", "dac", "adc",
                                 "noc_hop", "neuron", "clock", "tick")

#: write-circuit operations counted as groups of cells per program call (steps = ceil(cells / parallel_cells))
WRITE_GROUPS: tuple[str, ...] = ("write_set", "write_reset", "write_verify")

ENERGY_CATEGORIES: tuple[str, ...] = ("write", "write_verify", "read", "wire", "dac", "adc", "sample_hold", "noc",
                                     "neuron", "buffer", "aux_memory", "off_chip", "synapse", "spike", "lut",
                                     "leakage")


@dataclass(frozen=True)
class EnergyRule:
    """One row of the price table: ``count`` x the profile value at ``field`` joules go to ``category``."""

    count: str
    field: str
    category: str


#: every count and the cost (SI, from the profile's ``costs``: derived or pinned) that prices it. ``set_pulses``,
#: ``reset_pulses`` and ``read_on_equivalents`` are derived from the transition matrix and the reads by level at
#: pricing time (see :func:`derived_counts`). Leakage is priced apart: static power x simulated time.
ENERGY_TABLE: tuple[EnergyRule, ...] = (
    EnergyRule("set_pulses", "costs.set_energy_j", "write"),
    EnergyRule("reset_pulses", "costs.reset_energy_j", "write"),
    EnergyRule("write_verify_reads", "costs.read_energy_j", "write_verify"),
    EnergyRule("read_on_equivalents", "costs.read_energy_j", "read"),
    EnergyRule("wordline_activations", "costs.wordline_energy_j", "wire"),
    EnergyRule("bitline_reads", "costs.bitline_energy_j", "wire"),
    EnergyRule("dac_conversions", "costs.dac_energy_j", "dac"),
    EnergyRule("adc_conversions", "costs.adc_energy_j", "adc"),
    EnergyRule("sample_holds", "costs.sample_hold_energy_j", "sample_hold"),
    EnergyRule("noc_flit_hops", "costs.noc_energy_per_flit_hop_j", "noc"),
    EnergyRule("neuron_updates", "costs.neuron_update_energy_j", "neuron"),
    EnergyRule("buffer_bytes_read", "costs.buffer_read_energy_per_byte_j", "buffer"),
    EnergyRule("buffer_bytes_written", "costs.buffer_write_energy_per_byte_j", "buffer"),
    EnergyRule("aux_bytes_read", "costs.aux_read_energy_per_byte_j", "aux_memory"),
    EnergyRule("aux_bytes_written", "costs.aux_write_energy_per_byte_j", "aux_memory"),
    EnergyRule("offchip_bytes_read", "costs.offchip_energy_per_byte_j", "off_chip"),
    EnergyRule("offchip_bytes_written", "costs.offchip_energy_per_byte_j", "off_chip"),
    EnergyRule("synaptic_events", "costs.synaptic_event_energy_j", "synapse"),
    EnergyRule("neuron_ticks", "costs.neuron_tick_energy_j", "neuron"),
    EnergyRule("active_neuron_ticks", "costs.active_neuron_tick_energy_j", "neuron"),
    EnergyRule("spikes", "costs.spike_energy_j", "spike"),
    EnergyRule("lut_bytes_read", "costs.lut_read_energy_per_byte_j", "lut"),
    EnergyRule("int_adds", "costs.int_add_energy_j", "neuron"),
)

#: static power per unit of :data:`STATIC_UNITS`
STATIC_TABLE: dict[str, str] = {"cores": "costs.core_leakage_w", "aux_bytes": "costs.aux_leakage_w_per_byte"}

#: every serial step kind and the cost (seconds) one step takes
LATENCY_TABLE: dict[str, str] = {
    "write_set": "costs.set_latency_s",
    "write_reset": "costs.reset_latency_s",
    "write_verify": "costs.read_latency_s",
    "crossbar_read": "costs.read_latency_s",
    "dac": "costs.dac_latency_s",
    "adc": "costs.adc_latency_s",
    "noc_hop": "costs.noc_latency_per_flit_hop_s",
    "neuron": "costs.neuron_update_latency_s",
    "clock": "costs.clock_period_s",
    "tick": "costs.tick_s",
}

#: the profile field that sets how many cells one write group step handles
WRITE_PARALLELISM_FIELD = "write_policy.parallel_cells"


def profile_value(profile: Profile, path: str) -> Any:
    """The value at a dotted attribute path of a profile, e.g. ``"device.set_energy_j"``."""
    section, attribute = path.split(".")
    return getattr(getattr(profile, section), attribute)


class Ledger:
    """Mutable event counts of one simulation.

    Parameters
    ----------
    levels : int
        Levels per cell of the memory being counted; sizes the transition matrix.

    Attributes
    ----------
    cell_writes : ndarray of int64, shape (levels, levels)
        Programming events by transition, ``cell_writes[a, b]`` from level ``a`` to level ``b``.
    cell_reads : ndarray of int64, shape (levels,)
        Cell reads in crossbar MVMs by the level the cell holds.
    counts : dict of str to int
        The scalar counts listed in :data:`COUNTS`.
    steps : dict of str to int
        Serial steps that add up plainly (:data:`SERIAL_STEPS`).
    write_groups : dict of str to dict of int to int
        Per kind in :data:`WRITE_GROUPS`: cells handled in one program call -> number of such calls.
    stages : dict of str to dict of str to int
        Pipeline stage name -> serial steps one sample takes in it, by kind.
    pipelines : dict of tuple of str to (int, int)
        The stages a batch streamed through -> (batches, samples).
    static : dict of str to int
        What leaks while time passes (:data:`STATIC_UNITS`), declared by the chip and the training session.
    """

    def __init__(self, levels: int):
        if not isinstance(levels, (int, np.integer)) or isinstance(levels, bool) or not 2 <= levels <= MAX_LEVELS:
            raise LedgerError(f"levels must be an integer in [2, {MAX_LEVELS}] (got {levels!r})")
        self.levels = int(levels)
        self.cell_writes = np.zeros((self.levels, self.levels), dtype=np.int64)
        self.cell_reads = np.zeros(self.levels, dtype=np.int64)
        self.counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self.steps: dict[str, int] = dict.fromkeys(SERIAL_STEPS, 0)
        self.write_groups: dict[str, dict[int, int]] = {k: {} for k in WRITE_GROUPS}
        self.stages: dict[str, dict[str, int]] = {}
        self.pipelines: dict[tuple[str, ...], tuple[int, int]] = {}
        self.static: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------------ counting
    def add(self, **counts: int) -> None:
        """Add to scalar counts, e.g. ``ledger.add(adc_conversions=128, cell_reads=16384)``."""
        for key, n in counts.items():
            if key not in self.counts:
                raise LedgerError(f"unknown count {key!r}; counts are: {', '.join(COUNTS)}")
            self.counts[key] += _non_negative(key, n)

    def add_steps(self, **steps: int) -> None:
        """Add serial steps that add up plainly, e.g. ``ledger.add_steps(neuron=16)``."""
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

    def add_cell_reads(self, by_level: np.ndarray) -> None:
        """Add crossbar cell reads by the level each read cell holds (a vector of ``levels`` counts)."""
        arr = np.asarray(by_level)
        if arr.shape != self.cell_reads.shape or arr.dtype.kind not in "iu" or (arr.size and arr.min() < 0):
            raise LedgerError(f"cell reads must be {self.levels} non-negative integer counts, one per level "
                              f"(got shape {arr.shape}, dtype {arr.dtype})")
        self.cell_reads += arr

    def declare_static(self, **units: int) -> None:
        """Declare what leaks while time passes, e.g. ``declare_static(cores=4)`` (replaces an earlier value)."""
        for key, n in units.items():
            if key not in STATIC_UNITS:
                raise LedgerError(f"unknown static unit {key!r}; units are: {', '.join(STATIC_UNITS)}")
            n = _non_negative(key, n)
            if n:
                self.static[key] = n
            else:
                self.static.pop(key, None)

    def add_write_groups(self, **cells: int) -> None:
        """Count one program call's write-circuit work, e.g. ``add_write_groups(write_set=70, write_verify=300)``:
        the cells each operation handled in the call (a group of 0 cells takes no step and is not kept)."""
        for key, n in cells.items():
            if key not in self.write_groups:
                raise LedgerError(f"unknown write group {key!r}; groups are: {', '.join(WRITE_GROUPS)}")
            n = _non_negative(key, n)
            if n:
                groups = self.write_groups[key]
                groups[n] = groups.get(n, 0) + 1

    def declare_stages(self, stages: Mapping[str, Mapping[str, int]]) -> None:
        """Declare pipeline stages (name -> serial steps one sample takes, by kind). A stage already declared must
        be declared the same way."""
        for name, steps in stages.items():
            clean = {}
            for key, n in steps.items():
                if key not in SERIAL_STEPS:
                    raise LedgerError(f"stage {name!r}: unknown serial step {key!r}; steps are: "
                                      f"{', '.join(SERIAL_STEPS)}")
                clean[key] = _non_negative(f"{name}.{key}", n)
            if name in self.stages and self.stages[name] != clean:
                raise LedgerError(f"stage {name!r} is already declared with other steps ({self.stages[name]})")
            self.stages[str(name)] = clean

    def add_pipeline(self, stages: tuple[str, ...], samples: int, batches: int = 1) -> None:
        """Count ``batches`` batches, ``samples`` samples in all, streaming through the declared ``stages``."""
        stages = tuple(stages)
        unknown = [s for s in stages if s not in self.stages]
        if unknown or not stages:
            raise LedgerError(f"pipeline stages must be declared first (unknown: {unknown or 'none given'})")
        samples, batches = _non_negative("samples", samples), _non_negative("batches", batches)
        if samples < batches:
            raise LedgerError(f"a pipeline run needs at least one sample per batch ({samples} samples, "
                              f"{batches} batches)")
        if batches:
            old_b, old_s = self.pipelines.get(stages, (0, 0))
            self.pipelines[stages] = (old_b + batches, old_s + samples)

    @property
    def writes_total(self) -> int:
        """Total programming events (every transition)."""
        return int(self.cell_writes.sum())

    @property
    def reads_total(self) -> int:
        """Total crossbar cell reads (every level)."""
        return int(self.cell_reads.sum())

    # ------------------------------------------------------------------------------------------ derived counts
    def serial_steps(self, profile: Profile) -> dict[str, int]:
        """Serial steps by kind under ``profile``: the plain steps, the write groups divided into
        ``parallel_cells``-sized steps, and every pipeline run (its stages once per batch, its slowest stage once
        more per further sample). Integers: the only price-dependent choice is which stage is slowest."""
        out = dict(self.steps)
        p = int(profile_value(profile, WRITE_PARALLELISM_FIELD))
        for kind, groups in self.write_groups.items():
            out[kind] += sum(calls * -(-cells // p) for cells, calls in groups.items())
        latency = latencies(profile)
        for stages, (batches, samples) in self.pipelines.items():
            steps = [self.stages[s] for s in stages]
            slowest = max(steps, key=lambda st: sum(n * latency[k] for k, n in st.items()))  # first of equals
            for st in steps:
                for k, n in st.items():
                    out[k] += batches * n
            for k, n in slowest.items():
                out[k] += (samples - batches) * n
        return out

    def without_writes(self) -> Ledger:
        """A copy with every write event removed (transitions, verify reads, write groups) and no trainer state
        leaking: what inference reports price."""
        out = self.copy()
        out.static.pop("aux_bytes", None)
        out.cell_writes[:] = 0
        out.counts["write_verify_reads"] = 0
        for kind in WRITE_GROUPS:
            out.steps[kind] = 0
            out.write_groups[kind] = {}
        return out

    # ------------------------------------------------------------------------------------------ combination
    def copy(self) -> Ledger:
        """An independent copy (a snapshot)."""
        out = Ledger(self.levels)
        out.cell_writes[:] = self.cell_writes
        out.cell_reads[:] = self.cell_reads
        out.counts.update(self.counts)
        out.steps.update(self.steps)
        out.write_groups = {k: dict(v) for k, v in self.write_groups.items()}
        out.stages = {k: dict(v) for k, v in self.stages.items()}
        out.pipelines = dict(self.pipelines)
        out.static = dict(self.static)
        return out

    def merge(self, other: Ledger) -> None:
        """Add ``other``'s counts to this ledger in place (events an executor or a trainer caused)."""
        self._check_compatible(other, "add")
        self.cell_writes += other.cell_writes
        self.cell_reads += other.cell_reads
        for k, n in other.counts.items():
            self.counts[k] += n
        for k, n in other.steps.items():
            self.steps[k] += n
        for kind, groups in other.write_groups.items():
            mine = self.write_groups[kind]
            for cells, calls in groups.items():
                mine[cells] = mine.get(cells, 0) + calls
        self.declare_stages(other.stages)
        for stages, (batches, samples) in other.pipelines.items():
            old_b, old_s = self.pipelines.get(stages, (0, 0))
            self.pipelines[stages] = (old_b + batches, old_s + samples)
        self.static.update(other.static)  # declarations, not counts: the latest holds

    def __add__(self, other: Ledger) -> Ledger:
        out = self.copy()
        out.merge(other)
        return out

    def __sub__(self, earlier: Ledger) -> Ledger:
        """Events counted since the snapshot ``earlier``."""
        self._check_compatible(earlier, "subtract")
        out = self.copy()
        out.cell_writes -= earlier.cell_writes
        out.cell_reads -= earlier.cell_reads
        for k in out.counts:
            out.counts[k] -= earlier.counts[k]
        for k in out.steps:
            out.steps[k] -= earlier.steps[k]
        for kind, groups in earlier.write_groups.items():
            mine = out.write_groups[kind]
            for cells, calls in groups.items():
                mine[cells] = mine.get(cells, 0) - calls
                if mine[cells] == 0:
                    del mine[cells]
        for stages, (batches, samples) in earlier.pipelines.items():
            b, s = out.pipelines.get(stages, (0, 0))
            if (b, s) == (batches, samples):
                out.pipelines.pop(stages, None)
            else:
                out.pipelines[stages] = (b - batches, s - samples)
        if (out.cell_writes.min(initial=0) < 0 or out.cell_reads.min(initial=0) < 0 or min(out.counts.values()) < 0
                or min(out.steps.values()) < 0
                or any(c < 0 for g in out.write_groups.values() for c in g.values())
                or any(b < 0 or s < 0 for b, s in out.pipelines.values())):
            raise LedgerError("can only subtract an earlier snapshot of the same ledger (a count would be negative)")
        return out

    def _check_compatible(self, other: object, verb: str) -> None:
        if not isinstance(other, Ledger) or other.levels != self.levels:
            raise LedgerError(f"can only {verb} a ledger of the same cell levels")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Ledger) and other.levels == self.levels
                and np.array_equal(other.cell_writes, self.cell_writes)
                and np.array_equal(other.cell_reads, self.cell_reads) and other.static == self.static
                and other.counts == self.counts and other.steps == self.steps
                and other.write_groups == self.write_groups and other.stages == self.stages
                and other.pipelines == self.pipelines)

    # ------------------------------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (integers only; histogram keys as decimal strings, pipeline stages joined by '+')."""
        return {"schema": SCHEMA, "levels": self.levels, "cell_writes": self.cell_writes.tolist(),
                "cell_reads": self.cell_reads.tolist(), "counts": dict(self.counts), "steps": dict(self.steps),
                "write_groups": {k: {str(c): n for c, n in sorted(g.items())} for k, g in self.write_groups.items()},
                "stages": {k: dict(v) for k, v in self.stages.items()},
                "pipelines": {"+".join(k): [b, s] for k, (b, s) in self.pipelines.items()},
                "static": dict(self.static)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Ledger:
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
        reads = data.get("cell_reads")
        try:
            arr = np.asarray(reads)
            ok = arr.shape == (levels,) and arr.dtype.kind in "iu" and (arr >= 0).all()
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise LedgerError(f"{source}: key 'cell_reads' must be {levels} non-negative integers, one per level "
                              f"(got {str(reads)[:60]})")
        out.cell_reads[:] = arr
        for section, names in (("counts", COUNTS), ("steps", SERIAL_STEPS), ("static", STATIC_UNITS)):
            given = _object(data, section, source)
            for key, n in given.items():
                if key not in names:
                    raise LedgerError(f"{source}: unknown key '{section}.{key}'")
                getattr(out, section)[key] = _stored_count(n, f"{section}.{key}", source)
        groups = _object(data, "write_groups", source)
        for kind in groups:
            if kind not in WRITE_GROUPS:
                raise LedgerError(f"{source}: unknown key 'write_groups.{kind}'")
            for cells, calls in _object(groups, kind, source, "write_groups.").items():
                size = _decimal(cells, f"write_groups.{kind}", source)
                out.write_groups[kind][size] = _stored_count(calls, f"write_groups.{kind}.{cells}", source)
        stages = _object(data, "stages", source)
        try:
            out.declare_stages({name: _object(stages, name, source, "stages.") for name in stages})
        except LedgerError as exc:
            raise LedgerError(f"{source}: {exc}") from None
        for key, value in _object(data, "pipelines", source).items():
            names = tuple(key.split("+"))
            if not (isinstance(value, list) and len(value) == 2):
                raise LedgerError(f"{source}: key 'pipelines.{key}' must be [batches, samples] (got {value!r})")
            batches, samples = (_stored_count(v, f"pipelines.{key}", source) for v in value)
            try:
                out.add_pipeline(names, samples, batches)
            except LedgerError as exc:
                raise LedgerError(f"{source}: key 'pipelines.{key}': {exc}") from None
        return out

    @classmethod
    def from_json(cls, text: str, source: str = "<json>") -> Ledger:
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


def _object(data: dict, key: str, source: str, prefix: str = "") -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise LedgerError(f"{source}: key '{prefix}{key}' must be an object (got {value!r})")
    return value


def _stored_count(n: Any, key: str, source: str) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_COUNT:
        raise LedgerError(f"{source}: key '{key}' must be an integer in [0, 2**63) (got {n!r})")
    return n


def _decimal(text: Any, key: str, source: str) -> int:
    if not (isinstance(text, str) and text.isdigit() and text == str(int(text)) and int(text) > 0):
        raise LedgerError(f"{source}: key '{key}' must map cell counts (positive decimal integers) to calls "
                          f"(got key {text!r})")
    return _stored_count(int(text), key, source)


# ----------------------------------------------------------------------------------------------------- pricing
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


def latencies(profile: Profile) -> dict[str, float]:
    """Seconds per serial step of each kind in :data:`SERIAL_STEPS` under ``profile`` (from :data:`LATENCY_TABLE`)."""
    return {kind: float(profile_value(profile, path)) for kind, path in LATENCY_TABLE.items()}


def write_pulses(cell_writes: np.ndarray, energy_scaling: str) -> dict[str, int]:
    """SET and RESET pulses of a transition matrix.

    Raising the level is a SET, lowering it a RESET; re-writing the held level (only under the ``always`` write
    policy) applies the pulse that targets it: SET for any level above 0, RESET for level 0. Under
    ``per_level_step`` scaling a transition takes one pulse per level crossed (at least one).
    """
    levels = cell_writes.shape[0]
    a = np.arange(levels)[:, None]
    b = np.arange(levels)[None, :]
    up = (b > a) | ((b == a) & (b > 0))
    pulses = np.maximum(np.abs(b - a), 1) if energy_scaling == "per_level_step" else np.ones((levels, levels), int)
    weighted = cell_writes * pulses
    return {"set_pulses": int(weighted[up].sum()), "reset_pulses": int(weighted[~up].sum())}


def read_on_equivalents(cell_reads: np.ndarray, off_fraction: float) -> float:
    """Cell reads by level in units of one read at the highest level: level l of L conducts
    ``off + (1 - off) l / (L - 1)`` of the highest level's conductance (``off = 1 / on_off_ratio``)."""
    levels = cell_reads.shape[0]
    weight = off_fraction + (1.0 - off_fraction) * np.arange(levels) / (levels - 1)
    return float(np.dot(cell_reads.astype(np.float64), weight))


def derived_counts(ledger: Ledger, profile: Profile) -> dict[str, float]:
    """The counts the price table reads: the ledger's scalar counts plus those derived at pricing time from its
    transition matrix (SET and RESET pulses, per ``device.energy_scaling``) and its reads by level (in on-level
    read equivalents, per ``device.on_off_ratio``)."""
    counts: dict[str, float] = dict(ledger.counts)
    counts.update(write_pulses(ledger.cell_writes, profile.device.energy_scaling))
    counts["read_on_equivalents"] = read_on_equivalents(ledger.cell_reads, profile.costs.read_off_fraction)
    return counts


def static_power(ledger: Ledger, profile: Profile) -> float:
    """Watts leaking while the counted work runs (:data:`STATIC_TABLE` x the ledger's static units)."""
    return math.fsum(n * float(profile_value(profile, STATIC_TABLE[unit])) for unit, n in ledger.static.items())


def stage_times(ledger: Ledger, profile: Profile) -> dict[str, float]:
    """Seconds one sample spends in each declared pipeline stage under ``profile``."""
    latency = latencies(profile)
    return {name: sum(n * latency[k] for k, n in steps.items()) for name, steps in ledger.stages.items()}


def price(ledger: Ledger, profile: Profile) -> EnergyReport:
    """Turn event counts into energy and time under ``profile``: one generic pass over :data:`ENERGY_TABLE`,
    :data:`LATENCY_TABLE` and :data:`STATIC_TABLE`, reading the profile's costs (derived or pinned).

    Parameters
    ----------
    ledger : Ledger
        The counts (from this run, or loaded from another run's JSON).
    profile : Profile
        Prices and latencies. Its cells must have the ledger's number of levels, since writes and reads are priced
        per level.

    Returns
    -------
    EnergyReport
        Energy by category: the sum of count x price over the table's rows of that category, and leakage (static
        power x the simulated time).

    Raises
    ------
    LedgerError
        When the profile's cell levels differ from the ledger's.
    """
    if profile.device.levels != ledger.levels:
        raise LedgerError(f"cannot price writes counted on {ledger.levels}-level cells with profile "
                          f"{profile.name!r}, whose cells have {profile.device.levels} levels (device.levels)")
    counts = derived_counts(ledger, profile)
    energy = dict.fromkeys(ENERGY_CATEGORIES, 0.0)
    for rule in ENERGY_TABLE:
        n = counts[rule.count]
        if n:
            energy[rule.category] += n * float(profile_value(profile, rule.field))
    latency = latencies(profile)
    steps = ledger.serial_steps(profile)
    time = {k: steps[k] * latency[k] for k in SERIAL_STEPS}
    energy["leakage"] = static_power(ledger, profile) * math.fsum(time.values())
    return EnergyReport(profile=profile.name, energy_j=energy, time_s=time)
