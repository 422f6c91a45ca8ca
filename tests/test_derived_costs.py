"""Derived costs: every knob moves every figure that depends on it, pins win, old profile files get a migration path.

Property tests (hypothesis) over the shipped profiles and the component models, plus the physical effects that now
follow the hardware: IR drop with crossbar size and cell resistance, read noise, bit-serial inputs, drift.
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosim
from neurosim.data import load_dataset
from neurosim.errors import ProfileError
from neurosim.profiles import components
from neurosim.profiles.schema import KEYS_ADDED_IN_0_3, section_fields

PROFILES = neurosim.list_profiles()
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# ------------------------------------------------------------------------------------------------ converters
@pytest.mark.parametrize("name", PROFILES)
def test_adc_bits_alone_moves_adc_energy_latency_and_area(name):
    profile = neurosim.load_profile(name)
    bits = profile.periphery.adc_bits
    other = profile.replace({"periphery.adc_bits": 4 if bits > 4 else bits + 4})
    for figure in ("adc_energy_j", "adc_latency_s", "adc_area_m2"):
        assert getattr(other.costs, figure) != getattr(profile.costs, figure), (name, figure)
        assert profile.costs.provenance[figure].startswith("derived"), (name, figure)
    assert other.costs.tile_area_m2 != profile.costs.tile_area_m2


@PROPS
@given(name=st.sampled_from(PROFILES), bits=st.integers(1, 15))
def test_adc_energy_and_area_grow_with_bits(name, bits):
    profile = neurosim.load_profile(name)
    low, high = (profile.replace({"periphery.adc_bits": b}) for b in (bits, bits + 1))
    assert high.costs.adc_energy_j > low.costs.adc_energy_j or profile.periphery.adc_energy_per_step_j == 0
    assert high.costs.adc_area_m2 > low.costs.adc_area_m2
    assert high.costs.adc_latency_s >= low.costs.adc_latency_s


@pytest.mark.parametrize("adc_type", components.ADC_TYPES)
def test_each_adc_model_grows_with_bits(adc_type):
    energies = [components.adc_energy(adc_type, b, 1e-15) for b in range(1, 17)]
    areas = [components.adc_area(adc_type, b, 1e-12) for b in range(1, 17)]
    latencies = [components.adc_latency(adc_type, b, 1e9) for b in range(1, 17)]
    assert energies == sorted(energies) and len(set(energies)) == 16
    assert areas == sorted(areas) and len(set(areas)) == 16
    assert latencies == sorted(latencies)
    if adc_type == "sar":  # the Walden model doubles per bit
        assert energies[7] == pytest.approx(2 * energies[6])


# ------------------------------------------------------------------------------------------------ crossbar
@PROPS
@given(rows=st.integers(8, 512), cols=st.integers(8, 512), factor=st.integers(2, 4))
def test_read_energy_per_mvm_grows_with_rows_and_columns(rows, cols, factor):
    base = neurosim.load_profile("rram_hfo2")

    def full_read(r: int, c: int) -> float:  # one tile read, every row driven, cells at the top level
        costs = base.replace({"crossbar.rows": r, "crossbar.cols": c, "periphery.columns_per_adc": 1}).costs
        return r * c * costs.read_energy_j + r * costs.wordline_energy_j + c * costs.bitline_energy_j

    assert full_read(rows * factor, cols) > full_read(rows, cols)
    assert full_read(rows, cols * factor) > full_read(rows, cols)
    longer = base.replace({"crossbar.cols": cols * factor}).costs.wordline_energy_j
    assert longer == pytest.approx(factor * base.replace({"crossbar.cols": cols}).costs.wordline_energy_j)


def _ir_error(profile: neurosim.Profile) -> float:
    """Mean relative loss of the analog weights to IR drop on a dense layer filling the crossbar."""
    from neurosim.nn import Dense, Flatten, sequential

    rows = profile.crossbar.rows
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 2, size=(rows, 32))
    model = sequential("square", (rows,), 32, [Flatten(), Dense(codes=codes, scale=1.0, bias=np.zeros(32),
                                                                activation="none")])
    slices = neurosim.Chip(profile, model).held.slices(1)[0]
    ideal = np.abs(codes).sum()
    return float(1 - np.abs(slices).sum() / ideal)


def test_ir_drop_grows_with_crossbar_size_and_falls_with_cell_resistance():
    quiet = neurosim.load_profile("ideal").replace({"crossbar.wire_segment_ohm": 2.0})
    small, big = (quiet.replace({"crossbar.rows": n, "crossbar.cols": n}) for n in (64, 256))
    assert 0 < _ir_error(small) < _ir_error(big)
    low_r = big.replace({"device.on_conductance_us": 300.0})  # ~3 kOhm cells
    assert _ir_error(low_r) > 10 * _ir_error(big)
    assert _ir_error(quiet.replace({"crossbar.wire_segment_ohm": 0.0})) == 0.0


def test_ir_drop_costs_accuracy_as_wires_grow_against_cells(digits):
    """Ternary networks shrug off mild IR drop (calibrated ADCs absorb most of a smooth gain loss); when the wire
    path approaches the cell resistance the loss turns into errors."""
    model = neurosim.load_model("digits_mlp")
    quiet = neurosim.load_profile("rram_hfo2").replace({"device.read_noise_sigma": 0.0})
    accuracy = []
    for segment, g_on in ((0.0, 10.0), (10.0, 330.0), (50.0, 1000.0)):  # none; 3 kOhm cells; 1 kOhm, 50 ohm wire
        chip = neurosim.Chip(quiet.replace({"crossbar.wire_segment_ohm": segment,
                                            "device.on_conductance_us": g_on}), model, calibration=digits.x_train[:256])
        accuracy.append(float(np.mean(chip.predict(digits.x_test) == digits.y_test)))
    assert accuracy[0] >= accuracy[1] > accuracy[2] + 0.1, accuracy


def test_read_noise_is_fresh_on_every_read(digits):
    x = digits.x_test[:20]
    noisy = neurosim.Chip("rram_hfo2", "digits_mlp")
    assert not np.array_equal(noisy.forward(x, count=False), noisy.forward(x, count=False))
    quiet = neurosim.Chip(neurosim.load_profile("rram_hfo2").replace({"device.read_noise_sigma": 0.0}), "digits_mlp")
    np.testing.assert_array_equal(quiet.forward(x, count=False), quiet.forward(x, count=False))
    assert neurosim.load_profile("ideal").device.read_noise_sigma == 0


def test_bit_serial_inputs_compute_what_parallel_inputs_do(digits):
    """With exact column sums, 8-bit inputs through 1-bit DACs (8 reads, shift-added) equal 8-bit DACs in one read."""
    base = neurosim.load_profile("ideal").replace({"periphery.exact": False, "periphery.adc_type": "digital",
                                                   "periphery.input_bits": 8})
    model = neurosim.load_model("digits_mlp")
    parallel = neurosim.Chip(base.replace({"periphery.dac_bits": 8}), model)
    serial = neurosim.Chip(base.replace({"periphery.dac_bits": 1}), model)
    x = digits.x_test[:50]
    np.testing.assert_allclose(serial.forward(x), parallel.forward(x), rtol=1e-9, atol=1e-9)
    reads = [(c.ledger - c.programming_ledger).counts["adc_conversions"] for c in (parallel, serial)]
    assert reads[1] == 8 * reads[0]


# ---------------------------------------------------------------------------------------------------- pins
PIN_KEYS = [f"{s}.{k}" for s in ("device", "periphery", "core", "chip", "aux_memory")
            for k, f in section_fields(s).items() if f.metadata.get("pin")]


@PROPS
@given(name=st.sampled_from(PROFILES), key=st.sampled_from(PIN_KEYS), value=st.floats(0.001, 100.0),
       bits=st.integers(2, 12), scale=st.floats(0.1, 10.0))
def test_a_pinned_value_is_never_overridden_by_a_model(name, key, value, bits, scale):
    profile = neurosim.load_profile(name)
    pinned = profile.replace({key: value})
    moved = pinned.replace({"periphery.adc_bits": bits, "periphery.dac_bits": min(bits, 8),
                            "chip.clock_mhz": profile.chip.clock_hz / 1e6 * scale,
                            "device.read_voltage_v": min(10.0, profile.device.read_voltage_v * scale)})
    section, file_key = key.split(".")
    attribute = section_fields(section)[file_key].name
    cost = {"device.read_energy_pj": "read_energy_j", "periphery.dac_energy_pj": "dac_energy_j",
            "periphery.adc_energy_pj": "adc_energy_j", "periphery.adc_latency_ns": "adc_latency_s",
            "core.neuron_update_latency_ns": "neuron_update_latency_s",
            "chip.noc_energy_per_flit_hop_pj": "noc_energy_per_flit_hop_j",
            "aux_memory.read_energy_per_byte_pj": "aux_read_energy_per_byte_j",
            "aux_memory.write_energy_per_byte_pj": "aux_write_energy_per_byte_j", "core.tick_ns": "tick_s",
            "core.synaptic_event_energy_pj": "synaptic_event_energy_j",
            "core.neuron_tick_energy_pj": "neuron_tick_energy_j",
            "core.active_neuron_tick_energy_pj": "active_neuron_tick_energy_j",
            "core.spike_energy_pj": "spike_energy_j", "core.int_add_energy_pj": "int_add_energy_j"}[key]
    expected = getattr(getattr(pinned, section), attribute)
    assert getattr(moved.costs, cost) == expected == getattr(pinned.costs, cost)
    assert moved.costs.provenance[cost] == "pinned"
    assert math.isclose(expected, value * {"pj": 1e-12, "ns": 1e-9}[file_key.rsplit("_", 1)[1]], rel_tol=1e-12)
    # and unpinning (None) hands the figure back to the model
    assert pinned.replace({key: None}).costs.provenance[cost].startswith("derived")


#: chip-level measurements of digital neuromorphic chips, which no component model here derives: the event energies
#: and tick of spiking execution (TrueNorth's and Loihi's published figures, cited in their profiles)
MEASURED_SPIKING = {"tick_s", "synaptic_event_energy_j", "neuron_tick_energy_j", "active_neuron_tick_energy_j",
                    "spike_energy_j"}


@pytest.mark.parametrize("name", PROFILES)
def test_shipped_profiles_state_attributes_not_costs(name):
    """No shipped profile pins a cost, so every knob moves every figure; the one exception is the spiking figures
    of the digital neuromorphic profiles, which are published chip measurements."""
    costs = neurosim.load_profile(name).costs
    pinned = {k for k, how in costs.provenance.items() if how == "pinned"}
    if name in ("truenorth_like", "loihi_like"):
        assert pinned <= MEASURED_SPIKING
    else:
        assert not pinned


def test_profiles_show_marks_derived_and_pinned(capsys):
    from neurosim.cli import main

    assert main(["profiles", "show", "rram_hfo2"]) == 0
    out = capsys.readouterr().out
    assert "adc_energy_j" in out and "derived (sar 8-bit: 0.3047 fJ x 2^bits)" in out
    assert "read_energy_j" in out and "derived (V^2 G t:" in out


# -------------------------------------------------------------------------------------------------- migration
OLD_RRAM = """name = "rram_old"
description = "written for neurosim 0.2"
[device]
technology = "rram"
levels = 2
set_energy_pj = 0.6
reset_energy_pj = 0.6
energy_scaling = "per_event"
set_latency_ns = 10.0
reset_latency_ns = 10.0
read_energy_pj = 0.01
read_latency_ns = 10.0
on_off_ratio = 100.0
endurance_cycles = 1e6
endurance_sigma = 0.7
stuck_at_low_rate = 0.001
stuck_at_high_rate = 0.001
stuck_policy = "high"
write_noise_sigma = 0.05
drift_nu = 0.0
drift_t0_s = 1.0
"""


def test_a_profile_written_for_0_2_gets_the_migration_in_the_error(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(OLD_RRAM)
    with pytest.raises(ProfileError) as info:
        neurosim.load_profile(path)
    message = str(info.value)
    assert "new in neurosim 0.3" in message and 'base = "rram_hfo2"' in message
    assert info.value.key in KEYS_ADDED_IN_0_3


def test_a_0_2_profile_migrated_with_base_keeps_its_figures_as_pins(tmp_path):
    path = tmp_path / "old.toml"
    old = tomllib.loads(OLD_RRAM)["device"]
    path.write_text('base = "rram_hfo2"\nname = "rram_old"\n[device]\nread_energy_pj = 0.02\n'
                    f"endurance_cycles = {old['endurance_cycles']}\n")
    profile = neurosim.load_profile(path)
    assert profile.costs.read_energy_j == pytest.approx(0.02e-12)
    assert profile.costs.provenance["read_energy_j"] == "pinned"


# ------------------------------------------------------------------------------------------------ the CLI
@pytest.mark.parametrize("argv", [["map", "--model", "digits_mlp"], ["infer", "--model", "digits_mlp", "--n", "40",
                                                                     "--quiet"]])
def test_set_moves_the_figures_of_map_and_infer(argv, capsys):
    from neurosim.cli import main

    assert main(argv) == 0
    plain = capsys.readouterr().out
    assert main([*argv, "--set", "crossbar.rows=64", "--set", "periphery.adc_bits=5"]) == 0
    changed = capsys.readouterr().out
    assert plain != changed and "area" in changed


@pytest.mark.parametrize("setting, needles", [
    ("periphery.adc_bitz=4", ["'periphery.adc_bitz'", "did you mean 'periphery.adc_bits'"]),
    ("periphery.adc_bits=four", ["'periphery.adc_bits'", "an integer in [1, 32]", "'four'"]),
    ("periphery.adc_bits=99", ["'periphery.adc_bits'", "[1, 32]"]),
    ("periphery.exact=maybe", ["'periphery.exact'", "true or false"]),
    ("crossbar.rows", ["KEY=VALUE"]),
])
@pytest.mark.parametrize("command", [["map", "--model", "digits_mlp"], ["train", "--trainer", "sgd", "--model",
                                                                        "64-16-10"], ["compare"]])
def test_bad_settings_are_one_line_errors_before_any_work(command, setting, needles, capsys, tmp_path):
    from neurosim.cli import main

    extra = ["--out", str(tmp_path / "x")] if command[0] == "compare" else []
    assert main([*command, *extra, "--set", setting]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err
    assert not (tmp_path / "x").exists()


def test_infer_after_shows_drift_and_compensation(capsys):
    from neurosim.cli import main

    assert main(["infer", "--model", "digits_mlp", "--profile", "pcm", "--n", "200", "--after", "1d,1y",
                 "--drift-compensation", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 d" in out and "1 y" in out and "drift factor" in out
    assert main(["infer", "--model", "digits_mlp", "--after", "1y,1d", "--quiet"]) == 1
    assert "increase" in capsys.readouterr().err


def test_accuracy_over_time_api(digits):
    from neurosim.chip.aging import accuracy_over_time, parse_duration

    assert parse_duration("1h") == 3600 and parse_duration("2w") == 14 * 86400 and parse_duration("90") == 90
    x, y = digits.x_test[:200], digits.y_test[:200]
    profile = neurosim.load_profile("pcm").replace({"device.drift_nu": 0.1, "device.read_noise_sigma": 0.0})
    plain = accuracy_over_time(neurosim.Chip(profile, "digits_mlp", calibration=digits.x_train[:128]), x, y,
                               ["1y", "10y"])
    fixed = accuracy_over_time(neurosim.Chip(profile, "digits_mlp", calibration=digits.x_train[:128]), x, y,
                               ["1y", "10y"], compensate=True)
    assert [p.seconds for p in plain] == [0.0, parse_duration("1y"), parse_duration("10y")]
    assert plain[0].accuracy == fixed[0].accuracy
    assert plain[-1].accuracy < plain[0].accuracy  # drift costs accuracy
    assert fixed[-1].accuracy > plain[-1].accuracy  # compensation wins most of it back
    factors = list(fixed[-1].drift_factors.values())
    assert all(0 < f < 1 for f in factors)
    assert fixed[-1].report.samples == 200
