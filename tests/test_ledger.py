"""The ledger's latency-free counts: write groups and pipeline runs, priced into serial steps only at pricing time.

Property tests hold the ledger to a brute-force oracle that keeps every program call and every batch and prices
them one by one, as the pre-redesign ledger did when it counted steps (with the latencies) on the fly.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim
from neurosim.errors import LedgerError
from neurosim.ledger import ENERGY_TABLE, LATENCY_TABLE, SERIAL_STEPS, WRITE_GROUPS, Ledger, latencies, price

STAGE_KINDS = ("dac", "crossbar_read", "adc", "neuron", "noc_hop")
PROPS = settings(max_examples=60, deadline=None)


@st.composite
def workloads(draw):
    """A profile what-if (latencies, parallelism), declared stages, and a sequence of program calls and batches."""
    base = neurosim.load_profile("rram_hfo2")
    raw = base.to_dict()
    profile = base.replace({
        "device.set_latency_ns": draw(st.floats(0.1, 100)), "device.read_latency_ns": draw(st.floats(0.1, 100)),
        "periphery.dac_latency_ns": draw(st.floats(0.1, 10)), "periphery.adc_latency_ns": draw(st.floats(0.1, 50)),
        "core.neuron_update_latency_ns": draw(st.floats(0.1, 10)),
        "chip.noc_latency_per_flit_hop_ns": raw["chip"]["noc_latency_per_flit_hop_ns"] * draw(st.floats(0.1, 10)),
        "write_policy.parallel_cells": draw(st.integers(1, 100))})
    n_stages = draw(st.integers(1, 4))
    stages = {str(i): {k: draw(st.integers(0, 50)) for k in draw(st.sets(st.sampled_from(STAGE_KINDS), min_size=1))}
              for i in range(n_stages)}
    events = draw(st.lists(st.one_of(
        st.tuples(st.just("write"), st.fixed_dictionaries({k: st.integers(0, 300) for k in WRITE_GROUPS})),
        st.tuples(st.just("batch"), st.tuples(st.integers(0, n_stages - 1), st.integers(1, 70))),
        st.tuples(st.just("steps"), st.fixed_dictionaries({"neuron": st.integers(0, 1000)}))), max_size=30))
    return profile, stages, events


def _replay(stages, events) -> Ledger:
    ledger = Ledger(2)
    ledger.declare_stages(stages)
    for kind, what in events:
        if kind == "write":
            ledger.add_write_groups(**what)
        elif kind == "batch":
            first, samples = what
            ledger.add_pipeline(tuple(str(i) for i in range(first, len(stages))), samples)
        else:
            ledger.add_steps(**what)
    return ledger


def _oracle_steps(profile, stages, events) -> dict[str, int]:
    """Steps counted call by call and batch by batch (slowest stage per batch, first of equals)."""
    p = profile.write_policy.parallel_cells
    latency = latencies(profile)
    out = dict.fromkeys(SERIAL_STEPS, 0)
    for kind, what in events:
        if kind == "write":
            for k, n in what.items():
                out[k] += -(-n // p)
        elif kind == "batch":
            first, samples = what
            chosen = [stages[str(i)] for i in range(first, len(stages))]
            slowest = max(chosen, key=lambda s: sum(n * latency[k] for k, n in s.items()))
            for s in chosen:
                for k, n in s.items():
                    out[k] += n
            for k, n in slowest.items():
                out[k] += (samples - 1) * n
        else:
            for k, n in what.items():
                out[k] += n
    return out


@PROPS
@given(workloads())
def test_serial_steps_equal_the_call_by_call_oracle(workload):
    profile, stages, events = workload
    ledger = _replay(stages, events)
    assert ledger.serial_steps(profile) == _oracle_steps(profile, stages, events)
    latency = latencies(profile)
    time = price(ledger, profile).time_s
    assert time == {k: n * latency[k] for k, n in _oracle_steps(profile, stages, events).items()}


@PROPS
@given(workloads(), st.integers(0, 30))
def test_snapshots_subtract_and_merge_back(workload, cut):
    profile, stages, events = workload
    whole = _replay(stages, events)
    first = _replay(stages, events[:cut])
    rest = whole - first
    assert first + rest == whole
    merged = first.copy()
    merged.merge(rest)
    assert merged == whole
    assert Ledger.from_json(whole.to_json()) == whole
    assert Ledger.from_dict(json.loads(json.dumps(rest.to_dict()))) == rest
    if whole != first:
        with pytest.raises(LedgerError, match="earlier snapshot"):
            first - whole


def test_counts_do_not_depend_on_prices():
    """The same program calls under two parallelisms: the same ledger, different write times."""
    ledgers = []
    for parallel in (1, 64):
        mem = neurosim.NVMArray(500, neurosim.load_profile("ideal").replace({"write_policy.parallel_cells": parallel}))
        mem.program(range(300), [1] * 300)
        mem.program(range(0, 300, 2), [0] * 150)
        ledgers.append(mem.ledger)
    assert ledgers[0] == ledgers[1]
    slow, fast = (price(ledgers[0], neurosim.load_profile("ideal").replace({"write_policy.parallel_cells": p}))
                  for p in (1, 64))
    assert slow.time_s["write_set"] == pytest.approx(300 / 5 * fast.time_s["write_set"], rel=1e-12)  # 300 vs 5 steps


def test_price_table_covers_every_count_and_step():
    counts = {rule.count for rule in ENERGY_TABLE}
    priced = set(neurosim.ledger.COUNTS) - set(neurosim.ledger.UNPRICED_COUNTS)
    assert priced <= counts and {"set_pulses", "reset_pulses", "read_on_equivalents"} <= counts
    assert set(LATENCY_TABLE) == set(SERIAL_STEPS)
    profile = neurosim.load_profile("pcm")
    for rule in ENERGY_TABLE:  # every row names one of the profile's costs, in joules
        section, attribute = rule.field.split(".")
        assert section == "costs" and attribute.endswith("_j") and getattr(profile.costs, attribute) >= 0
    for path in LATENCY_TABLE.values():
        section, attribute = path.split(".")
        assert section == "costs" and attribute.endswith("_s")
        assert math.isfinite(getattr(profile.costs, attribute))


@pytest.mark.parametrize("name", neurosim.list_profiles())
def test_write_energy_from_pulses_equals_the_transition_matrix(name):
    profile = neurosim.load_profile(name)
    ledger = Ledger(profile.device.levels)
    import numpy as np

    a = np.arange(profile.device.levels)
    ledger.add_transitions((1 + 7 * a[:, None] + 3 * a[None, :]).astype(np.int64))
    expected = math.fsum((ledger.cell_writes * profile.device.transition_energy_matrix()).ravel())
    assert price(ledger, profile).energy_j["write"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda led: led.add_write_groups(write_set=-1), "write_set"),
    (lambda led: led.add_write_groups(nonsense=3), "nonsense"),
    (lambda led: led.add_pipeline(("9",), 5), "declared"),
    (lambda led: led.add_pipeline(("0",), 2, batches=3), "at least one sample per batch"),
    (lambda led: led.declare_stages({"0": {"adc": 99}}), "already declared"),
    (lambda led: led.declare_stages({"1": {"warp": 1}}), "warp"),
])
def test_bad_ledger_calls_are_refused_by_name(call, match):
    ledger = Ledger(2)
    ledger.declare_stages({"0": {"adc": 2}})
    before = ledger.copy()
    with pytest.raises(LedgerError, match=match):
        call(ledger)
    assert ledger == before


@pytest.mark.parametrize("patch, match", [
    ({"write_groups": {"write_set": {"0": 1}}}, "positive decimal"),
    ({"write_groups": {"write_set": {"x": 1}}}, "positive decimal"),
    ({"write_groups": {"write_set": {"5": -1}}}, "write_groups.write_set.5"),
    ({"write_groups": {"bogus": {}}}, "write_groups.bogus"),
    ({"pipelines": {"7": [1, 1]}}, "pipelines.7"),
    ({"pipelines": {"0": [2, 1]}}, "pipelines.0"),
    ({"pipelines": {"0": "x"}}, "pipelines.0"),
    ({"stages": {"0": {"warp": 1}}}, "warp"),
    ({"stages": []}, "stages"),
])
def test_saved_ledgers_with_bad_groups_or_pipelines_are_refused(patch, match):
    ledger = Ledger(2)
    ledger.declare_stages({"0": {"adc": 2}})
    ledger.add_pipeline(("0",), 4)
    data = ledger.to_dict()
    data.update(patch)
    with pytest.raises(LedgerError, match=match):
        Ledger.from_dict(data, source="saved.json")
