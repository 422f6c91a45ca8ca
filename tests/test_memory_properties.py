"""Property tests of the NVM's accounting invariants over random request sequences (hypothesis).

Small memories on every shipped profile, with endurance replaced by a small random number so that cells wear out
during the sequence. Each request is checked against a snapshot of ``stored_levels`` and ``stuck`` taken just before
it. Examples are derandomized so that the suite is deterministic.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import neurosim
from neurosim import NVMArray

PROFILES = neurosim.list_profiles()
PROPS = settings(deadline=None, max_examples=300, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def make_profile(name: str, endurance: int, sigma: float, policy: str, mode: str, fault_rate: float | None):
    changes = {"device.endurance_cycles": endurance, "device.endurance_sigma": sigma,
               "device.stuck_policy": policy}
    if mode != "profile":
        changes["write_policy.mode"] = mode
    if fault_rate is not None:
        changes["device.stuck_at_low_rate"] = fault_rate
        changes["device.stuck_at_high_rate"] = fault_rate
    return neurosim.load_profile(name).replace(changes)


@st.composite
def scenarios(draw):
    name = draw(st.sampled_from(PROFILES))
    profile = make_profile(name, draw(st.integers(1, 8)), draw(st.sampled_from([0.0, 0.6])),
                           draw(st.sampled_from(["last", "low", "high"])),
                           draw(st.sampled_from(["profile", "profile", "skip_unchanged", "always"])),
                           draw(st.sampled_from([None, 0.05])))
    n = draw(st.integers(1, 64))
    levels = profile.device.levels
    requests = []
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            lv = draw(st.lists(st.integers(0, levels - 1), min_size=n, max_size=n))
            requests.append((None, np.array(lv, dtype=draw(st.sampled_from([np.uint8, np.int64])))))
        else:
            cells = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
            lv = draw(st.lists(st.integers(0, levels - 1), min_size=len(cells), max_size=len(cells)))
            dtype = draw(st.sampled_from([np.int64, np.int32, np.uint16]))
            requests.append((np.array(cells, dtype=dtype), np.array(lv, dtype=np.int64)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return profile, n, requests, seed


def _replay(profile, n, requests, seed):
    mem = NVMArray(n, profile, seed=seed)
    results, digests = [], [mem.state_digest()]
    for cells, levels in requests:
        results.append(mem.program(cells, levels))
        digests.append(mem.state_digest())
    return mem, results, digests


@PROPS
@given(scenarios())
def test_accounting_invariants(scenario):
    profile, n, requests, seed = scenario
    mem = NVMArray(n, profile, seed=seed)
    dev = profile.device
    top = dev.levels - 1
    always = profile.write_policy.mode == "always"
    p = profile.write_policy.parallel_cells
    matrix = dev.transition_energy_matrix()
    a, b = np.arange(dev.levels)[:, None], np.arange(dev.levels)[None, :]
    up = (b > a) | ((b == a) & (b > 0))  # SET transitions (a re-write of a level > 0 is a SET)
    total_written = total_verify = blocked = 0
    for cells, levels in requests:
        stored0, stuck0 = mem.stored_levels.copy(), mem.stuck.copy()
        counts0 = mem.write_counts.astype(np.int64)
        ledger0 = mem.ledger.copy()
        idx = np.arange(n) if cells is None else cells.astype(np.int64)
        tgt = levels.astype(np.int64)

        r = mem.program(cells, levels)

        healthy = ~stuck0[idx]
        differs = stored0[idx] != tgt
        do = healthy & (differs | always)
        assert r.requested == idx.size
        assert r.written == np.count_nonzero(do)
        assert r.blocked == np.count_nonzero(~healthy & differs)
        np.testing.assert_array_equal(r.written_cells, idx[do])  # request order
        # per-cell counters: +1 exactly on the programmed cells, never decreasing
        counts = mem.write_counts.astype(np.int64)
        delta = np.zeros(n, np.int64)
        delta[idx[do]] = 1
        np.testing.assert_array_equal(counts - counts0, delta)
        # stuck cells never change and never heal; failures are the newly stuck cells
        stuck = mem.stuck
        assert (stuck >= stuck0).all()
        np.testing.assert_array_equal(mem.stored_levels[stuck0], stored0[stuck0])
        new_fail = stuck & ~stuck0
        assert r.newly_failed == np.count_nonzero(new_fail)
        assert not new_fail[np.setdiff1d(np.arange(n), idx[do])].any()  # only a programmed cell can wear out
        np.testing.assert_array_equal(new_fail[idx[do]], counts[idx[do]] >= mem.endurance[idx[do]])
        # levels: requested level landed; a cell that wore out holds its stuck level per policy
        expect = stored0.astype(np.int64)
        expect[idx[do]] = tgt[do]
        expect[new_fail] = {"last": expect[new_fail], "low": 0, "high": top}[dev.stuck_policy]
        np.testing.assert_array_equal(mem.stored_levels, expect)
        # ledger: transitions of exactly these events, verify reads, serial steps
        moves = np.zeros((dev.levels, dev.levels), np.int64)
        np.add.at(moves, (stored0[idx[do]].astype(np.int64), tgt[do]), 1)
        d = mem.ledger - ledger0
        np.testing.assert_array_equal(d.cell_writes, moves)
        verify = 0 if always else (np.count_nonzero(~stuck0) if cells is None else np.count_nonzero(healthy))
        assert d.counts["write_verify_reads"] == verify
        n_set = int((moves * up).sum())
        steps = d.serial_steps(profile)
        assert steps["write_set"] == -(-n_set // p)
        assert steps["write_reset"] == -(-(r.written - n_set) // p)
        assert steps["write_verify"] == -(-verify // p)
        total_written += r.written
        total_verify += verify
        blocked += r.blocked

    for what, happened in (("wear-out", mem.summary().cells_failed > 0), ("blocked", blocked > 0),
                           ("manufacture fault", mem.summary().cells_faulty_at_manufacture > 0)):
        event(f"{what}: {happened}")
    assert mem.ledger.writes_total == total_written
    assert mem.ledger.counts["write_verify_reads"] == total_verify
    assert int(mem.ledger.cell_writes.sum()) == int(mem.write_counts.sum())
    assert mem.summary().writes_total == total_written
    assert mem.steps == len(requests)
    energy = neurosim.price(mem.ledger, profile).energy_j["write"]
    assert energy == pytest.approx(float((mem.ledger.cell_writes * matrix).sum()), rel=1e-12)
    assert mem.cell_write_energy_j().sum() == pytest.approx(energy, rel=1e-12, abs=1e-30)
    assert mem.write_histogram()[1].sum() == n
    s = mem.summary()
    assert s.cells_failed + s.cells_faulty_at_manufacture == np.count_nonzero(mem.stuck)


@PROPS
@given(scenarios())
def test_same_seed_same_requests_is_bit_identical(scenario):
    profile, n, requests, seed = scenario
    a, ra, da = _replay(profile, n, requests, seed)
    b, rb, db = _replay(profile, n, requests, seed)
    assert da == db
    assert a.ledger == b.ledger
    assert a.ledger.to_json() == b.ledger.to_json()
    for x, y in zip(ra, rb):
        assert (x.requested, x.written, x.blocked, x.newly_failed) == (y.requested, y.written, y.blocked,
                                                                       y.newly_failed)
        np.testing.assert_array_equal(x.written_cells, y.written_cells)
    np.testing.assert_array_equal(a.read(), b.read())
    assert a.summary().to_dict() == b.summary().to_dict()


@settings(deadline=None, max_examples=40, derandomize=True, database=None)
@given(name=st.sampled_from([p for p in PROFILES if neurosim.load_profile(p).device.endurance_sigma > 0]),
       n=st.integers(8, 64), seeds=st.lists(st.integers(0, 2 ** 32 - 1), min_size=2, max_size=2, unique=True))
def test_different_seed_gives_different_endurance(name, n, seeds):
    a = NVMArray(n, name, seed=seeds[0])
    b = NVMArray(n, name, seed=seeds[1])
    assert not np.array_equal(a.endurance, b.endurance)
    assert a.state_digest() != b.state_digest()
    # while the same seed (as an int or as a Generator seeded alike) repeats it
    c = NVMArray(n, name, seed=np.random.default_rng(seeds[0]))
    np.testing.assert_array_equal(a.endurance, c.endurance)
    assert a.state_digest() == c.state_digest()
