"""The numba kernels of the NVM against their slow numpy twins (and, for repeated indices, a plain Python loop).

Each case builds one random state, runs the kernel and the twin on copies of it, and compares every returned
value and every state array exactly (floats: rtol 1e-12).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurosim.memory import _kernels, _twins

LEVELS = (2, 4, 8, 256)


# ------------------------------------------------------------------------------------------- program_indexed
def _random_state(rng: np.random.Generator, n: int, levels: int, wear_dtype) -> dict:
    """Random memory state with stuck cells and endurance close to the write counts (so failures happen)."""
    stored = rng.integers(0, levels, n).astype(np.uint8)
    stuck = (rng.random(n) < 0.2).astype(np.uint8)
    wear = np.zeros((n, 4), dtype=wear_dtype)
    wear[:, 0] = rng.integers(0, 20, n)
    wear[:, 1] = rng.integers(0, 50, n)
    wear[:, 2] = rng.integers(0, 50, n)
    # endurance 1..3 above the writes already made; a third of the cells fail on their next write
    wear[:, 3] = wear[:, 0] + rng.integers(1, 4, n)
    return {"stored": stored, "stuck": stuck, "wear": wear}


def _random_request(rng: np.random.Generator, n: int, levels: int, state: dict):
    k = int(rng.integers(0, n + 1))
    cells = rng.permutation(n)[:k].astype(np.int64)
    targets = rng.integers(0, levels, k).astype(np.uint8)
    # make sure some requests ask for the level already held (the skip path and the `always` rewrite path)
    same = rng.random(k) < 0.3
    targets[same] = state["stored"][cells[same]]
    return cells, targets


def _run(fn, state: dict, cells, targets, always, per_step, fail_mode, top, levels, wear_dtype=None):
    s = {k: v.copy() for k, v in state.items()}
    if wear_dtype is not None:
        s["wear"] = s["wear"].astype(wear_dtype)
    transitions = np.zeros((levels, levels), dtype=np.int64)
    written = np.full(max(cells.size, 1) + 3, -7, dtype=np.int64)  # sentinel: nothing past n_written is touched
    out = fn(s["stored"], s["stuck"], s["wear"], cells.copy(), targets.copy(), always, per_step, fail_mode, top,
             transitions, written)
    return tuple(int(x) for x in out), s, transitions, written


@pytest.mark.parametrize("wear_dtype", [np.uint32, np.int64], ids=["uint32", "int64"])
@pytest.mark.parametrize("per_step", [False, True], ids=["per_event", "per_step"])
@pytest.mark.parametrize("always", [False, True], ids=["skip", "always"])
@pytest.mark.parametrize("fail_mode", [0, 1, 2], ids=["last", "low", "high"])
def test_program_indexed_matches_twin(fail_mode, always, per_step, wear_dtype):
    rng = np.random.default_rng(1000 * fail_mode + 100 * always + 10 * per_step + (wear_dtype is np.int64))
    totals = np.zeros(5, dtype=np.int64)
    for case in range(60):
        levels = LEVELS[case % len(LEVELS)]
        n = int(rng.integers(1, 200))
        state = _random_state(rng, n, levels, wear_dtype)
        cells, targets = _random_request(rng, n, levels, state)
        top = levels - 1
        got, ks, ktr, kw = _run(_kernels.program_indexed, state, cells, targets, always, per_step, fail_mode, top,
                                levels)
        # The twin cannot add int64 pulse counts into uint32 counters (see test_twin_accepts_uint32_wear), so it
        # runs on an int64 copy of the same counters; the kernel runs on the dtype under test.
        want, ts, ttr, tw = _run(_twins.program_indexed_numpy, state, cells, targets, always, per_step, fail_mode,
                                 top, levels, wear_dtype=np.int64)
        msg = f"case {case}: levels={levels} n={n} k={cells.size}"
        assert got == want, msg
        assert ks["wear"].dtype == wear_dtype, msg
        for key in ("stored", "stuck", "wear"):
            np.testing.assert_array_equal(ks[key].astype(np.int64), ts[key].astype(np.int64), err_msg=f"{msg}: {key}")
        np.testing.assert_array_equal(ktr, ttr, err_msg=msg)
        np.testing.assert_array_equal(kw, tw, err_msg=msg)
        # the endurance column never changes; transitions count exactly the programming events
        np.testing.assert_array_equal(ks["wear"][:, 3], state["wear"][:, 3])
        assert ktr.sum() == got[0]
        totals += got
    # the random cases really exercised writes, blocks, failures, SETs and verify reads
    assert (totals > 0).all(), totals


@pytest.mark.parametrize("per_step", [False, True])
def test_twin_accepts_uint32_wear(per_step):
    n = 4
    stored, stuck = np.zeros(n, np.uint8), np.zeros(n, np.uint8)
    wear = np.zeros((n, 4), np.uint32)
    wear[:, 3] = 10
    got = _twins.program_indexed_numpy(stored, stuck, wear, np.arange(2), np.array([1, 1], np.uint8), False,
                                       per_step, 0, 1, np.zeros((2, 2), np.int64), np.empty(n, np.int64))
    assert got == (2, 0, 0, 2, 2)
    assert wear.dtype == np.uint32
    np.testing.assert_array_equal(wear[:, :3], [[1, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0]])


def _python_program(stored, stuck, wear, cells, targets, always, per_step, fail_mode, top, transitions, written):
    """Reference semantics written out one request at a time (repeats applied in order)."""
    n_written = n_blocked = n_failed = n_set = n_checked = 0
    for c, t in zip(cells.tolist(), targets.tolist()):
        old = int(stored[c])
        if stuck[c]:
            n_blocked += old != t
            continue
        n_checked += 1
        if old == t and not always:
            continue
        transitions[old, t] += 1
        stored[c] = t
        wear[c, 0] += 1
        pulses = max(abs(t - old), 1) if per_step else 1
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
            stored[c] = {0: stored[c], 1: 0, 2: top}[fail_mode]
    return n_written, n_blocked, n_failed, n_set, n_checked


@pytest.mark.parametrize("fail_mode,always,per_step", list(itertools.product([0, 1, 2], [False, True],
                                                                            [False, True])))
def test_program_indexed_repeated_indices_apply_in_order(fail_mode, always, per_step):
    rng = np.random.default_rng(7 + 4 * fail_mode + 2 * always + per_step)
    for case in range(40):
        levels = LEVELS[case % 3]
        n = int(rng.integers(1, 6))  # few cells, long requests: every cell is named many times
        state = _random_state(rng, n, levels, np.int64)
        k = int(rng.integers(0, 40))
        cells = rng.integers(0, n, k).astype(np.int64)
        targets = rng.integers(0, levels, k).astype(np.uint8)
        got, ks, ktr, kw = _run(_kernels.program_indexed, state, cells, targets, always, per_step, fail_mode,
                                levels - 1, levels)
        want, ps, ptr, pw = _run(_python_program, state, cells, targets, always, per_step, fail_mode, levels - 1,
                                 levels)
        assert got == want, f"case {case}"
        for key in ("stored", "stuck", "wear"):
            np.testing.assert_array_equal(ks[key], ps[key], err_msg=f"case {case}: {key}")
        np.testing.assert_array_equal(ktr, ptr)
        np.testing.assert_array_equal(kw, pw)


def test_program_indexed_repeat_after_failure_is_blocked():
    # one cell, endurance 2: writes 1, 0 land (the second wears it out, stuck low), then 1 is blocked
    stored, stuck = np.zeros(1, np.uint8), np.zeros(1, np.uint8)
    wear = np.array([[0, 0, 0, 2]], dtype=np.uint32)
    transitions, written = np.zeros((2, 2), np.int64), np.full(4, -1, np.int64)
    out = _kernels.program_indexed(stored, stuck, wear, np.zeros(4, np.int64), np.array([1, 0, 1, 1], np.uint8),
                                   False, False, 1, 1, transitions, written)
    assert tuple(out) == (2, 2, 1, 1, 2)
    assert stored[0] == 0 and stuck[0] == 1
    np.testing.assert_array_equal(wear, [[2, 1, 1, 2]])
    np.testing.assert_array_equal(transitions, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(written, [0, 0, -1, -1])


# ------------------------------------------------------------------------------------------- differing_cells
def _words(a: np.ndarray) -> np.ndarray:
    n8 = (a.size // 8) * 8
    return a[:n8].view(np.uint64)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 64, 1003])
@pytest.mark.parametrize("pattern", ["equal", "all", "sparse", "dense", "tail_only"])
def test_differing_cells_matches_twin(n, pattern):
    rng = np.random.default_rng(n * 31 + len(pattern))
    for case in range(5):
        levels = LEVELS[case % len(LEVELS)]
        stored = rng.integers(0, levels, n).astype(np.uint8)
        targets = stored.copy()
        if pattern == "all":
            targets = ((stored.astype(np.int64) + rng.integers(1, levels, n)) % levels).astype(np.uint8)
        elif pattern in ("sparse", "dense"):
            change = rng.random(n) < (0.02 if pattern == "sparse" else 0.6)
            targets[change] = (stored[change].astype(np.int64) + 1) % levels
        elif pattern == "tail_only" and n % 8:
            targets[-1] = (int(stored[-1]) + 1) % levels
        k_out, t_out = np.full(n + 2, -5, np.int64), np.full(n + 2, -5, np.int64)
        k = _kernels.differing_cells(stored, targets, _words(stored), _words(targets), k_out)
        t = _twins.differing_cells_numpy(stored.copy(), targets.copy(), _words(stored), _words(targets), t_out)
        assert k == t == np.count_nonzero(stored != targets)
        np.testing.assert_array_equal(k_out, t_out)
        np.testing.assert_array_equal(k_out[:k], np.flatnonzero(stored != targets))
        if pattern == "equal":
            assert k == 0
        if pattern == "all":
            assert k == n


# ------------------------------------------------------------------------------------------ effective_levels
@pytest.mark.parametrize("noise", [False, True], ids=["no_noise", "noise"])
@pytest.mark.parametrize("drift", [False, True], ids=["no_drift", "drift"])
@pytest.mark.parametrize("n", [0, 1, 7, 1003])
def test_effective_levels_matches_twin(noise, drift, n):
    rng = np.random.default_rng(n + 2 * noise + 4 * drift)
    for case in range(10):
        levels = LEVELS[case % len(LEVELS)]
        top = levels - 1
        stored = rng.integers(0, levels, n).astype(np.uint8)
        # offsets large enough that clipping at 0 and at the top level happens
        offsets = (rng.standard_normal(n) * 0.8).astype(np.float32) if noise else np.zeros(0, np.float32)
        now = float(rng.uniform(0, 1e4))
        write_time = rng.uniform(0, now, n) if drift else np.zeros(0, np.float64)
        t0 = float(rng.choice([1e-3, 1.0, 7.5]))
        nu = float(rng.choice([0.0, 0.005, 0.05, 0.5])) if drift else 0.0
        k_out, t_out = np.full(n, np.nan), np.full(n, np.nan)
        _kernels.effective_levels(stored, offsets, write_time, now, t0, nu, top, k_out)
        _twins.effective_levels_numpy(stored.copy(), offsets.copy(), write_time.copy(), now, t0, nu, top, t_out)
        np.testing.assert_allclose(k_out, t_out, rtol=1e-12, atol=0)
        if not noise and not drift:
            np.testing.assert_array_equal(k_out, stored.astype(np.float64))
        if noise and not drift:
            assert ((k_out >= 0) & (k_out <= top)).all()


def test_effective_levels_hand_example():
    stored = np.array([0, 1, 3, 3], np.uint8)
    offsets = np.array([-0.5, 0.25, 0.5, -0.25], np.float32)
    write_time = np.array([0.0, 0.0, 2.0, 3.0])
    out = np.empty(4)
    _kernels.effective_levels(stored, offsets, write_time, 3.0, 1.0, 0.5, 3, out)
    # clipped: 0, 1.25, 3, 2.75; drift factors (4)^-0.5, (4)^-0.5, (2)^-0.5, (1)^-0.5
    np.testing.assert_allclose(out, [0.0, 1.25 / 2, 3 / np.sqrt(2), 2.75], rtol=1e-12)


@pytest.mark.parametrize("always", [False, True])
@pytest.mark.parametrize("order", ["increasing", "shuffled", "repeats"])
def test_scan_request_matches_twin(always, order):
    rng = np.random.default_rng(11)
    for case in range(40):
        n, levels = int(rng.integers(1, 300)), int(rng.integers(2, 9))
        stored = rng.integers(0, levels, n).astype(np.uint8)
        stuck = (rng.random(n) < 0.2).astype(np.uint8)
        m = int(rng.integers(0, n + 1))
        if order == "increasing":
            cells = np.sort(rng.choice(n, m, replace=False))
        elif order == "shuffled":
            cells = rng.permutation(n)[:m]
        else:
            cells = rng.integers(0, n, m)
        targets = rng.integers(0, levels, m).astype(np.int64)
        if case % 5 == 4 and m:  # an invalid entry somewhere: index or level out of range
            pos = int(rng.integers(0, m))
            if case % 2:
                cells[pos] = n + int(rng.integers(0, 3))
            else:
                targets[pos] = levels
        cells = cells.astype(np.int64)
        before = (stored.copy(), stuck.copy())
        got_buf, want_buf = np.full(m + 1, -7, np.int64), np.full(m + 1, -7, np.int64)
        got_runs, want_runs = np.full(4, -7, np.int64), np.full(4, -7, np.int64)  # room for 4 run starts
        got = _kernels.scan_request(cells, targets, stored, stuck, n, levels, always, got_buf, got_runs)
        want = _twins.scan_request_numpy(cells, targets, stored, stuck, n, levels, always, want_buf, want_runs)
        assert got[2] == want[2]  # first invalid position
        if want[2] >= 0:
            continue  # the scan stops there; nothing else is promised
        assert got == want
        np.testing.assert_array_equal(got_buf[: got[0]], want_buf[: want[0]])
        kept = min(got[3], 4)
        np.testing.assert_array_equal(got_runs[:kept], want_runs[:kept])
        if order == "increasing" and m > 1:
            assert got[3] == 1
        # the scan changed no state
        np.testing.assert_array_equal(stored, before[0])
        np.testing.assert_array_equal(stuck, before[1])
