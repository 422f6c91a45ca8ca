"""Count now, price later, exactly: a record re-priced under a profile that differs only in prices is the record
re-simulating under that profile gives (wall times aside), and a structurally different profile is refused by name.

Covered: every shipped profile against a what-if that changes every price and label key at once (training and
inference), every registered trainer, every pair of shipped profiles, and random price-only what-ifs (hypothesis).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosim
from neurosim.data import load_dataset
from neurosim.nn.spec import model_from_spec
from neurosim.profiles.schema import key_roles, section_fields
from neurosim.record import RecordError, RunRecord
from neurosim.training import TRAINERS, make_trainer, train

PROFILES = neurosim.list_profiles()
ROLES = key_roles()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def price_only_whatif(profile: neurosim.Profile, factor: float = 3.0) -> neurosim.Profile:
    """``profile`` with every price and label key changed (and every structure key kept)."""
    raw = profile.to_dict()
    changes: dict[str, Any] = {"name": f"{profile.name}_whatif", "description": "every price changed"}
    for path, role in ROLES.items():
        if role == "structure" or "." not in path:
            continue
        section, key = path.split(".")
        if key not in raw[section]:
            continue  # an unpinned cost (pinning is tested on its own below)
        value, rule = raw[section][key], section_fields(section)[key].metadata["rule"]
        if rule.kind == "choice":
            changes[path] = next(c for c in rule.choices if c != value)
        elif rule.kind == "int":
            changes[path] = min(int(rule.hi), value + 3)
        elif rule.kind == "bool":
            changes[path] = not value
        else:
            new = value * factor if value else 0.5
            changes[path] = float(min(max(new, rule.lo if not rule.lo_open else new), rule.hi))
    out = profile.replace(changes)
    assert out.first_structural_difference(profile) is None
    assert out.content_hash != profile.content_hash
    return out


def _without_wall_times(record: RunRecord) -> dict:
    d = json.loads(record.to_json())
    for item in d["epochs"] + d["checkpoints"]:
        item.pop("wall_time_s")
    return d


def _train(profile, data, trainer="sgd", epochs=1, spec="64-16-10") -> RunRecord:
    model = model_from_spec(spec, data.input_shape, data.n_classes, seed=0)
    chip = neurosim.Chip(profile, model, seed=0)
    t = make_trainer(trainer)
    return train(chip, t, data, epochs=epochs, batch_size=t.default_batch_size, seed=0, steps_per_eval=7)


def _assert_same_record(repriced: RunRecord, simulated: RunRecord) -> None:
    assert _without_wall_times(repriced) == _without_wall_times(simulated)
    # and every priced figure, epoch by epoch and checkpoint by checkpoint
    p_new, p_sim = repriced.pricing_profile(), simulated.pricing_profile()
    for a, b in zip(repriced.epochs, simulated.epochs):
        assert a.energy(p_new) == b.energy(p_sim)
    for a, b in zip(repriced.checkpoints, simulated.checkpoints):
        assert a.energy(p_new) == b.energy(p_sim)


@pytest.mark.parametrize("name", PROFILES)
def test_training_record_reprices_exactly_on_every_shipped_profile(digits, name):
    profile = neurosim.load_profile(name)
    whatif = price_only_whatif(profile)
    original, simulated = _train(profile, digits), _train(whatif, digits)
    assert original.ledger == simulated.ledger  # counts never depend on prices
    repriced = original.reprice(whatif)
    _assert_same_record(repriced, simulated)
    assert repriced.energy() != original.energy()  # and the prices did change the figures
    # re-pricing back gives the original
    assert _without_wall_times(repriced.reprice(profile)) == _without_wall_times(original)


@pytest.mark.parametrize("name", PROFILES)
def test_inference_report_reprices_exactly_on_every_shipped_profile(digits, name):
    profile = neurosim.load_profile(name)
    whatif = price_only_whatif(profile, factor=0.25)
    model = neurosim.load_model("digits_mlp")
    reports = []
    for p in (profile, whatif):
        chip = neurosim.Chip(p, model, calibration=digits.x_train[:128])
        for start in range(0, 300, 64):  # several batches: pipeline fills and streams
            chip.predict(digits.x_test[start: start + 64])
        reports.append(chip.report(accuracy=0.5))
    original, simulated = reports
    repriced = original.reprice(whatif)
    assert repriced.to_dict() == simulated.to_dict()
    for key in ("latency_s", "time_s", "throughput_per_s", "power_w", "energy_per_inference_j"):
        assert getattr(repriced, key) == getattr(simulated, key), key
    assert repriced.latency_s != original.latency_s


@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_every_trainer_reprices_exactly(digits, trainer):
    profile = neurosim.load_profile("rram_hfo2")
    whatif = price_only_whatif(profile, factor=7.0)
    original = _train(profile, digits, trainer)
    _assert_same_record(original.reprice(whatif), _train(whatif, digits, trainer))


def _first_structural_key(a: neurosim.Profile, b: neurosim.Profile) -> str | None:
    da, db = a.to_dict(), b.to_dict()
    for section in da:
        if not isinstance(da[section], dict):
            continue
        for key in da[section]:
            if ROLES[f"{section}.{key}"] == "structure" and da[section][key] != db[section][key]:
                return f"{section}.{key}"
    return None


@pytest.mark.parametrize("a", PROFILES)
def test_every_shipped_profile_pair_reprices_exactly_or_is_refused_by_name(digits, a):
    first = neurosim.load_profile(a)
    record = _train(first, digits, epochs=1)
    for b in PROFILES:
        other = neurosim.load_profile(b)
        key = _first_structural_key(first, other)
        assert first.first_structural_difference(other) == key
        if key is None:  # a pair that shares a structure: exact, checked against simulating it
            _assert_same_record(record.reprice(other), _train(other, digits, epochs=1))
        else:
            with pytest.raises(RecordError, match=f"'{key}'"):
                record.reprice(other)


@pytest.mark.parametrize("change", [{"crossbar.rows": 64}, {"periphery.adc_bits": 4}, {"device.levels": 4},
                                    {"device.write_noise_sigma": 0.2}, {"write_policy.mode": "always"},
                                    {"device.endurance_cycles": 1e3}, {"chip.mesh_rows": 8}])
def test_structural_whatifs_are_refused_naming_the_key(digits, change):
    profile = neurosim.load_profile("rram_hfo2")
    record = _train(profile, digits)
    (key,) = change
    with pytest.raises(RecordError, match=f"'{key}'"):
        record.reprice(profile.replace(change))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(factors=st.lists(st.floats(0.01, 100.0), min_size=6, max_size=6), parallel=st.integers(1, 4096))
def test_random_price_whatifs_reprice_inference_exactly(digits, factors, parallel):
    profile = neurosim.load_profile("rram_hfo2")
    raw = profile.to_dict()
    whatif = profile.replace({
        "device.read_voltage_v": raw["device"]["read_voltage_v"] * factors[0] ** 0.25,
        "device.read_latency_ns": raw["device"]["read_latency_ns"] * factors[1],
        "periphery.adc_energy_per_step_fj": raw["periphery"]["adc_energy_per_step_fj"] * factors[2],
        "periphery.adc_clock_mhz": raw["periphery"]["adc_clock_mhz"] * factors[3],
        "chip.clock_mhz": raw["chip"]["clock_mhz"] * factors[4],
        "chip.noc_latency_per_flit_hop_ns": raw["chip"]["noc_latency_per_flit_hop_ns"] * factors[5],
        "write_policy.parallel_cells": parallel})
    model = neurosim.load_model("digits_mlp")
    reports = []
    for p in (profile, whatif):
        chip = neurosim.Chip(p, model)
        chip.predict(digits.x_test[:40])
        chip.predict(digits.x_test[40:41])
        reports.append(chip)
    # writes too: the programming ledger prices its write groups under the what-if's parallelism
    for chip in reports:
        chip.program_codes({2: -np.asarray(model.layers[2].codes)})
    original, simulated = (c.report() for c in reports)
    assert original.reprice(whatif).to_dict() == simulated.to_dict()
    a, b = (c.ledger for c in reports)
    assert a == b
    assert neurosim.price(a, whatif) == neurosim.price(b, whatif)


@pytest.mark.parametrize("pins", [{"device.read_energy_pj": 0.5}, {"periphery.adc_energy_pj": 2.0,
                                                                    "periphery.adc_latency_ns": 50.0},
                                  {"chip.noc_energy_per_flit_hop_pj": 9.0, "aux_memory.read_energy_per_byte_pj": 3.0}])
def test_pinning_a_cost_reprices_exactly(digits, pins):
    profile = neurosim.load_profile("rram_hfo2")
    pinned = profile.replace(pins)
    cost_of = {"device.read_energy_pj": "read_energy_j", "periphery.adc_energy_pj": "adc_energy_j",
               "periphery.adc_latency_ns": "adc_latency_s",
               "chip.noc_energy_per_flit_hop_pj": "noc_energy_per_flit_hop_j",
               "aux_memory.read_energy_per_byte_pj": "aux_read_energy_per_byte_j"}
    for key in pins:
        attr = cost_of[key]
        assert pinned.costs.provenance[attr] == "pinned" and profile.costs.provenance[attr].startswith("derived")
    _assert_same_record(_train(profile, digits).reprice(pinned), _train(pinned, digits))
