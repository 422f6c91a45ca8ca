"""The simulated non-volatile memory: integer cell levels behind one door, :meth:`NVMArray.program`.

Every programming event is counted per cell, priced by transition in the ledger, wears the cell, and may fail it.
Reads return effective levels: stuck cells hold their stuck level, programming noise and drift apply where the
profile has them.

Modelling choices (documented here because they change numbers):

- *Fault map.* The write controller knows which cells are stuck (manufacture faults from the post-fabrication test,
  wear-out from the write-verify that failed them) and never programs them again, so a request for a stuck cell
  costs nothing and is reported as ``blocked``.
- *Wear-out.* Cell ``i`` survives ``endurance[i]`` programming events, drawn at creation from a log-normal around
  the profile's median; the event that reaches it still lands, then the cell is stuck (at that level, or at the
  low/high level, per ``device.stuck_policy``).
- *Read-before-write.* Under ``skip_unchanged`` each requested healthy cell is read first (a verify read, counted
  and priced); only changed cells are programmed. Under ``always`` every requested healthy cell is programmed.
- *Time.* Cells are programmed ``write_policy.parallel_cells`` at a time: the SETs, RESETs and verify reads of one
  call each take ``ceil(n / parallel_cells)`` serial steps (the ledger keeps each call's ``n``; the steps are
  worked out when it is priced).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import WriteRequestError
from ..ledger import Ledger
from ..profiles import Profile, load_profile
from . import _kernels

_FAIL_MODES = {"last": 0, "low": 1, "high": 2}
_MAX_ENDURANCE = 2 ** 62
_UINT32_MAX = 2 ** 32 - 1


@dataclass(frozen=True)
class ProgramResult:
    """What one :meth:`NVMArray.program` call did.

    Attributes
    ----------
    requested : int
        Cells named in the request.
    written : int
        Programming events (cells whose level was changed, or re-written under the ``always`` policy).
    blocked : int
        Requests that asked a stuck cell for a level it does not hold (not programmed, see the fault map).
    newly_failed : int
        Cells whose endurance ran out during this call.
    written_cells : ndarray of int64
        Flat indices of the programmed cells, in request order.
    """

    requested: int
    written: int
    blocked: int
    newly_failed: int
    written_cells: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class LifetimeProjection:
    """When the first cell would wear out if writing went on at the rate seen so far.

    Attributes
    ----------
    steps_observed : int
        Update steps the rates are measured over.
    lifetime_steps : float
        Projected total steps until the first healthy cell reaches its own endurance, at each cell's observed
        write rate (``inf`` when nothing was written).
    lifetime_steps_median_endurance : float
        The same with every cell at the profile's median endurance and the worst cell's rate (the usual headline).
    first_failure_step : int or None
        The step at which a cell first wore out during the run, if one did. Then ``lifetime_steps`` is that step:
        an observed failure, not a projection.
    lifetime_steps_1pct : float
        Projected steps until 1 % of the cells have worn out (each written cell at its own endurance and observed
        rate, cells already worn out included; ``inf`` when fewer than 1 % of the cells are written at all).
    """

    steps_observed: int
    lifetime_steps: float
    lifetime_steps_median_endurance: float
    first_failure_step: int | None
    lifetime_steps_1pct: float = math.inf

    def to_dict(self) -> dict[str, Any]:
        def finite(x: float) -> float | None:
            return None if math.isinf(x) else x
        return {"steps_observed": self.steps_observed, "lifetime_steps": finite(self.lifetime_steps),
                "lifetime_steps_median_endurance": finite(self.lifetime_steps_median_endurance),
                "first_failure_step": self.first_failure_step,
                "lifetime_steps_1pct": finite(self.lifetime_steps_1pct)}


@dataclass(frozen=True)
class MemorySummary:
    """Write and wear statistics of an :class:`NVMArray` (see ``ALGORITHMS.md``, shared definitions)."""

    n_cells: int
    steps: int
    writes_total: int
    writes_max_cell: int
    write_density: float
    cells_written: int
    cells_failed: int
    cells_faulty_at_manufacture: int
    lifetime: LifetimeProjection

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("n_cells", "steps", "writes_total", "writes_max_cell", "write_density",
                                           "cells_written", "cells_failed", "cells_faulty_at_manufacture")}
        d["lifetime"] = self.lifetime.to_dict()
        return d


class NVMArray:
    """An array of simulated NVM cells with per-cell write, energy and endurance accounting.

    Parameters
    ----------
    n_cells : int
        Number of cells (flat; mapping code decides which cell is which crossbar position).
    profile : Profile or str
        Device and write-policy figures (a shipped name or a path is loaded).
    seed : int or numpy.random.Generator
        Seeds every random draw (endurance, manufacture faults, programming noise): same seed, same state.
    ledger : Ledger, optional
        Where writes and verify reads are counted; a new one is made if not given.
    initial_level : int
        Level every healthy cell holds at creation (formed/initialised state; not counted as writes).

    Notes
    -----
    Draw order at creation is fixed (endurance, then manufacture faults), so adding a feature that draws later
    never changes earlier draws.
    """

    def __init__(self, n_cells: int, profile: Profile | str, *, seed: int | np.random.Generator = 0,
                 ledger: Ledger | None = None, initial_level: int = 0):
        self.profile = load_profile(profile)
        dev = self.profile.device
        if isinstance(n_cells, bool) or not isinstance(n_cells, (int, np.integer)) or n_cells < 1:
            raise WriteRequestError(f"n_cells must be a positive integer (got {n_cells!r})")
        if not (0 <= initial_level < dev.levels):
            raise WriteRequestError(f"initial_level must be in [0, {dev.levels - 1}] (got {initial_level!r})")
        self.n_cells = int(n_cells)
        self.levels = dev.levels
        self.ledger = ledger if ledger is not None else Ledger(dev.levels)
        if self.ledger.levels != dev.levels:
            raise WriteRequestError(f"ledger counts {self.ledger.levels}-level cells, the profile's cells have "
                                    f"{dev.levels}")
        self._rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._always = self.profile.write_policy.mode == "always"
        self._per_step = dev.energy_scaling == "per_level_step"
        self._fail_mode = _FAIL_MODES[dev.stuck_policy]

        n = self.n_cells
        self._stored = np.full(n, initial_level, dtype=np.uint8)
        self._stuck = np.zeros(n, dtype=np.uint8)
        # writes, SET pulses, RESET pulses, endurance: one 16-byte row per cell so that a million cells' counters
        # fit in the last-level cache (see _kernels.program_indexed); promoted to int64 before any could overflow.
        self._wear = np.zeros((n, 4), dtype=np.uint32)
        if dev.endurance_sigma > 0:
            draw = dev.endurance_cycles * np.exp(dev.endurance_sigma * self._rng.standard_normal(n))
        else:
            draw = np.full(n, dev.endurance_cycles)
        self._endurance = np.clip(np.floor(draw), 1, _MAX_ENDURANCE).astype(np.int64)
        self._wear[:, 3] = np.minimum(self._endurance, _UINT32_MAX)
        self._requested_total = 0
        u = self._rng.random(n)
        low = u < dev.stuck_at_low_rate
        high = ~low & (u < dev.stuck_at_low_rate + dev.stuck_at_high_rate)
        self._stored[low] = 0
        self._stored[high] = dev.levels - 1
        self._stuck[low | high] = 1
        self._manufacture_faults = int(np.count_nonzero(low | high))
        self._n_stuck = self._manufacture_faults
        # Noise and drift state only exists where the profile has them (keeps ideal memories lean and exact).
        self._offsets = np.zeros(n if dev.write_noise_sigma > 0 else 0, dtype=np.float32)
        self._write_time = np.zeros(n if dev.drift_nu > 0 else 0, dtype=np.float64)
        self._written_buf = np.empty(0, dtype=np.int64)
        self._noise_buf = np.empty(0, dtype=np.float32)
        self._diff_buf = np.empty(n, dtype=np.int64)
        self._run_starts = np.empty(64, dtype=np.int64)  # increasing runs of a request (one per layer, usually)
        self._repeat: tuple | None = None  # (cells object, version, targets, stuck positions): _remember_request
        self.clock_s = 0.0
        self.steps = 0
        self.version = 0  # bumped by anything that changes what a read returns (caches key on it)
        self.disturbed_cells = 0  # cells changed by digital drift (not writes: no energy, no wear)
        self.first_failure_step: int | None = None
        self._last_change: tuple[int, np.ndarray, np.ndarray] | None = None  # see changes_at()

    # ------------------------------------------------------------------------------------------ the one door
    def program(self, cells: Any, levels: Any) -> ProgramResult:
        """Program cells to levels: the only way a cell is written (digital_drift changes levels without a write).

        Parameters
        ----------
        cells : array_like of int or None
            Flat cell indices, or None for a whole-array request (``levels`` then gives every cell's level).
            A cell named twice is programmed twice, in order.
        levels : array_like of int
            Target level of each named cell, in ``[0, levels - 1]``.

        Returns
        -------
        ProgramResult
            What was written, blocked and failed. Each call is one update step for write density and lifetime.

        Raises
        ------
        WriteRequestError
            For non-integer or out-of-range indices or levels, or mismatched lengths.
        """
        if cells is None:
            targets = self._check_levels(levels)
            if targets.shape != (self.n_cells,):
                raise WriteRequestError(f"a whole-array request needs {self.n_cells} levels (got shape "
                                        f"{targets.shape})")
            index = None
        else:
            index, targets = self._check_request(cells, levels)
        requested = targets.size
        self._guard_counter_width(requested)
        if self._written_buf.size < requested:
            self._written_buf = np.empty(max(requested, 2 * self._written_buf.size), dtype=np.int64)
        transitions = np.zeros((self.levels, self.levels), dtype=np.int64)
        args = (self._stored, self._stuck, self._wear)
        tail = (self._always, self._per_step, self._fail_mode, self.levels - 1, transitions, self._written_buf)
        if index is None:
            # Whole-array request: only differing cells can be written or blocked (unless the policy rewrites all).
            if self._always:
                index = np.arange(self.n_cells, dtype=np.int64)
            else:
                n8 = (self.n_cells // 8) * 8
                n_diff = _kernels.differing_cells(self._stored, targets, self._stored[:n8].view(np.uint64),
                                                  targets[:n8].view(np.uint64), self._diff_buf)
                index = self._diff_buf[:n_diff].copy()  # kept by changes_at(): not a view of a reused buffer
                targets = targets[index]
            n_healthy_before = self.n_cells - self._n_stuck
            touched, before = index, self._stored[index]
            n_written, n_blocked, n_failed, n_set, _ = _kernels.program_indexed(*args, index, targets, *tail)
            n_checked = n_healthy_before
        else:
            if self._diff_buf.size < requested:
                self._diff_buf = np.empty(requested, dtype=np.int64)
            full_index, full_targets = index, targets
            repeat = self._repeat_positions(cells, targets)
            # a repeat of the last request's cells examines only the entries whose target changed and the stuck
            # cells (see _remember_request); every other entry is a healthy cell already at its target
            scan_index, scan_targets = (index, targets) if repeat is None else (index[repeat], targets[repeat])
            n_cand, n_checked, bad, runs = _kernels.scan_request(
                scan_index, scan_targets, self._stored, self._stuck, self.n_cells, self.levels, self._always,
                self._diff_buf, self._run_starts)
            if bad >= 0:
                if not 0 <= scan_index[bad] < self.n_cells:
                    raise WriteRequestError(f"cell index must be in [0, {self.n_cells - 1}] "
                                            f"(got {scan_index[bad]})")
                raise WriteRequestError(f"levels must be in [0, {self.levels - 1}] (got {scan_targets[bad]})")
            touched = before = positions = None  # a cell named twice: what it held is not one value per cell
            if repeat is not None:
                n_checked += requested - repeat.size
                positions = repeat[self._diff_buf[:n_cand]]
            elif self._distinct(index, runs):  # no cell named twice: only the candidates need the write path
                positions = self._diff_buf[:n_cand].copy()
            if positions is not None:
                index, targets = index[positions], targets[positions]
                touched, before = index, self._stored[index]
            n_written, n_blocked, n_failed, n_set, _ = _kernels.program_indexed(
                *args, index, targets.astype(np.uint8, copy=False), *tail)
            self._remember_request(cells, full_index, full_targets, repeat, positions, n_failed)
        self._n_stuck += n_failed
        written = self._written_buf[:n_written].copy()
        self.steps += 1
        self.version += 1
        # every cell whose stored level, noise or write time this call may have changed is in ``touched``
        # (written cells and stuck cells asked for another level), each once
        self._last_change = None if touched is None else (self.version, touched, before)
        if n_failed and self.first_failure_step is None:
            self.first_failure_step = self.steps
        if n_written:
            if self._offsets.size:
                sigma = self.profile.device.write_noise_sigma
                if self._noise_buf.size < n_written:
                    self._noise_buf = np.empty(max(n_written, 2 * self._noise_buf.size), dtype=np.float32)
                draws = self._noise_buf[:n_written]
                self._rng.standard_normal(dtype=np.float32, out=draws)  # the same stream as a fresh array
                _kernels.scatter_scaled(self._offsets, written, draws, np.float32(sigma))
                if n_failed and self._fail_mode:
                    # a cell that failed to the low/high state sits there exactly: its programming noise is gone
                    failed = written[self._stuck[written] == 1]
                    self._offsets[failed] = 0.0
            if self._write_time.size:
                self._write_time[written] = self.clock_s
            self.ledger.add_transitions(transitions)
        # the write circuit's groups are counted per call; their steps (ceil(cells / parallel_cells)) are worked
        # out when the ledger is priced, so that parallel_cells stays a price, not a count
        groups = {"write_set": n_set, "write_reset": n_written - n_set}
        if not self._always:
            self.ledger.add(write_verify_reads=n_checked)
            groups["write_verify"] = n_checked
        self.ledger.add_write_groups(**groups)
        return ProgramResult(requested=requested, written=n_written, blocked=n_blocked, newly_failed=n_failed,
                             written_cells=written)

    # -------------------------------------------------------------------- repeated requests of the same cells
    def _repeat_positions(self, cells: Any, targets: np.ndarray) -> np.ndarray | None:
        """For a request naming the same cells as the last one, the entries that need examining: those whose
        target differs from last time and those whose cell is stuck (sorted positions). None when the request is
        not such a repeat: another cells object, anything changed the memory since, or targets not uint8."""
        repeat = self._repeat
        if (repeat is None or cells is not repeat[0] or self.version != repeat[1] or targets.dtype != np.uint8
                or targets.size != repeat[2].size):
            return None
        last, stuck_positions = repeat[2], repeat[3]
        n8 = (last.size // 8) * 8
        n_diff = _kernels.differing_cells(last, targets, last[:n8].view(np.uint64),
                                          np.ascontiguousarray(targets)[:n8].view(np.uint64), self._diff_buf)
        changed = self._diff_buf[:n_diff]
        return np.union1d(changed, stuck_positions) if stuck_positions.size else changed.copy()

    def _remember_request(self, cells: Any, index: np.ndarray, targets: np.ndarray, repeat: np.ndarray | None,
                          positions: np.ndarray | None, n_failed: int) -> None:
        """Keep what a repeat of this request needs: its targets and which of its cells are stuck.

        Only for a read-only int64 array that owns its data (the chip's request encoder hands the same one for
        every whole-layer request of the same layers), naming no cell twice, under read-before-write: then,
        until anything else changes the memory, every healthy cell of it holds its target (it was written to it
        or held it already), so a repeat need only look at the targets that changed and at the stuck cells.
        """
        eligible = (isinstance(cells, np.ndarray) and cells.dtype == np.int64 and cells.ndim == 1
                    and cells.flags.owndata and not cells.flags.writeable and not self._always
                    and positions is not None and targets.dtype == np.uint8)
        if not eligible:
            self._repeat = None
            return
        if repeat is None:  # a first request: take its targets and stuck cells whole
            last = np.array(targets, dtype=np.uint8)
            stuck_positions = np.flatnonzero(self._stuck[index])
        else:
            last, stuck_positions = self._repeat[2], self._repeat[3]
            last[repeat] = targets[repeat]
            if n_failed:
                failed = positions[self._stuck[index[positions]] == 1]
                stuck_positions = np.union1d(stuck_positions, failed)
        self._repeat = (cells, self.version + 1, last, stuck_positions)  # the version this call ends at

    def _distinct(self, index: np.ndarray, runs: int) -> bool:
        """Whether a request of ``runs`` increasing runs (starts in ``_run_starts``) names no cell twice: its
        runs' index ranges do not overlap."""
        if runs <= 1:
            return True
        if runs > self._run_starts.size:
            return False
        starts = self._run_starts[:runs]
        ends = np.append(starts[1:], index.size) - 1
        lo, hi = index[starts], index[ends]
        order = np.argsort(lo)
        return bool(np.all(lo[order][1:] > hi[order][:-1]))

    def _guard_counter_width(self, requested: int) -> None:
        # No cell can gain more writes than cells requested in total, nor more pulses than levels - 1 per write:
        # switch the uint32 counters to int64 before that bound could reach 2**32 (then endurance is exact again).
        self._requested_total += requested
        if self._wear.dtype == np.uint32 and self._requested_total * max(1, self.levels - 1) >= _UINT32_MAX:
            wear = self._wear.astype(np.int64)
            wear[:, 3] = self._endurance
            self._wear = wear

    @staticmethod
    def _as_integers(values: Any, what: str) -> np.ndarray:
        arr = np.asarray(values)
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "b" or arr.size == 0:
                arr = arr.astype(np.int64)
            else:
                raise WriteRequestError(f"{what} must be integer{' indices' if what == 'cells' else 's'} "
                                        f"(got dtype {arr.dtype})")
        return arr.reshape(-1)

    def _check_levels(self, levels: Any) -> np.ndarray:
        arr = self._as_integers(levels, "levels")
        # (for unsigned input only the maximum can be out of range; skipping min() halves the check's cost)
        if arr.size and ((arr.dtype.kind == "i" and arr.min() < 0) or arr.max() >= self.levels):
            bad = arr[(arr < 0) | (arr >= self.levels)][0]
            raise WriteRequestError(f"levels must be in [0, {self.levels - 1}] (got {bad})")
        # contiguous so that the dense kernel can compare 8 levels per uint64 word
        return np.ascontiguousarray(arr, dtype=np.uint8)

    def _check_cells(self, cells: Any) -> np.ndarray:
        arr = self._as_integers(cells, "cells")
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_cells):
            bad = arr[(arr < 0) | (arr >= self.n_cells)][0]
            raise WriteRequestError(f"cell index must be in [0, {self.n_cells - 1}] (got {bad})")
        return arr.astype(np.int64, copy=False)

    def _check_request(self, cells: Any, levels: Any) -> tuple[np.ndarray, np.ndarray]:
        index = self._as_integers(cells, "cells")
        targets = self._as_integers(levels, "levels")
        if index.shape != targets.shape:
            raise WriteRequestError(f"cells and levels differ in length ({index.size} vs {targets.size})")
        return index.astype(np.int64, copy=False), targets

    def changes_at(self, version: int) -> tuple[np.ndarray, np.ndarray] | None:
        """What the step to ``version`` changed, if it was one :meth:`program` call: ``(cells, levels before)``,
        the cells it may have changed (every written cell among them, each once) and the levels they held
        before; None when ``version`` was reached otherwise (drift, time passing, a request naming a cell twice)
        or is not the latest. Caches of derived state use it to update only what changed."""
        change = self._last_change
        if change is None or change[0] != version or version != self.version:
            return None
        return change[1], change[2]

    # ------------------------------------------------------------------------------------------------- reads
    def read(self, cells: Any = None) -> np.ndarray:
        """Effective levels (float64) as the analog read-out sees them.

        Stuck cells hold their stuck level; programming noise (in level steps, clipped to the level range) and
        drift ``((now - t_write + t0) / t0) ** -nu`` apply where the profile has them. This is a state query for
        the simulator: a read on the chip is counted by whoever performs it (e.g. the crossbar MVM).
        """
        dev = self.profile.device
        if cells is not None:  # only the cells asked for: a few cells of a large memory cost a few cells
            index = self._check_cells(cells)
            out = np.empty(index.size, dtype=np.float64)
            _kernels.effective_levels_at(index, self._stored, self._offsets, self._write_time, self.clock_s,
                                         dev.drift_t0_s, dev.drift_nu, self.levels - 1, out)
            return out.reshape(np.shape(cells))
        out = np.empty(self.n_cells, dtype=np.float64)
        _kernels.effective_levels(self._stored, self._offsets, self._write_time, self.clock_s, dev.drift_t0_s,
                                  dev.drift_nu, self.levels - 1, out)
        return out

    def advance(self, seconds: float) -> None:
        """Let simulated wall-clock time pass (drift grows with the time since each cell was written)."""
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
            raise WriteRequestError(f"seconds must be a finite number >= 0 (got {seconds!r})")
        self.clock_s += float(seconds)
        self.version += 1

    # ------------------------------------------------------------------------------------ drift (not writes)
    def analog_drift(self, sigma: float) -> None:
        """Analog conductance drift: every cell's conductance takes a Gaussian random-walk step of ``sigma``
        level steps (stored levels, write counts and energy are untouched; reads see the drift)."""
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
            raise WriteRequestError(f"sigma must be a finite number >= 0 (got {sigma!r})")
        if sigma == 0:
            return
        if self._offsets.size == 0:
            self._offsets = np.zeros(self.n_cells, dtype=np.float32)
        self._offsets += sigma * self._rng.standard_normal(self.n_cells, dtype=np.float32)
        self.version += 1
        self._last_change = None

    def digital_drift(self, rate: float) -> int:
        """Digital drift: each healthy cell, with probability ``rate``, loses its level to another random level
        (a retention failure or disturb, not a write: no energy, no wear). Returns how many cells changed."""
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and 0 <= rate <= 1):
            raise WriteRequestError(f"rate must be a number in [0, 1] (got {rate!r})")
        if rate == 0:
            return 0
        hit = np.flatnonzero((self._rng.random(self.n_cells) < rate) & (self._stuck == 0))
        shift = self._rng.integers(1, self.levels, hit.size)
        self._stored[hit] = ((self._stored[hit].astype(np.int64) + shift) % self.levels).astype(np.uint8)
        self.disturbed_cells += int(hit.size)
        self.version += 1
        return int(hit.size)

    # --------------------------------------------------------------------------------------- read-only state
    @property
    def stored_levels(self) -> np.ndarray:
        """Levels held by the cells (uint8, read-only view; stuck cells show their stuck level)."""
        return _readonly(self._stored)

    def stored_at(self, cells: np.ndarray) -> np.ndarray:
        """Levels held by the named cells (uint8; indices are not checked: for the chip's own bookkeeping)."""
        return self._stored[cells]

    def writes_at(self, cells: np.ndarray) -> np.ndarray:
        """Programming events of the named cells so far (int64; indices not checked)."""
        return self._wear[cells, 0].astype(np.int64)

    def stuck_at(self, cells: np.ndarray) -> np.ndarray:
        """True where a named cell is stuck (indices not checked)."""
        return self._stuck[cells].astype(bool)

    @property
    def always_writes(self) -> bool:
        """Whether every requested healthy cell is programmed (``write_policy.mode = "always"``)."""
        return self._always

    @property
    def write_counts(self) -> np.ndarray:
        """Programming events per cell (int64, read-only copy)."""
        return _readonly(self._wear[:, 0].astype(np.int64))

    @property
    def stuck(self) -> np.ndarray:
        """True where a cell is stuck (manufacture fault or worn out), read-only."""
        return _readonly(self._stuck.astype(bool))

    @property
    def cells_failed(self) -> int:
        """Cells worn out so far (stuck by wear, not at manufacture): counted as they fail, no scan."""
        return self._n_stuck - self._manufacture_faults

    @property
    def endurance(self) -> np.ndarray:
        """Each cell's drawn endurance in programming events (int64, read-only view)."""
        return _readonly(self._endurance)

    def cell_write_energy_j(self) -> np.ndarray:
        """Write energy spent on each cell so far (J), priced by this memory's profile.

        Exact: a transition costs ``pulses x (SET or RESET energy)``, and the per-cell SET and RESET pulse counts
        are kept, so ``cell_write_energy_j().sum()`` equals the ledger's priced write energy for this memory.
        """
        dev = self.profile.device
        return self._wear[:, 1].astype(np.float64) * dev.set_energy_j + self._wear[:, 2] * dev.reset_energy_j

    # ------------------------------------------------------------------------------------------------ summary
    def write_histogram(self, bins: int | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Histogram of writes per cell: ``(edges, counts)``.

        Default bins: one per write count when the worst cell has at most 64 writes, else 32 log-spaced bins
        (the first bin holds the never-written cells).
        """
        w = self._wear[:, 0]
        top = int(w.max()) if w.size else 0
        if bins is None:
            if top <= 64:
                bins = np.arange(top + 2)
            else:
                bins = np.unique(np.concatenate([[0, 1], np.floor(np.logspace(0, np.log10(top + 1), 32)), [top + 1]]))
        counts, edges = np.histogram(w, bins=bins)
        return edges, counts

    def lifetime(self, steps: int | None = None, since: np.ndarray | None = None,
                 first_failure_step: int | None = None) -> LifetimeProjection:
        """Project when the first cell wears out (see :class:`LifetimeProjection`).

        Parameters
        ----------
        steps : int, optional
            Update steps the writes were made over; default: the number of :meth:`program` calls.
        since : ndarray, optional
            Write counts at the start of the period (e.g. of a training run, after the initial programming):
            rates count only the writes made since, and the projection counts steps from the period's start.
        first_failure_step : int, optional
            Overrides the recorded step of the first wear-out (callers counting their own steps).
        """
        steps = self.steps if steps is None else int(steps)
        w = self._wear[:, 0].astype(np.int64)
        start = np.zeros_like(w) if since is None else np.asarray(since, dtype=np.int64)
        made = w - start
        healthy_written = (made > 0) & (self._stuck == 0)
        failed_at = self.first_failure_step if first_failure_step is None else first_failure_step
        if failed_at is not None:
            life = float(failed_at)  # observed, not projected
        elif steps <= 0 or not healthy_written.any():
            life = math.inf
        else:
            # from the period's start, cell i lasts (endurance_i - writes it had then) / its write rate
            rate = made[healthy_written] / steps
            life = float(np.min((self._endurance[healthy_written] - start[healthy_written]) / rate))
        written = made > 0
        k = max(1, math.ceil(0.01 * self.n_cells))
        if steps <= 0 or int(written.sum()) < k:
            life_1pct = math.inf
        else:
            ends = (self._endurance[written] - start[written]) / (made[written] / steps)
            life_1pct = float(np.partition(ends, k - 1)[k - 1])
        worst = int(made.max()) if made.size else 0
        median_life = math.inf if worst == 0 or steps <= 0 else self.profile.device.endurance_cycles * steps / worst
        return LifetimeProjection(steps_observed=steps, lifetime_steps=life,
                                  lifetime_steps_median_endurance=median_life, first_failure_step=failed_at,
                                  lifetime_steps_1pct=life_1pct)

    def summary(self, steps: int | None = None) -> MemorySummary:
        """Write and wear statistics; ``steps`` as in :meth:`lifetime`."""
        steps_used = self.steps if steps is None else int(steps)
        writes = self._wear[:, 0].astype(np.int64)
        total = int(writes.sum())
        n_stuck = int(np.count_nonzero(self._stuck))
        return MemorySummary(
            n_cells=self.n_cells, steps=steps_used, writes_total=total,
            writes_max_cell=int(writes.max()),
            write_density=total / (self.n_cells * steps_used) if steps_used > 0 else 0.0,
            cells_written=int(np.count_nonzero(writes)),
            cells_failed=n_stuck - self._manufacture_faults,
            cells_faulty_at_manufacture=self._manufacture_faults,
            lifetime=self.lifetime(steps))

    def state_digest(self) -> str:
        """SHA-256 over every state array: equal digests mean bit-identical memories."""
        h = hashlib.sha256()
        # counters without the endurance column, which is capped while the counters are 32-bit
        for arr in (self._stored, self._stuck, self._wear[:, :3].astype(np.int64), self._endurance, self._offsets,
                    self._write_time):
            h.update(arr.tobytes())
        h.update(np.float64(self.clock_s).tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        return (f"NVMArray(n_cells={self.n_cells}, profile={self.profile.name!r}, "
                f"writes_total={int(self._wear[:, 0].sum())})")


def _readonly(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.flags.writeable = False
    return view
