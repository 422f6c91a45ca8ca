"""numba kernels of the NVM (private). Each has a slow numpy twin in ``_twins.py`` that the tests compare against.

Kernels take plain arrays and mutate the state arrays in place. Fail modes: 0 = stuck at the last level written,
1 = stuck at level 0, 2 = stuck at the top level.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def program_indexed(stored, stuck, wear, cells, targets, always, per_step, fail_mode, top, transitions, written):
    """Program ``targets[k]`` into cell ``cells[k]`` for every k, in order.

    ``wear`` is (n_cells, 4) uint32 (int64 once promoted): writes, SET pulses, RESET pulses, endurance; one row
    per cell, so a written cell costs one cache line (separate arrays cost four misses per cell).
    Returns (n_written, n_blocked, n_failed, n_set, n_checked). One flat loop on purpose: a per-cell helper
    call passing a dozen arrays made this 4x slower, and local counters stay in registers.
    """
    n_written = n_blocked = n_failed = n_set = n_checked = 0
    # Touch every named cell's state first: these loads are independent, so the core keeps many cache misses in
    # flight at once; the write loop below, whose branches depend on what it loads, then finds them in cache
    # (1.4-1.7x faster on 10,000 scattered cells of a million).
    warm = np.int64(0)
    for k in range(cells.size):
        c = cells[k]
        warm += np.int64(wear[c, 0]) + np.int64(stored[c]) + np.int64(stuck[c])
    if warm == -7:  # impossible (counts are non-negative), but the compiler cannot know: the loads stay
        n_checked = -1
    for k in range(cells.size):
        c = cells[k]
        t = targets[k]
        old = stored[c]
        if stuck[c]:
            if old != t:
                n_blocked += 1
            continue
        n_checked += 1
        if old == t and not always:
            continue
        transitions[old, t] += 1
        stored[c] = t
        wear[c, 0] += 1
        pulses = 1
        if per_step and t != old:
            pulses = abs(np.int64(t) - np.int64(old))
        if t > old or (t == old and t > 0):
            wear[c, 1] += pulses
            n_set += 1
        else:
            wear[c, 2] += pulses
        written[n_written] = c
        n_written += 1
        if wear[c, 0] >= wear[c, 3]:
            stuck[c] = 1
            n_failed += 1
            if fail_mode == 1:
                stored[c] = 0
            elif fail_mode == 2:
                stored[c] = top
    return n_written, n_blocked, n_failed, n_set, n_checked


@nb.njit(cache=True, nogil=True)
def scan_request(cells, targets, stored, stuck, n_cells, levels, always, candidates, run_starts):
    """Validate a request and pick the entries that need the write path, without changing any state.

    Returns ``(n_candidates, n_checked, bad, runs)``: the candidate request positions are written to
    ``candidates`` (healthy cells whose level differs, every healthy cell under ``always``, stuck cells asked for
    another level); ``n_checked`` counts healthy entries (read-before-write); ``bad`` is the first entry with an
    index or level out of range (-1 if none), found before anything is programmed; ``runs`` is the number of
    strictly increasing runs the indices fall into (1: increasing), the start of each written to ``run_starts``
    while it has room (a request of whole layers is one sorted run per layer; if the runs' index ranges do not
    overlap, no cell is named twice and candidates can be processed on their own).
    Splitting the scan from the writes keeps the write loop's cache misses overlapping: interleaved with a
    mostly-skipping scan, each miss waited alone behind a mispredicted branch.
    """
    n = 0
    n_checked = 0
    runs = 1 if cells.size else 0
    if cells.size and run_starts.size:
        run_starts[0] = 0
    previous = -1
    for k in range(cells.size):
        c = cells[k]
        t = targets[k]
        if c < 0 or c >= n_cells or t < 0 or t >= levels:
            return n, n_checked, k, runs
        if c <= previous:
            if runs < run_starts.size:
                run_starts[runs] = k
            runs += 1
        previous = c
        healthy = stuck[c] == 0
        n_checked += healthy
        candidates[n] = k
        n += (stored[c] != t) or (always and healthy)  # branch-free append
    return n, n_checked, -1, runs


@nb.njit(cache=True, nogil=True)
def differing_cells(stored, targets, stored_words, target_words, out):
    """Write into ``out`` the indices where ``targets`` differs from ``stored``; return how many.

    ``stored_words`` and ``target_words`` are uint64 views of the first ``8 * len(words)`` levels, so an 8-cell
    word whose levels all match costs one compare (most words, when few cells change).
    """
    n = 0
    for wi in range(stored_words.size):
        if stored_words[wi] != target_words[wi]:
            for c in range(8 * wi, 8 * wi + 8):
                if stored[c] != targets[c]:
                    out[n] = c
                    n += 1
    for c in range(8 * stored_words.size, stored.size):
        if stored[c] != targets[c]:
            out[n] = c
            n += 1
    return n


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _effective_level(c, stored, offsets, write_time, now, t0, nu, top):
    """Read-out level of cell ``c`` (shared by the whole-memory and the few-cells read, so both give the same bits)."""
    v = np.float64(stored[c])
    if offsets.size > 0:
        v += offsets[c]
        if v < 0.0:
            v = 0.0
        elif v > top:
            v = np.float64(top)
    if write_time.size > 0:
        v *= ((now - write_time[c] + t0) / t0) ** (-nu)
    return v


@nb.njit(cache=True, nogil=True, error_model="numpy")
def effective_levels(stored, offsets, write_time, now, t0, nu, top, out):
    """Read-out level of each cell: stored level + programming noise, clipped to the level range, then drifted."""
    for c in range(stored.size):
        out[c] = _effective_level(c, stored, offsets, write_time, now, t0, nu, top)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def effective_levels_at(cells, stored, offsets, write_time, now, t0, nu, top, out):
    """:func:`effective_levels` of the cells ``cells`` only (into ``out``, one value per entry)."""
    for k in range(cells.size):
        out[k] = _effective_level(cells[k], stored, offsets, write_time, now, t0, nu, top)


@nb.njit(cache=True, nogil=True)
def scatter_scaled(out, cells, values, scale):
    """``out[cells] = scale * values`` in the dtype of ``values`` (float32: what numpy computes for a float32
    array times a Python float), without the temporary."""
    for k in range(cells.size):
        out[cells[k]] = scale * values[k]
