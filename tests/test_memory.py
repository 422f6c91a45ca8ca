"""Unit tests of NVMArray: write policies, write time, wear-out, faults, reads, summaries, pricing, bad requests."""

from __future__ import annotations

import math

import numpy as np
import pytest

import neurosim
from neurosim import NVMArray, WriteRequestError
from neurosim.memory import LifetimeProjection, MemorySummary, ProgramResult


def prof(name: str, **changes) -> neurosim.Profile:
    """A shipped profile with dotted keys replaced (``device__levels`` style keywords -> ``device.levels``)."""
    return neurosim.load_profile(name).replace({k.replace("__", "."): v for k, v in changes.items()})


def no_faults(name: str, **changes) -> neurosim.Profile:
    return prof(name, device__stuck_at_low_rate=0.0, device__stuck_at_high_rate=0.0, **changes)


# ------------------------------------------------------------------------------------------- write policies
def test_skip_unchanged_writes_only_changed_cells_and_counts_verify_reads():
    mem = NVMArray(10, "ideal")
    assert mem.profile.write_policy.mode == "skip_unchanged"
    r = mem.program([0, 1, 2, 3], [1, 0, 1, 0])  # cells 0 and 2 change (all start at 0)
    assert isinstance(r, ProgramResult)
    assert (r.requested, r.written, r.blocked, r.newly_failed) == (4, 2, 0, 0)
    np.testing.assert_array_equal(r.written_cells, [0, 2])
    np.testing.assert_array_equal(mem.write_counts, [1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(mem.stored_levels, [1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    assert mem.ledger.counts["write_verify_reads"] == 4  # every requested healthy cell is read first
    assert mem.ledger.writes_total == 2
    np.testing.assert_array_equal(mem.ledger.cell_writes, [[0, 2], [0, 0]])

    # same request again: nothing changes, but the verify reads are made and counted
    r = mem.program([0, 1, 2, 3], [1, 0, 1, 0])
    assert (r.written, r.blocked) == (0, 0) and r.written_cells.size == 0
    assert mem.ledger.counts["write_verify_reads"] == 8
    assert mem.ledger.writes_total == 2

    # whole-array request: every healthy cell is verify-read, only the differing ones are written (in order)
    target = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1], np.uint8)
    r = mem.program(None, target)
    assert (r.requested, r.written) == (10, 2)
    np.testing.assert_array_equal(r.written_cells, [1, 9])
    assert mem.ledger.counts["write_verify_reads"] == 18
    np.testing.assert_array_equal(mem.stored_levels, target)
    np.testing.assert_array_equal(mem.write_counts, [1, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    assert mem.steps == 3


def test_always_policy_writes_every_healthy_requested_cell():
    mem = NVMArray(6, "sram")
    assert mem.profile.write_policy.mode == "always"
    r = mem.program([0, 1, 2], [0, 0, 1])
    assert (r.requested, r.written, r.blocked) == (3, 3, 0)
    np.testing.assert_array_equal(r.written_cells, [0, 1, 2])
    r = mem.program(None, np.zeros(6, np.uint8))
    assert r.written == 6
    np.testing.assert_array_equal(mem.write_counts, [2, 2, 2, 1, 1, 1])
    assert mem.ledger.counts["write_verify_reads"] == 0  # no read-before-write
    assert mem.ledger.steps["write_verify"] == 0
    # 0->0 rewrites are RESETs, 1->1 rewrites SETs (the pulse that targets the level)
    np.testing.assert_array_equal(mem.ledger.cell_writes, [[2 + 5, 1], [1, 0]])


def test_always_policy_via_replace_skips_stuck_cells():
    p = prof("rram_hfo2", write_policy__mode="always", device__stuck_at_low_rate=0.3, device__stuck_at_high_rate=0.3)
    mem = NVMArray(200, p, seed=3)
    stuck = mem.stuck
    assert 0 < stuck.sum() < 200
    before = mem.stored_levels.copy()
    target = np.ones(200, np.uint8)
    r = mem.program(None, target)
    assert r.written == np.count_nonzero(~stuck)
    assert r.blocked == np.count_nonzero(stuck & (before != 1))
    np.testing.assert_array_equal(r.written_cells, np.flatnonzero(~stuck))
    np.testing.assert_array_equal(mem.write_counts, (~stuck).astype(int))
    np.testing.assert_array_equal(mem.stored_levels[stuck], before[stuck])
    cells = np.arange(0, 200, 3)
    r = mem.program(cells, np.ones(cells.size, np.int64))  # same level again: still written under "always"
    assert r.written == np.count_nonzero(~stuck[cells])


@pytest.mark.parametrize("parallel", [1, 7, 32, 1000])
def test_write_time_serial_steps_are_ceil_n_over_parallel_cells(parallel):
    mem = NVMArray(100, prof("ideal", write_policy__parallel_cells=parallel))
    ceil = lambda n: -(-n // parallel)  # noqa: E731
    mem.program(np.arange(70), np.ones(70, np.int64))  # 70 SETs, 70 verify reads
    steps = mem.ledger.serial_steps(mem.profile)
    assert steps["write_set"] == ceil(70)
    assert steps["write_reset"] == 0
    assert steps["write_verify"] == ceil(70)
    # 33 RESETs, 5 SETs (cells 70..74), 32 unchanged, 75 verify reads
    levels = np.r_[np.zeros(33), np.ones(37), np.ones(5)].astype(np.int64)
    mem.program(np.arange(75), levels)
    steps = mem.ledger.serial_steps(mem.profile)
    assert steps["write_set"] == ceil(70) + ceil(5)
    assert steps["write_reset"] == ceil(33)
    assert steps["write_verify"] == ceil(70) + ceil(75)
    # the ledger keeps each call's group sizes, not steps: parallelism is a price
    assert mem.ledger.write_groups == {"write_set": {70: 1, 5: 1}, "write_reset": {33: 1},
                                       "write_verify": {70: 1, 75: 1}}
    # time is steps x latency
    t = neurosim.price(mem.ledger, mem.profile).time_s
    dev = mem.profile.device
    assert t["write_set"] == pytest.approx((ceil(70) + ceil(5)) * dev.set_latency_s, rel=1e-12)
    assert t["write_reset"] == pytest.approx(ceil(33) * dev.reset_latency_s, rel=1e-12)


# --------------------------------------------------------------------------------------------------- wear-out
@pytest.mark.parametrize("policy", ["last", "low", "high"])
@pytest.mark.parametrize("name,sequence", [("rram_hfo2", [1, 0, 1]), ("fefet", [5, 2, 4])])
def test_endurance_exhausted_cell_becomes_stuck_per_policy(policy, name, sequence):
    p = no_faults(name, device__endurance_cycles=3, device__endurance_sigma=0.0, device__stuck_policy=policy)
    mem = NVMArray(4, p, seed=1)
    top = mem.levels - 1
    np.testing.assert_array_equal(mem.endurance, [3, 3, 3, 3])
    for i, level in enumerate(sequence):
        r = mem.program([2], [level])
        assert r.written == 1
        assert r.newly_failed == (1 if i == 2 else 0)  # the third event still lands, then the cell is stuck
    expected = {"last": sequence[-1], "low": 0, "high": top}[policy]
    assert mem.stuck.tolist() == [False, False, True, False]
    assert mem.stored_levels[2] == expected
    assert mem.write_counts[2] == 3
    assert mem.first_failure_step == 3
    s = mem.summary()
    assert (s.cells_failed, s.cells_faulty_at_manufacture) == (1, 0)
    writes = mem.ledger.writes_total
    digest_cell = (mem.write_counts.copy(), mem.cell_write_energy_j().copy())

    # never changes again; requests for another level are blocked and cost nothing
    for level in range(mem.levels):
        r = mem.program([2], [level])
        assert (r.written, r.newly_failed) == (0, 0)
        assert r.blocked == int(level != expected)
        assert mem.stored_levels[2] == expected
    whole = (mem.stored_levels.astype(np.int64) + 1) % mem.levels  # every cell asked for another level
    r = mem.program(None, whole)
    assert r.blocked == 1 and r.written == 3
    assert mem.stored_levels[2] == expected and mem.stuck[2]
    assert mem.ledger.writes_total == writes + 3
    assert mem.write_counts[2] == 3
    np.testing.assert_array_equal(mem.write_counts[[0, 1, 3]], digest_cell[0][[0, 1, 3]] + 1)
    assert mem.cell_write_energy_j()[2] == digest_cell[1][2]
    assert mem.first_failure_step == 3


def test_stuck_cell_under_always_policy_is_never_written():
    p = no_faults("rram_hfo2", device__endurance_cycles=2, device__endurance_sigma=0.0, write_policy__mode="always")
    mem = NVMArray(2, p)
    mem.program([0], [1])
    r = mem.program([0], [1])  # re-write of the held level is an event under "always": wears the cell out
    assert (r.written, r.newly_failed) == (1, 1)
    r = mem.program([0, 0, 1], [1, 0, 1])
    assert (r.written, r.blocked) == (1, 1)
    assert mem.write_counts.tolist() == [2, 1]
    assert mem.stored_levels[0] == 1  # rram_hfo2 wears out stuck high


# ----------------------------------------------------------------------------------------- manufacture faults
@pytest.mark.parametrize("name", ["rram_hfo2", "pcm"])
def test_manufacture_faults_at_profile_rates_hold_low_and_high(name):
    n, rate = 100_000, 0.01
    p = prof(name, device__stuck_at_low_rate=rate, device__stuck_at_high_rate=rate)
    mem = NVMArray(n, p, seed=11, initial_level=1)
    top = mem.levels - 1
    stuck = mem.stuck
    low = stuck & (mem.stored_levels == 0)
    high = stuck & (mem.stored_levels == top)
    assert np.count_nonzero(low) + np.count_nonzero(high) == np.count_nonzero(stuck)
    tol = 5 * math.sqrt(n * rate * (1 - rate))  # 5 binomial standard deviations (~160 of 1000)
    assert abs(np.count_nonzero(low) - n * rate) < tol
    assert abs(np.count_nonzero(high) - n * rate) < tol
    np.testing.assert_array_equal(mem.stored_levels[~stuck], 1)  # healthy cells hold the initial level
    assert mem.summary().cells_faulty_at_manufacture == np.count_nonzero(stuck)
    assert mem.summary().cells_failed == 0

    r = mem.program(None, np.full(n, top, np.uint8))  # stuck-low cells stay low
    assert r.blocked == np.count_nonzero(low)
    np.testing.assert_array_equal(mem.stored_levels[low], 0)
    r = mem.program(None, np.zeros(n, np.uint8))  # stuck-high cells stay high
    assert r.blocked == np.count_nonzero(high)
    np.testing.assert_array_equal(mem.stored_levels[high], top)
    np.testing.assert_array_equal(mem.write_counts[stuck], 0)
    np.testing.assert_array_equal(mem.stuck, stuck)


def test_ideal_profile_has_no_faults():
    mem = NVMArray(50_000, "ideal", seed=5)
    assert not mem.stuck.any()
    assert mem.summary().cells_faulty_at_manufacture == 0


# ------------------------------------------------------------------------------------------------------ reads
def test_read_is_exact_on_ideal_profile():
    rng = np.random.default_rng(0)
    mem = NVMArray(1000, "ideal")
    for _ in range(5):
        mem.program(None, rng.integers(0, 2, 1000).astype(np.uint8))
        cells = rng.permutation(1000)[:100]
        mem.program(cells, rng.integers(0, 2, 100))
        mem.advance(1e6)
        out = mem.read()
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, mem.stored_levels.astype(np.float64))
        np.testing.assert_array_equal(mem.read(cells), mem.stored_levels[cells].astype(np.float64))


def test_read_noise_has_profile_sigma_on_written_cells_only():
    n, sigma = 100_000, 0.1
    p = no_faults("pcm", device__write_noise_sigma=sigma, device__drift_nu=0.0)
    mem = NVMArray(n, p, seed=2)
    rng = np.random.default_rng(9)
    written = np.arange(0, n, 2)
    mem.program(written, rng.integers(1, 3, written.size))  # middle levels 1, 2: no clipping at 0.1 sigma
    assert mem.write_counts[written].min() == 1
    d = mem.read() - mem.stored_levels
    np.testing.assert_array_equal(d[1::2], 0.0)  # never-written cells carry no offset
    assert np.std(d[written]) == pytest.approx(sigma, rel=0.02)  # std error of the std is ~0.3 %
    assert abs(np.mean(d[written])) < 5 * sigma / math.sqrt(written.size)
    # a re-write draws a fresh offset
    again = written[:1000]
    before = d[again]
    mem.program(again, 3 - mem.stored_levels[again].astype(np.int64))  # 1 <-> 2
    after = mem.read(again) - mem.stored_levels[again]
    assert np.count_nonzero(after != before) > 990


def test_read_noise_on_binary_cells_is_clipped_to_level_range():
    n = 100_000
    mem = NVMArray(n, no_faults("rram_hfo2"), seed=4)
    sigma = mem.profile.device.write_noise_sigma
    mem.program(None, np.ones(n, np.uint8))
    d = mem.read() - 1.0
    assert d.max() == 0.0  # clipped at the top level
    assert np.mean(d == 0.0) == pytest.approx(0.5, abs=0.01)
    # the unclipped half is a half-normal: E[d^2 | d < 0] = sigma^2
    assert math.sqrt(np.mean(d[d < 0] ** 2)) == pytest.approx(sigma, rel=0.02)


@pytest.mark.parametrize("t0", [1.0, 2.5])
def test_drift_power_law(t0):
    p = no_faults("pcm", device__write_noise_sigma=0.0, device__drift_t0_s=t0)
    nu = p.device.drift_nu
    assert nu == 0.05
    mem = NVMArray(8, p)
    levels = np.array([0, 1, 2, 3, 3, 2, 1, 0], np.uint8)
    mem.program(None, levels)
    np.testing.assert_array_equal(mem.read(), levels.astype(float))  # no time has passed
    for t in (1.0, 10.0, 1e3, 3.15e7):
        mem.advance(t - mem.clock_s)
        np.testing.assert_allclose(mem.read(), levels * ((t + t0) / t0) ** -nu, rtol=1e-12)
    # cells written later drift from their own write time
    t1 = mem.clock_s
    mem.program([1, 2], [3, 0])
    mem.advance(100.0)
    expect = levels * ((t1 + 100.0 + t0) / t0) ** -nu
    expect[1] = 3 * ((100.0 + t0) / t0) ** -nu
    expect[2] = 0.0
    np.testing.assert_allclose(mem.read(), expect, rtol=1e-12)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1"])
def test_advance_rejects_bad_time(bad):
    mem = NVMArray(2, "pcm")
    with pytest.raises(WriteRequestError, match="seconds must be a finite number >= 0"):
        mem.advance(bad)
    assert mem.clock_s == 0.0


# --------------------------------------------------------------------------------------------------- summaries
def test_write_histogram_counts_cells_by_write_count():
    rng = np.random.default_rng(1)
    mem = NVMArray(300, "ideal")
    for _ in range(20):
        cells = rng.permutation(300)[:rng.integers(0, 300)]
        mem.program(cells, rng.integers(0, 2, cells.size))
    edges, counts = mem.write_histogram()
    w = mem.write_counts.astype(np.int64)
    assert counts.sum() == 300
    np.testing.assert_array_equal(edges, np.arange(w.max() + 2))
    np.testing.assert_array_equal(counts, np.bincount(w, minlength=w.max() + 1))
    # many writes on one cell: log-spaced bins, still summing to n_cells, first bin = never-written cells
    for i in range(100):
        mem.program([7], [i % 2 == 0])
    edges, counts = mem.write_histogram()
    assert mem.write_counts.max() > 64
    assert counts.sum() == 300
    assert edges[0] == 0 and edges[1] == 1 and edges[-1] == mem.write_counts.max() + 1
    assert counts[0] == np.count_nonzero(mem.write_counts == 0)
    assert np.all(np.diff(edges) > 0)
    edges, counts = mem.write_histogram(bins=np.array([0, 5, 1000]))
    assert counts.tolist() == [np.count_nonzero(w < 5) - (w[7] < 5), np.count_nonzero(w >= 5) + (w[7] < 5)]


def test_summary_hand_example():
    p = prof("ideal", device__endurance_cycles=3)
    mem = NVMArray(4, p)
    mem.program([0, 1], [1, 1])        # step 1: cells 0, 1 written
    mem.program([0, 3], [0, 0])        # step 2: cell 0 written (cell 3 unchanged)
    mem.program([0, 2], [1, 1])        # step 3: cells 0, 2 written; cell 0 reaches endurance 3 and fails
    s = mem.summary()
    assert isinstance(s, MemorySummary)
    assert (s.n_cells, s.steps, s.writes_total, s.writes_max_cell) == (4, 3, 5, 3)
    assert s.write_density == 5 / (4 * 3)
    assert (s.cells_written, s.cells_failed, s.cells_faulty_at_manufacture) == (3, 1, 0)
    # a cell wore out at step 3: the first-cell lifetime is that observed step, not a projection over the survivors
    assert s.lifetime.lifetime_steps == 3.0
    assert s.lifetime.lifetime_steps_median_endurance == 3 * 3 / 3
    assert s.lifetime.first_failure_step == 3
    # 1 % of 4 cells is one cell: the earliest projected end, cell 0 (endurance 3 at 1 write a step)
    assert s.lifetime.lifetime_steps_1pct == 3.0
    d = s.to_dict()
    assert d["writes_total"] == 5 and d["cells_failed"] == 1 and d["lifetime"]["lifetime_steps"] == 3.0
    s10 = mem.summary(steps=10)
    assert s10.steps == 10 and s10.write_density == 5 / 40
    assert s10.lifetime.lifetime_steps == 3.0  # still the observed failure
    assert s10.lifetime.lifetime_steps_1pct == 10.0  # cell 0: 3 writes in 10 steps, endurance 3
    assert mem.ledger.writes_total == s.writes_total


def test_lifetime_projection_hand_example():
    p = prof("ideal", device__endurance_cycles=100)
    mem = NVMArray(3, p)
    assert mem.lifetime().lifetime_steps == math.inf
    assert mem.lifetime().to_dict()["lifetime_steps"] is None
    for step in range(10):
        mem.program([0], [(step + 1) % 2])  # cell 0 written every step
    life = mem.lifetime()
    assert isinstance(life, LifetimeProjection)
    assert life.steps_observed == 10
    assert life.lifetime_steps == 100.0
    assert life.lifetime_steps_median_endurance == 100.0
    assert life.first_failure_step is None
    assert mem.lifetime(steps=20).lifetime_steps == 200.0
    assert mem.lifetime(steps=0).lifetime_steps == math.inf
    # a second cell written every other step does not shorten the projection
    mem2 = NVMArray(3, p)
    for step in range(10):
        cells = [0, 1] if step % 2 == 0 else [0]
        mem2.program(cells, [(step + 1) % 2, (step // 2 + 1) % 2][: len(cells)])
    assert mem2.write_counts.tolist() == [10, 5, 0]
    assert mem2.lifetime().lifetime_steps == 100.0
    assert mem2.lifetime().to_dict() == {"steps_observed": 10, "lifetime_steps": 100.0,
                                         "lifetime_steps_median_endurance": 100.0, "first_failure_step": None,
                                         "lifetime_steps_1pct": 100.0}


def test_lifetime_uses_each_cells_own_endurance():
    p = no_faults("rram_hfo2", device__endurance_sigma=1.0)
    mem = NVMArray(5, p, seed=8)
    for step in range(4):
        mem.program(None, np.full(5, (step + 1) % 2, np.uint8))
    e = mem.endurance
    assert mem.lifetime().lifetime_steps == float(e.min())  # one write per step each: lifetime = min endurance
    assert mem.lifetime().lifetime_steps_median_endurance == p.device.endurance_cycles


# ---------------------------------------------------------------------------------------------------- pricing
@pytest.mark.parametrize("name,mode", [("rram_hfo2", None), ("pcm", None), ("fefet", None), ("pcm", "always"),
                                       ("fefet", "always"), ("sram", None)])
def test_cell_write_energy_sums_to_priced_write_energy(name, mode):
    p = neurosim.load_profile(name) if mode is None else prof(name, write_policy__mode=mode)
    mem = NVMArray(500, p, seed=3)
    rng = np.random.default_rng(4)
    for _ in range(10):
        mem.program(None, rng.integers(0, mem.levels, 500))
        cells = rng.permutation(500)[:77]
        mem.program(cells, rng.integers(0, mem.levels, 77))
    e = mem.cell_write_energy_j()
    assert e.shape == (500,)
    priced = neurosim.price(mem.ledger, mem.profile).energy_j["write"]
    assert priced > 0
    assert e.sum() == pytest.approx(priced, rel=1e-12)
    assert (e[mem.write_counts == 0] == 0).all()


def test_per_level_step_energy_hand_example():
    mem = NVMArray(2, no_faults("pcm"))
    dev = mem.profile.device
    mem.program([0, 1], [3, 2])   # 3 + 2 SET pulses
    mem.program([0], [1])         # 2 RESET pulses
    np.testing.assert_allclose(mem.cell_write_energy_j(),
                               [3 * dev.set_energy_j + 2 * dev.reset_energy_j, 2 * dev.set_energy_j], rtol=1e-12)
    assert neurosim.price(mem.ledger, mem.profile).energy_j["write"] == pytest.approx(
        5 * dev.set_energy_j + 2 * dev.reset_energy_j, rel=1e-12)


# ----------------------------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize("cells,levels,pattern", [
    ([0, 1], [0.0, 1.0], r"levels must be integers \(got dtype float64\)"),
    ([0, 1], [0, 2], r"levels must be in \[0, 1\] \(got 2\)"),
    ([0, 1], [0, 255], r"levels must be in \[0, 1\] \(got 255\)"),
    ([0, 1], [-1, 0], r"levels must be in \[0, 1\] \(got -1\)"),
    ([0, 10], [0, 1], r"cell index must be in \[0, 9\] \(got 10\)"),
    ([-1, 3], [0, 1], r"cell index must be in \[0, 9\] \(got -1\)"),
    ([0.0, 1.0], [0, 1], r"cells must be integer indices \(got dtype float64\)"),
    ([0, 1, 2], [0, 1], r"cells and levels differ in length \(3 vs 2\)"),
    ([0], [0, 1], r"cells and levels differ in length \(1 vs 2\)"),
    (None, [0] * 9, r"a whole-array request needs 10 levels \(got shape \(9,\)\)"),
    (None, [0] * 11, r"a whole-array request needs 10 levels \(got shape \(11,\)\)"),
    (None, [0.5] * 10, r"levels must be integers"),
])
def test_bad_requests_raise_and_change_nothing(cells, levels, pattern):
    mem = NVMArray(10, "rram_hfo2")
    mem.program([3], [1])
    digest, ledger, steps = mem.state_digest(), mem.ledger.copy(), mem.steps
    with pytest.raises(WriteRequestError, match=pattern):
        mem.program(cells, levels)
    assert mem.state_digest() == digest
    assert mem.ledger == ledger
    assert mem.steps == steps
    assert isinstance(WriteRequestError("x"), neurosim.NeurosimError)


def test_multi_level_range_message_names_top_level():
    mem = NVMArray(4, "fefet")
    with pytest.raises(WriteRequestError, match=r"levels must be in \[0, 7\] \(got 8\)"):
        mem.program([0], np.array([8], np.uint8))


@pytest.mark.parametrize("kwargs,pattern", [({"n_cells": 0}, "n_cells must be a positive integer"),
                                            ({"n_cells": 2.0}, "n_cells must be a positive integer"),
                                            ({"n_cells": True}, "n_cells must be a positive integer"),
                                            ({"n_cells": 4, "initial_level": 2}, r"initial_level must be in \[0, 1\]")])
def test_bad_construction(kwargs, pattern):
    with pytest.raises(WriteRequestError, match=pattern):
        NVMArray(profile="ideal", **kwargs)


def test_ledger_levels_must_match_profile():
    with pytest.raises(WriteRequestError, match="ledger counts 2-level cells"):
        NVMArray(4, "pcm", ledger=neurosim.Ledger(2))


# ------------------------------------------------------------------------------------------------ read-only
def test_state_views_are_read_only():
    mem = NVMArray(8, no_faults("rram_hfo2"))
    mem.program([1], [1])
    for view in (mem.stored_levels, mem.write_counts, mem.endurance, mem.stuck):
        assert not view.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            view[0] = 1
    assert not mem.stuck.any()
    assert mem.stored_levels[1] == 1 and mem.write_counts[1] == 1
    # the views track the memory (not snapshots)
    levels = mem.stored_levels
    mem.program([2], [1])
    assert levels[2] == 1


# --------------------------------------------------------------------------------------------- counter width
@pytest.mark.parametrize("name", ["rram_hfo2", "sram", "fefet"])
def test_counters_promoted_to_int64_before_overflow(name):
    mem = NVMArray(16, name, seed=2)
    mem.program(None, np.ones(16, np.uint8))
    assert mem._wear.dtype == np.uint32
    counts, energy, stored = mem.write_counts.copy(), mem.cell_write_energy_j(), mem.stored_levels.copy()
    per = max(1, mem.levels - 1)
    # just below the bound nothing changes ...
    mem._requested_total = -(-(2 ** 32 - 1) // per) - 2
    mem.program([0], [0])
    assert mem._wear.dtype == np.uint32
    np.testing.assert_array_equal(mem._wear[:, 3], np.minimum(mem.endurance, 2 ** 32 - 1))
    # ... the request that could reach 2**32 pulses promotes first
    mem.program([1], [0])
    assert mem._wear.dtype == np.int64
    np.testing.assert_array_equal(mem._wear[:, 3], mem.endurance)
    assert mem.write_counts.dtype == np.int64 and not mem.write_counts.flags.writeable
    expect = counts.astype(np.int64)
    expect[:2] += ~mem.stuck[:2] & (stored[:2] != 0)
    np.testing.assert_array_equal(mem.write_counts, expect)
    assert mem.cell_write_energy_j()[2:].tolist() == energy[2:].tolist()
    assert mem.cell_write_energy_j().sum() == pytest.approx(neurosim.price(mem.ledger, mem.profile).energy_j["write"],
                                                            rel=1e-12)


def test_endurance_beyond_uint32_is_exact_after_promotion():
    p = no_faults("ideal", device__endurance_cycles=2 ** 32 + 2, device__endurance_sigma=0.0)
    mem = NVMArray(2, p)
    assert mem._wear[0, 3] == 2 ** 32 - 1  # capped while the counters are 32-bit
    mem._requested_total = 2 ** 32
    mem.program([0], [1])
    assert mem._wear.dtype == np.int64
    assert mem._wear[0, 3] == 2 ** 32 + 2
    # a cell 2 writes short of its endurance survives one more write and fails on the next
    mem._wear[0, 0] = 2 ** 32
    assert mem.program([0], [0]).newly_failed == 0
    assert mem.program([0], [1]).newly_failed == 1
    assert mem.stuck[0]
