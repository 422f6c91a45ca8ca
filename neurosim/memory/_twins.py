"""Slow numpy twins of the numba kernels in ``_kernels.py``: plain, vectorised, easy to check by eye.

Used only by the tests, which run each kernel and its twin on copies of the same state and compare everything.
``program_indexed_numpy`` assumes the request names each cell at most once (the kernel applies repeats in order).
"""

from __future__ import annotations

import numpy as np


def program_indexed_numpy(stored, stuck, wear, cells, targets, always, per_step, fail_mode, top, transitions,
                          written):
    writes, set_pulses, reset_pulses, endurance = (wear[:, j] for j in range(4))
    cells = np.asarray(cells, dtype=np.int64)
    targets = np.asarray(targets).astype(stored.dtype)
    old = stored[cells].copy()
    healthy = stuck[cells] == 0
    n_blocked = int(np.count_nonzero(~healthy & (old != targets)))
    n_checked = int(np.count_nonzero(healthy))
    do = healthy & ((old != targets) | bool(always))
    wc, new, was = cells[do], targets[do], old[do]
    np.add.at(transitions, (was.astype(np.int64), new.astype(np.int64)), 1)
    stored[wc] = new
    writes[wc] += 1
    diff = np.abs(new.astype(np.int64) - was.astype(np.int64))
    pulses = np.where(diff > 0, diff, 1) if per_step else np.ones(wc.size, dtype=np.int64)
    up = (new > was) | ((new == was) & (new > 0))
    pulses = pulses.astype(wear.dtype)  # the counters may be uint32 (NVMArray's default) or int64
    set_pulses[wc[up]] += pulses[up]
    reset_pulses[wc[~up]] += pulses[~up]
    fail = writes[wc] >= endurance[wc]
    failed = wc[fail]
    stuck[failed] = 1
    if fail_mode == 1:
        stored[failed] = 0
    elif fail_mode == 2:
        stored[failed] = top
    written[: wc.size] = wc
    return wc.size, n_blocked, failed.size, int(np.count_nonzero(up)), n_checked


def scan_request_numpy(cells, targets, stored, stuck, n_cells, levels, always, candidates, run_starts):
    cells = np.asarray(cells, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    invalid = np.flatnonzero((cells < 0) | (cells >= n_cells) | (targets < 0) | (targets >= levels))
    end = int(invalid[0]) if invalid.size else cells.size
    c, t = cells[:end], targets[:end]
    healthy = stuck[c] == 0
    pick = np.flatnonzero((stored[c] != t) | (bool(always) & healthy))
    candidates[: pick.size] = pick
    starts = np.concatenate([[0], np.flatnonzero(np.diff(cells[: max(end, 1)]) <= 0) + 1]) if cells.size else []
    starts = np.asarray(starts, dtype=np.int64)
    kept = min(starts.size, run_starts.size)
    run_starts[:kept] = starts[:kept]
    return pick.size, int(np.count_nonzero(healthy)), (int(invalid[0]) if invalid.size else -1), int(starts.size)


def differing_cells_numpy(stored, targets, stored_words, target_words, out):
    idx = np.flatnonzero(stored != targets)
    out[: idx.size] = idx
    return idx.size


def effective_levels_numpy(stored, offsets, write_time, now, t0, nu, top, out):
    v = stored.astype(np.float64)
    if offsets.size:
        v = np.clip(v + offsets, 0.0, float(top))
    if write_time.size:
        v = v * ((now - write_time + t0) / t0) ** (-nu)
    out[:] = v


def effective_levels_at_numpy(cells, stored, offsets, write_time, now, t0, nu, top, out):
    full = np.empty(stored.size, dtype=np.float64)
    effective_levels_numpy(stored, offsets, write_time, now, t0, nu, top, full)
    out[:] = full[cells]


def scatter_scaled_numpy(out, cells, values, scale):
    out[cells] = float(scale) * values
