"""Conformance of every shipped profile: it loads, prices a fixed event set exactly, and round-trips.

Prices are recomputed here from the profile's SI fields, independently of :func:`neurosim.price`.
"""

from __future__ import annotations

import json
import math
import tomllib

import numpy as np
import pytest

import neurosim
from neurosim import EnergyReport, Ledger, LedgerError
from neurosim.ledger import COUNTS, ENERGY_CATEGORIES, SCHEMA, SERIAL_STEPS
from neurosim.profiles import profile_from_dict

PROFILES = neurosim.list_profiles()
REL = 1e-12

# Each energy category: the counts it prices and the cost (an attribute of profile.costs) of each. "write" (pulses
# from the transition matrix), "read" (reads by level) and "leakage" (static power x time) are checked apart.
ENERGY_TERMS = {
    "write_verify": [("write_verify_reads", "read_energy_j")],
    "wire": [("wordline_activations", "wordline_energy_j"), ("bitline_reads", "bitline_energy_j")],
    "dac": [("dac_conversions", "dac_energy_j")],
    "adc": [("adc_conversions", "adc_energy_j")],
    "sample_hold": [("sample_holds", "sample_hold_energy_j")],
    "noc": [("noc_flit_hops", "noc_energy_per_flit_hop_j")],
    "neuron": [("neuron_updates", "neuron_update_energy_j"), ("neuron_ticks", "neuron_tick_energy_j"),
               ("active_neuron_ticks", "active_neuron_tick_energy_j"), ("int_adds", "int_add_energy_j")],
    "buffer": [("buffer_bytes_read", "buffer_read_energy_per_byte_j"),
               ("buffer_bytes_written", "buffer_write_energy_per_byte_j")],
    "aux_memory": [("aux_bytes_read", "aux_read_energy_per_byte_j"),
                   ("aux_bytes_written", "aux_write_energy_per_byte_j")],
    "off_chip": [("offchip_bytes_read", "offchip_energy_per_byte_j"),
                 ("offchip_bytes_written", "offchip_energy_per_byte_j")],
    "synapse": [("synaptic_events", "synaptic_event_energy_j")],
    "spike": [("spikes", "spike_energy_j")],
    "lut": [("lut_bytes_read", "lut_read_energy_per_byte_j")],
}
UNPRICED = ("macs", "lut_lookups")
# Each serial step: the cost (an attribute of profile.costs) it is priced by.
STEP_LATENCY = {
    "write_set": "set_latency_s",
    "write_reset": "reset_latency_s",
    "write_verify": "read_latency_s",
    "crossbar_read": "read_latency_s",
    "dac": "dac_latency_s",
    "adc": "adc_latency_s",
    "noc_hop": "noc_latency_per_flit_hop_s",
    "neuron": "neuron_update_latency_s",
    "tick": "tick_s",
}
STATIC = {"cores": 3, "aux_bytes": 5000}


def fixed_counts() -> dict[str, int]:
    return {key: 1000 * (i + 1) + 7 * i * i for i, key in enumerate(COUNTS)}


def fixed_steps() -> dict[str, int]:
    return {key: 10 * (i + 1) + 3 for i, key in enumerate(SERIAL_STEPS)}


def fixed_transitions(levels: int) -> np.ndarray:
    a = np.arange(levels)[:, None]
    b = np.arange(levels)[None, :]
    return (1 + 3 * a + 5 * b + 11 * (a == b)).astype(np.int64)


def fixed_reads(levels: int) -> np.ndarray:
    return (100 + 37 * np.arange(levels)).astype(np.int64)


def fixed_ledger(levels: int) -> Ledger:
    ledger = Ledger(levels)
    ledger.add_transitions(fixed_transitions(levels))
    ledger.add_cell_reads(fixed_reads(levels))
    ledger.add(**fixed_counts())
    ledger.add_steps(**fixed_steps())
    ledger.declare_static(**STATIC)
    return ledger


def expected_transition_energy(device) -> np.ndarray:
    """Energy of programming a cell from level a to b, written out cell by cell from the documented rule."""
    n = device.levels
    out = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            is_set = b > a or (b == a and b > 0)
            pulses = max(abs(b - a), 1) if device.energy_scaling == "per_level_step" else 1
            out[a, b] = (device.set_energy_j if is_set else device.reset_energy_j) * pulses
    return out


def test_fixed_event_set_uses_every_count_and_step():
    """The tables above cover the ledger's whole vocabulary, so a new count or step cannot go unpriced here."""
    assert sorted([k for terms in ENERGY_TERMS.values() for k, _ in terms] + list(UNPRICED)) == sorted(COUNTS)
    assert set(ENERGY_TERMS) | {"write", "read", "leakage"} == set(ENERGY_CATEGORIES)
    assert set(STEP_LATENCY) | {"clock"} == set(SERIAL_STEPS)
    assert all(n > 0 for n in fixed_counts().values()) and all(n > 0 for n in fixed_steps().values())


@pytest.mark.parametrize("name", PROFILES)
def test_profile_loads(name):
    profile = neurosim.load_profile(name)
    assert profile.name == name
    assert 2 <= profile.device.levels <= 256


@pytest.mark.parametrize("name", PROFILES)
def test_transition_energy_matrix_follows_the_rule(name):
    device = neurosim.load_profile(name).device
    matrix = device.transition_energy_matrix()
    assert matrix.shape == (device.levels, device.levels)
    np.testing.assert_array_equal(matrix, expected_transition_energy(device))


@pytest.mark.parametrize("name", PROFILES)
def test_prices_fixed_event_set(name):
    profile = neurosim.load_profile(name)
    ledger = fixed_ledger(profile.device.levels)
    report = neurosim.price(ledger, profile)
    assert isinstance(report, EnergyReport)
    assert report.profile == name
    assert list(report.energy_j) == list(ENERGY_CATEGORIES)
    assert list(report.time_s) == list(SERIAL_STEPS)

    counts = fixed_counts()
    write = math.fsum((fixed_transitions(profile.device.levels) * profile.device.transition_energy_matrix()).ravel())
    assert report.energy_j["write"] == pytest.approx(write, rel=REL, abs=0)
    for category, terms in ENERGY_TERMS.items():
        expected = math.fsum(counts[k] * getattr(profile.costs, attr) for k, attr in terms)
        assert report.energy_j[category] == pytest.approx(expected, rel=REL, abs=0), category
    # reads by level: level l of L conducts off + (1 - off) l / (L - 1) of the highest level, off = 1 / on_off_ratio
    levels, off = profile.device.levels, 1.0 / profile.device.on_off_ratio
    read = math.fsum(n * profile.costs.read_energy_j * (off + (1 - off) * lv / (levels - 1))
                     for lv, n in enumerate(fixed_reads(levels)))
    assert report.energy_j["read"] == pytest.approx(read, rel=REL, abs=0)

    steps = fixed_steps()
    for step, attr in STEP_LATENCY.items():
        expected = steps[step] * getattr(profile.costs, attr)
        assert report.time_s[step] == pytest.approx(expected, rel=REL, abs=0), step
    assert report.time_s["clock"] == pytest.approx(steps["clock"] / profile.chip.clock_hz, rel=REL, abs=0)
    static_w = (STATIC["cores"] * profile.costs.core_leakage_w
                + STATIC["aux_bytes"] * profile.aux_memory.leakage_w_per_byte)
    assert report.energy_j["leakage"] == pytest.approx(static_w * report.total_time_s, rel=REL, abs=0)

    values = list(report.energy_j.values()) + list(report.time_s.values())
    assert all(math.isfinite(v) and v >= 0 for v in values)
    assert report.energy_j["write"] > 0 and report.energy_j["read"] > 0

    total_e = math.fsum(report.energy_j.values())
    total_t = math.fsum(report.time_s.values())
    assert report.total_energy_j == pytest.approx(total_e, rel=REL, abs=0)
    assert report.total_time_s == pytest.approx(total_t, rel=REL, abs=0)
    assert total_t > 0
    assert report.power_w == pytest.approx(total_e / total_t, rel=REL, abs=0)
    assert math.isfinite(report.power_w) and report.power_w > 0


@pytest.mark.parametrize("name", PROFILES)
def test_ledger_round_trips_through_json_and_reprices_identically(name):
    profile = neurosim.load_profile(name)
    ledger = fixed_ledger(profile.device.levels)
    text = ledger.to_json()
    again = Ledger.from_json(text)
    assert again == ledger and again is not ledger
    assert again.to_json() == text
    assert json.loads(text)["schema"] == SCHEMA
    assert neurosim.price(again, profile) == neurosim.price(ledger, profile)


@pytest.mark.parametrize("name", PROFILES)
def test_energy_report_to_dict_round_trips_through_json(name):
    profile = neurosim.load_profile(name)
    report = neurosim.price(fixed_ledger(profile.device.levels), profile)
    d = report.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["energy_j"] == report.energy_j and d["time_s"] == report.time_s
    assert d["total_energy_j"] == report.total_energy_j and d["power_w"] == report.power_w
    assert d["profile"] == name


@pytest.mark.parametrize("name", PROFILES)
def test_profile_round_trips_through_toml(name):
    profile = neurosim.load_profile(name)
    again = profile_from_dict(tomllib.loads(profile.to_toml()), source="roundtrip")
    assert again.content_hash == profile.content_hash
    assert again == profile
    assert neurosim.price(fixed_ledger(again.device.levels), again) == \
        neurosim.price(fixed_ledger(profile.device.levels), profile)


def test_empty_ledger_prices_to_zero():
    report = neurosim.price(Ledger(2), neurosim.load_profile("rram_hfo2"))
    assert report.total_energy_j == 0 and report.total_time_s == 0 and report.power_w == 0
    assert report.to_dict()["power_w"] == 0


@pytest.mark.parametrize("name", PROFILES)
def test_ledger_priced_under_profile_with_other_levels_is_refused(name):
    profile = neurosim.load_profile(name)
    other_levels = 4 if profile.device.levels != 4 else 2
    with pytest.raises(LedgerError, match="levels"):
        neurosim.price(fixed_ledger(other_levels), profile)


def test_two_level_ledger_under_pcm_is_refused():
    pcm = neurosim.load_profile("pcm")
    assert pcm.device.levels == 4
    ledger = fixed_ledger(neurosim.load_profile("rram_hfo2").device.levels)
    with pytest.raises(LedgerError) as info:
        neurosim.price(Ledger.from_json(ledger.to_json()), pcm)
    assert "'pcm'" in str(info.value) and "2-level" in str(info.value)


def _good() -> dict:
    return fixed_ledger(2).to_dict()


def _with(**changes) -> dict:
    d = _good()
    d.update(changes)
    return d


def _with_in(section: str, key: str, value) -> dict:
    d = _good()
    d[section][key] = value
    return d


BAD_LEDGERS = {
    "not an object": [1, 2],
    "wrong schema": _with(schema="neurosim.ledger/0"),
    "missing schema": {k: v for k, v in _good().items() if k != "schema"},
    "levels 1": _with(levels=1),
    "levels bool": _with(levels=True),
    "levels float": _with(levels=2.0),
    "negative count": _with_in("counts", "cell_reads", -1),
    "float count": _with_in("counts", "cell_reads", 1.5),
    "bool count": _with_in("counts", "cell_reads", True),
    "negative step": _with_in("steps", "adc", -3),
    "unknown count": _with_in("counts", "cell_writes", 1),
    "unknown step": _with_in("steps", "write", 1),
    "counts not an object": _with(counts=[1, 2]),
    "steps missing": {k: v for k, v in _good().items() if k != "steps"},
    "matrix 3x3 for 2 levels": _with(cell_writes=[[0] * 3] * 3),
    "matrix 2x3": _with(cell_writes=[[0, 0, 0], [0, 0, 0]]),
    "matrix flat": _with(cell_writes=[0, 0, 0, 0]),
    "matrix ragged": _with(cell_writes=[[0, 0], [0]]),
    "matrix negative": _with(cell_writes=[[0, -1], [0, 0]]),
    "matrix floats": _with(cell_writes=[[0.5, 0], [0, 0]]),
    "matrix bools": _with(cell_writes=[[True, False], [False, True]]),
    "matrix strings": _with(cell_writes=[["1", "0"], ["0", "0"]]),
    "matrix missing": {k: v for k, v in _good().items() if k != "cell_writes"},
    "matrix beyond int64": _with(cell_writes=[[2**63, 0], [0, 0]]),
}


def test_good_ledger_dict_is_accepted():
    """Control for the bad inputs below."""
    assert Ledger.from_dict(_good()) == fixed_ledger(2)


@pytest.mark.parametrize("data", list(BAD_LEDGERS.values()), ids=list(BAD_LEDGERS))
def test_ledger_from_dict_rejects_bad_input(data):
    with pytest.raises(LedgerError) as info:
        Ledger.from_dict(data, source="saved.json")
    assert str(info.value).startswith("saved.json: ")


@pytest.mark.parametrize("text", ["", "{", "not json", json.dumps(_with(schema=None))])
def test_ledger_from_json_rejects_bad_text(text):
    with pytest.raises(LedgerError) as info:
        Ledger.from_json(text, source="run.json")
    assert str(info.value).startswith("run.json: ")


@pytest.mark.parametrize("call", [
    lambda ledger: ledger.add(cell_reads=-1),
    lambda ledger: ledger.add(cell_reads=1.0),
    lambda ledger: ledger.add(nonsense=1),
    lambda ledger: ledger.add_steps(adc=-1),
    lambda ledger: ledger.add_steps(nonsense=1),
], ids=["negative count", "float count", "unknown count", "negative step", "unknown step"])
def test_ledger_add_rejects_bad_counts(call):
    ledger = fixed_ledger(2)
    before = ledger.copy()
    with pytest.raises(LedgerError):
        call(ledger)
    assert ledger == before


def test_add_transitions_rejects_bad_matrix():
    ledger = Ledger(2)
    with pytest.raises(LedgerError):
        ledger.add_transitions(np.array([5, -1]))


def test_ledger_from_dict_rejects_huge_levels():
    with pytest.raises(LedgerError):
        Ledger.from_dict(_with(levels=10**30))
