"""Endurance management in the chip's write controller: wear levelling (a logical-to-physical row map per tile)
and per-cell write budgets.

The mapping places logical row ``r`` of a tile on physical row ``r``; the last
``ceil(write_policy.spare_rows_fraction x rows)`` rows of every crossbar hold no weights (:mod:`neurosim.mapping.
tiling`). :class:`WearLevelling` keeps, per tile, which physical row holds which logical row, and every
``write_policy.levelling_period`` update steps moves rows:

- ``rotate`` (start-gap, Qureshi et al., MICRO 2009): each tile has one *gap*, a free physical row; a move copies
  the row just above the gap into it, and the gap takes its place (a row holding no data moves without a write).
  After ``rows`` moves every logical row sits one physical row further on, and in time every logical row visits
  every physical row. At most one row write per tile per move.
- ``hot_cold``: each tile finds the data row written most since the last move and, when its physical row is more
  worn than the tile's least-worn row by more than that row gained in the period, moves it there; data already on
  the least-worn row moves first to the least-worn free row, so the worn row rests (it becomes free). At most two
  row writes per tile per move. The per-row wear it reads is the controller's row write counters (the most-written
  cell of each row), as a chip with hot/cold swapping keeps.

Modelling choices (they change numbers):

- A move copies what the source cells *read* (their stored levels, stuck levels included) into the destination
  row through the memory's one door: counted, priced, wearing and failing cells like any other write, with read-
  before-write skipping destination cells that already hold the level. All moves of one levelling round are one
  program call (one update step of the memory).
- Reads follow the map: what the chip computes with is the physical row a logical row sits on (its effective
  levels, noise, drift, stuck cells and IR drop at its physical position).
- With a write budget, a move whose destination cells would go over their budget is not made.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import WriteRequestError
from ..ledger import Ledger
from ..mapping.mapper import Mapping
from ..memory import NVMArray
from .held import cell_owners

POLICIES = ("none", "rotate", "hot_cold")


class WearLevelling:
    """The write controller's row map for one chip, and its moves.

    Parameters
    ----------
    memory : NVMArray
        The chip's cells (physical).
    mapping : Mapping
        Which tiles exist and which of their rows and columns hold data.

    Attributes
    ----------
    l2p, p2l : ndarray of int64
        Logical cell -> physical cell, and the inverse (read-only views).
    map_version : int
        The memory version at which the map last changed (0: never).
    rounds, rows_moved, writes : int
        Levelling rounds (every ``period`` update steps), rows copied (a start-gap move over a row without data
        copies nothing), and cell writes those copies made.
    ledger : Ledger
        The events of every move (writes, verify reads): what levelling itself cost, priced like any write.
    """

    def __init__(self, memory: NVMArray, mapping: Mapping):
        profile = mapping.profile
        self.policy = profile.write_policy.wear_levelling
        self.period = profile.write_policy.levelling_period
        self._memory = memory
        self._rows, self._cols = profile.crossbar.rows, profile.crossbar.cols
        rows, cols = self._rows, self._cols
        self.n_tiles = mapping.n_tiles
        if memory.n_cells != self.n_tiles * rows * cols:
            raise WriteRequestError(f"memory of {memory.n_cells} cells does not hold {self.n_tiles} tiles of "
                                    f"{rows}x{cols}")
        self.spare_rows = rows - (mapping.tilings[0].rows_per_tile if mapping.tilings else rows)
        # which slots (logical rows) of each tile hold data (weights or reference cells), and which columns do
        by_tile = (cell_owners(mapping, memory.n_cells)[0] != -1).reshape(self.n_tiles, rows, cols)
        self._data_slot = by_tile.any(axis=2)
        self._data_cols = [np.flatnonzero(by_tile[t].any(axis=0)) for t in range(self.n_tiles)]
        self._slot_at = np.tile(np.arange(rows, dtype=np.int64), (self.n_tiles, 1))  # [tile, physical row] -> slot
        self._l2p = np.arange(memory.n_cells, dtype=np.int64)
        self._p2l = np.arange(memory.n_cells, dtype=np.int64)
        self._gap = np.full(self.n_tiles, rows - 1, dtype=np.int64)  # rotate: the free row data moves into
        self._counts_then = memory.write_counts.reshape(self.n_tiles, rows, cols).copy()  # hot_cold
        self.map_version = 0
        self.rounds = self.rows_moved = self.writes = self.skipped_over_budget = 0
        self.ledger = Ledger(memory.levels)
        self._steps = 0
        self._request_cache: dict[int, tuple[int, np.ndarray, np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------------------------------------ the map
    @property
    def l2p(self) -> np.ndarray:
        return _readonly(self._l2p)

    @property
    def p2l(self) -> np.ndarray:
        return _readonly(self._p2l)

    def physical_request(self, cells: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The physical cells and levels of a request of logical ``cells``, in increasing physical order (the
        memory's fast path for a request naming no cell twice). The encoder's kept whole-layer array maps to one
        kept read-only physical array per map version, so the memory still sees repeats of one request."""
        kept = isinstance(cells, np.ndarray) and not cells.flags.writeable and cells.flags.owndata
        if kept:
            cached = self._request_cache.get(id(cells))
            if cached is None or cached[0] != self.map_version or cached[1] is not cells:
                physical = self._l2p[cells]
                order = np.argsort(physical, kind="stable")
                physical = physical[order]
                physical.flags.writeable = False
                cached = (self.map_version, cells, physical, order)
                self._request_cache[id(cells)] = cached
            return cached[2], levels[cached[3]]
        physical = self._l2p[np.asarray(cells, dtype=np.int64)]
        order = np.argsort(physical, kind="stable")
        return physical[order], np.asarray(levels)[order]

    # ------------------------------------------------------------------------------------------------- moves
    def after_step(self, budget: WriteBudget | None = None) -> None:
        """Count one update step; every ``period`` steps, make a levelling round."""
        self._steps += 1
        if self.policy == "none" or self._steps % self.period:
            return
        self.rounds += 1
        moves = self._rotate_moves() if self.policy == "rotate" else self._hot_cold_moves()
        if moves:
            self._move(moves, budget)

    def _rotate_moves(self) -> list[tuple[int, int, int]]:
        """(tile, from row, to row) moves of one start-gap round, and the gaps advanced (rows without data move
        by the map alone)."""
        moves = []
        rows = self._rows
        for t in range(self.n_tiles):
            gap = int(self._gap[t])
            above = (gap - 1) % rows
            if self._data_slot[t, self._slot_at[t, above]]:
                moves.append((t, above, gap))
            else:
                self._swap_slots(t, above, gap)
            self._gap[t] = above
        return moves

    def _hot_cold_moves(self) -> list[tuple[int, int, int]]:
        counts = self._memory.write_counts.reshape(self.n_tiles, self._rows, self._cols)
        worst = counts.max(axis=2)  # the controller's row counters: the most-written cell of each row
        gain = counts - self._counts_then
        gained, gained_worst = gain.sum(axis=2), gain.max(axis=2)
        self._counts_then = counts.copy()
        moves = []
        rows = np.arange(self._rows)
        for t in range(self.n_tiles):
            occupied = self._data_slot[t, self._slot_at[t]]  # per physical row: holds data
            hot = int(np.argmax(np.where(occupied, gained[t], -1)))
            if not occupied[hot] or gained[t, hot] <= 0:
                continue
            others = rows != hot
            cold = int(rows[others][np.argmin(worst[t][others])])
            # worth a move only when the hot row is ahead of the coldest by more than it gained in the period
            if worst[t, hot] - worst[t, cold] <= gained_worst[t, hot]:
                continue
            if occupied[cold]:
                free = rows[~occupied & others & (rows != cold)]
                if free.size == 0:
                    continue
                moves.append((t, cold, int(free[np.argmin(worst[t][free])])))
            moves.append((t, hot, cold))
        return moves

    def _move(self, moves: list[tuple[int, int, int]], budget: WriteBudget | None) -> None:
        """Copy each move's source row into its destination row (one program call for the round), then update
        the map. Moves of one tile are in order: a source read before an earlier move overwrote it."""
        memory = self._memory
        stored = memory.stored_levels
        cells, levels = [], []
        for t, src, dst in moves:
            cols = self._data_cols[t]
            base = t * self._rows * self._cols
            cells.append(base + dst * self._cols + cols)
            levels.append(stored[base + src * self._cols + cols])  # read before any write of this round
        cells_all, levels_all = np.concatenate(cells), np.concatenate(levels)
        if budget is not None and budget.would_refuse(cells_all, levels_all):
            self.skipped_over_budget += 1
            return
        before = memory.ledger.copy()
        result = memory.program(cells_all, levels_all)
        self.ledger.merge(memory.ledger - before)
        for t, src, dst in moves:
            self._swap_slots(t, src, dst)
        self.rows_moved += len(moves)
        self.writes += result.written
        self.map_version = memory.version
        self._request_cache.clear()

    def _swap_slots(self, t: int, a: int, b: int) -> None:
        """Exchange the logical rows held by physical rows ``a`` and ``b`` of tile ``t`` (the map only)."""
        sa, sb = int(self._slot_at[t, a]), int(self._slot_at[t, b])
        self._slot_at[t, a], self._slot_at[t, b] = sb, sa
        base = t * self._rows * self._cols
        cols = np.arange(self._cols, dtype=np.int64)
        la, lb = base + sa * self._cols + cols, base + sb * self._cols + cols
        pa, pb = base + a * self._cols + cols, base + b * self._cols + cols
        self._l2p[la], self._l2p[lb] = pb, pa
        self._p2l[pb], self._p2l[pa] = la, lb

    def summary(self) -> dict[str, Any]:
        """What levelling did and cost (writes and verify reads of its moves; price them with the profile)."""
        return {"policy": self.policy, "period_steps": self.period, "spare_rows_per_tile": self.spare_rows,
                "rounds": self.rounds, "rows_moved": self.rows_moved, "writes": self.writes,
                "rounds_skipped_over_budget": self.skipped_over_budget, "ledger": self.ledger.to_dict()}


class LogicalCells:
    """The memory as the chip's reads see it through a :class:`WearLevelling` map: logical cells in, the
    physical cells that hold them read. It offers what :class:`~neurosim.chip.held.HeldState` reads of a memory.
    """

    def __init__(self, memory: NVMArray, levelling: WearLevelling):
        self._memory = memory
        self._map = levelling
        self.n_cells = memory.n_cells
        self.levels = memory.levels

    @property
    def version(self) -> int:
        return self._memory.version

    @property
    def map_version(self) -> int:
        return self._map.map_version

    def physical(self, cells: np.ndarray) -> np.ndarray:
        return self._map._l2p[cells]

    def changes_at(self, version: int) -> tuple[np.ndarray, np.ndarray] | None:
        """As :meth:`NVMArray.changes_at`, in logical cells; None for a step that moved rows (the map changed)."""
        if version == self._map.map_version:
            return None
        change = self._memory.changes_at(version)
        if change is None:
            return None
        return self._map._p2l[change[0]], change[1]

    def read(self, cells: Any = None) -> np.ndarray:
        if cells is None:
            return self._memory.read()[self._map._l2p]
        return self._memory.read(self._map._l2p[np.asarray(cells, dtype=np.int64)])

    def stored_at(self, cells: np.ndarray) -> np.ndarray:
        return self._memory.stored_at(self._map._l2p[cells])


class WriteBudget:
    """A per-cell write budget enforced at the door: a cell may take ``budget`` writes from the moment the budget
    is set. A request to change a cell that has used its budget is refused, and so is the rest of that weight's
    change in the request (a weight is changed whole or not at all: half a differential pair would store a third
    value nobody asked for); refused cells keep their level, and each refused cell write is counted.

    Parameters
    ----------
    memory : NVMArray
    budget : int
        Writes each cell may take from now on.
    weight_of : ndarray of int64, optional
        Per logical cell, the (chip-wide) weight it helps store, -1 for none (reference cells).
    p2l : callable, optional
        Physical cells -> logical cells (the wear-levelling map; identity without one).
    """

    def __init__(self, memory: NVMArray, budget: int, weight_of: np.ndarray | None = None,
                 p2l: Any = None):
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise WriteRequestError(f"write budget must be a whole number of writes >= 1 (got {budget!r})")
        self.budget = int(budget)
        self._memory = memory
        self._limit = memory.write_counts + self.budget  # physical cell -> the write count it may reach
        self._weight_of = weight_of
        self._p2l = p2l
        self.refused = 0

    def _whole_weights(self, cells: np.ndarray, over: np.ndarray, wants: np.ndarray) -> np.ndarray:
        """``over`` widened to every cell the request changes (``wants``) of the weights it touches."""
        if self._weight_of is None or not over.any():
            return over
        logical = cells if self._p2l is None else self._p2l(cells)
        weight = self._weight_of[logical]
        hit = np.unique(weight[over])
        hit = hit[hit >= 0]
        if not hit.size:
            return over
        return over | (wants & np.isin(weight, hit))

    def remaining(self, physical_cells: np.ndarray) -> np.ndarray:
        """Writes each named physical cell may still take (int64)."""
        return self._limit[physical_cells] - self._memory.writes_at(physical_cells)

    def _over(self, cells: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Where a request would write a cell that has no budget left, where it would write at all, and whether it
        names a cell twice (then a cell's k-th write in the request needs k writes left, and each entry is judged
        against the level the entry before it leaves)."""
        memory = self._memory
        levels = np.asarray(levels)
        stuck = memory.stuck_at(cells)
        used = memory.writes_at(cells)
        twice = cells.size > 1 and bool(np.any(np.diff(cells) <= 0))
        if not twice:
            wants = ~stuck if memory.always_writes else ~stuck & (memory.stored_at(cells) != levels)
            return wants & (used >= self._limit[cells]), wants, False
        order = np.argsort(cells, kind="stable")
        c, lv = cells[order], levels[order]
        first = np.r_[True, c[1:] != c[:-1]]
        previous = np.where(first, memory.stored_at(c), np.r_[0, lv[:-1]])  # what the cell holds at that entry
        wants_sorted = ~stuck[order] if memory.always_writes else ~stuck[order] & (previous != lv)
        # writes the cell took earlier in this request (only its wanted entries write)
        group = np.cumsum(first) - 1
        before = np.cumsum(wants_sorted) - wants_sorted
        earlier = before - before[np.flatnonzero(first)][group]
        over, wants = np.empty_like(wants_sorted), np.empty_like(wants_sorted)
        over[order] = wants_sorted & (used[order] + earlier >= self._limit[c])
        wants[order] = wants_sorted
        return over, wants, True

    def would_refuse(self, cells: np.ndarray, levels: np.ndarray) -> bool:
        return bool(self._over(cells, levels)[0].any())

    def enforce(self, cells: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The request with every over-budget write refused: the cell is asked for the level it holds (under
        read-before-write that is no write), or left out when the policy writes every requested cell."""
        over, wants, twice = self._over(cells, levels)
        over = self._whole_weights(cells, over, wants)
        n = int(np.count_nonzero(over))
        if not n:
            return cells, levels
        self.refused += n
        if twice or self._memory.always_writes:  # leave the refused entries out
            keep = ~over
            return cells[keep], np.asarray(levels)[keep]
        levels = np.array(levels, dtype=np.uint8)
        levels[over] = self._memory.stored_at(cells[over])
        return cells, levels


def _readonly(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.flags.writeable = False
    return view


__all__ = ["WearLevelling", "LogicalCells", "WriteBudget", "POLICIES"]
