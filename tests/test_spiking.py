"""The spiking executor: brian2 and its numpy twin give the same spikes; accuracy approaches the analog execution as
timesteps grow; events are counted from the spikes and priced like every other category."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import MNIST_SAMPLE

import neurosim
from neurosim.chip import _spiking as sp
from neurosim.data import load_dataset
from neurosim.errors import ExecutorError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset(MNIST_SAMPLE)


def _chip(model, data, profile="rram_hfo2", **options):
    return neurosim.Chip(profile, model, calibration=data.x_train[:200], executor="spiking",
                         executor_options=options)


@pytest.mark.parametrize("model, encoding", [("digits_mlp", "deterministic"), ("digits_mlp", "poisson"),
                                             ("mnist_cnn", "deterministic")])
def test_brian2_and_its_twin_give_identical_spikes_and_events(model, encoding, digits, mnist):
    data = digits if model.startswith("digits") else mnist
    chip = _chip(model, data, timesteps=20, encoding=encoding, batch=16)
    x = data.x_test[:24]  # two batches: the brian2 network is reused, its state reset
    rng_state = chip.executor._rng.bit_generator.state
    counts_t, v_t, events_t = chip.executor.simulate(chip.held, x, engine="twin")
    chip.executor._rng.bit_generator.state = rng_state  # the same Poisson raster for both engines
    counts_b, v_b, events_b = chip.executor.simulate(chip.held, x, engine="brian2")
    np.testing.assert_array_equal(counts_t, counts_b)
    np.testing.assert_array_equal(v_t, v_b)
    assert vars(events_t) == vars(events_b)
    assert counts_t.sum() > 0 and events_t.synaptic_events > 0


def test_accuracy_approaches_the_analog_execution_as_timesteps_grow(digits):
    x, y = digits.x_test, digits.y_test
    analog = neurosim.Chip("rram_hfo2", "digits_mlp", calibration=digits.x_train[:200])
    reference = float(np.mean(analog.predict(x) == y))
    accuracy = {t: float(np.mean(_chip("digits_mlp", digits, timesteps=t).predict(x) == y)) for t in (2, 8, 64)}
    assert accuracy[2] < accuracy[8] <= accuracy[64] + 0.01
    assert abs(accuracy[64] - reference) <= 0.015
    # and the spiking classes agree with the analog ones ever more often
    agree = {t: float(np.mean(_chip("digits_mlp", digits, timesteps=t).predict(x) == analog.predict(x)))
             for t in (4, 64)}
    assert agree[64] > agree[4] and agree[64] >= 0.97


def test_synapses_hold_the_weights_the_cells_hold(digits):
    """Stuck cells change the spiking network as they change the analog one; a write rebuilds it."""
    chip = _chip("digits_mlp", digits, timesteps=16)
    first = chip.executor.network(chip.held)
    layer = chip.mapping.tilings[0].layer
    held = chip.held.effective_weights(layer)
    exact = chip.model.layers[layer].weight_matrix() * chip.model.layers[layer].scale
    assert np.mean(np.abs(held - exact)) < 0.02 * chip.model.layers[layer].scale  # programming noise, stuck cells
    assert 0 < np.mean(~np.isclose(held, exact, atol=1e-9))
    codes = chip.held.codes(layer).copy()
    codes[:5] = 0
    chip.program_codes({layer: codes})
    rebuilt = chip.executor.network(chip.held)
    assert rebuilt is not first
    before, after = first.groups[1].weights, rebuilt.groups[1].weights
    assert not np.array_equal(before[:5], after[:5])
    # cells not written keep what they hold (a few pairs with a stuck cell are re-encoded around it)
    assert np.mean(before[5:] != after[5:]) < 0.005


def test_dynamics_follow_the_documented_schedule_on_a_tiny_network():
    """One input neuron (current 0.5 threshold), one dense neuron (weight 1 threshold, no bias): the input spikes
    every second tick, each spike reaches the next neuron in the same tick and it fires one tick later."""
    theta = 16.0
    dense = sp.SpikingGroup(kind="dense", layer=0, shape=(1,), source=0, weights=np.array([[theta]]),
                            bias=np.zeros(1), nonzero=np.ones((1, 1)), nnz_row=np.ones(1), hops=np.array([2.0]))
    dense.out_hops = np.array([1.0])
    net = sp.SpikingNetwork(groups=[sp.SpikingGroup(kind="input", layer=-1, shape=(1,), counted=False), dense],
                            threshold=theta, scales=[1.0, 1.0])
    counts, v, events = sp.run_twin(net, np.array([[theta / 2]]), None, 8)
    # input spikes at ticks 1, 3, 5, 7; the dense neuron at 2, 4, 6 (its fourth spike would come at tick 8)
    assert counts.tolist() == [[3.0]] and v.tolist() == [[theta]]
    assert events.spikes == 4 + 3
    assert events.synaptic_events == 4
    assert events.active_neuron_ticks == 4 and events.neuron_ticks == 4
    assert events.flit_hops == 4 * 2 + 3 * 1  # input spikes travel 2 hops, output spikes 1 to the port


def test_pooling_gates_the_most_active_input():
    counts = np.zeros((1, 2, 2, 1))
    assert sp.pool_gate(counts, 2).tolist() == [[[[0]]]]  # ties: the first of the window
    counts[0, 1, 0, 0] = 3
    counts[0, 1, 1, 0] = 3
    assert sp.pool_gate(counts, 2).tolist() == [[[[2]]]]
    spikes = np.zeros((1, 2, 2, 1))
    spikes[0, 1, 0, 0] = 1
    assert sp.gated(spikes, sp.pool_gate(counts, 2), 2).tolist() == [[[[1.0]]]]


def test_events_are_priced_like_every_other_category(digits):
    chip = _chip("digits_mlp", digits, timesteps=32)
    chip.forward(digits.x_test[:50])
    report = chip.report()
    energy = report.energy_per_inference_j
    assert energy["synapse"] > 0 and energy["spike"] > 0 and energy["neuron"] > 0 and energy["adc"] == 0
    events = chip.ledger - chip.programming_ledger
    c = chip.profile.costs
    assert energy["synapse"] * 50 == pytest.approx(events.counts["synaptic_events"] * c.synaptic_event_energy_j)
    assert energy["spike"] * 50 == pytest.approx(events.counts["spikes"] * c.spike_energy_j)
    assert report.latency_s == pytest.approx(32 * c.tick_s)
    assert report.executor == "spiking" and report.executor_options["timesteps"] == 32
    # re-pricing is exact: a dearer synaptic event scales that category alone
    dearer = chip.profile.replace({"core.synaptic_event_energy_pj": 10 * c.synaptic_event_energy_j * 1e12})
    again = report.reprice(dearer)
    assert again.energy_per_inference_j["synapse"] == pytest.approx(10 * energy["synapse"], rel=1e-12)
    assert again.energy_per_inference_j["spike"] == energy["spike"]
    restored = neurosim.record.InferenceReport.from_dict(report.to_dict())
    assert restored.executor_options == report.executor_options
    assert restored.total_energy_per_inference_j == report.total_energy_per_inference_j


@pytest.mark.parametrize("profile", ["truenorth_like", "loihi_like"])
def test_spiking_chips_price_with_their_published_figures(profile, digits):
    chip = _chip("digits_mlp", digits, profile=profile, timesteps=16)
    chip.forward(digits.x_test[:40])
    events = chip.ledger - chip.programming_ledger
    costs = chip.profile.costs
    assert costs.provenance["synaptic_event_energy_j"] == "pinned"
    expected = {"truenorth_like": 26e-12, "loihi_like": 23.6e-12}[profile]
    assert costs.synaptic_event_energy_j == pytest.approx(expected)
    report = chip.report()
    assert report.energy_per_inference_j["synapse"] * 40 == pytest.approx(events.counts["synaptic_events"]
                                                                          * expected)
    if profile == "loihi_like":  # active and inactive neuron updates are priced apart (52 and 1.7 pJ)
        neuron = report.energy_per_inference_j["neuron"] * 40
        assert neuron == pytest.approx(events.counts["active_neuron_ticks"] * 52e-12
                                       + events.counts["neuron_ticks"] * 1.7e-12)
    else:
        assert report.latency_s == pytest.approx(16e-3)  # TrueNorth ticks at 1 kHz


def test_the_timesteps_curve_and_its_plot(digits, tmp_path, capsys):
    from neurosim.chip.timesteps import accuracy_over_timesteps
    from neurosim.cli import main

    points = accuracy_over_timesteps("rram_hfo2", "digits_mlp", digits.x_test[:100], digits.y_test[:100], [4, 16],
                                     calibration=digits.x_train[:200])
    assert [p.timesteps for p in points] == [4, 16]
    energies = [p.report.total_energy_per_inference_j for p in points]
    assert energies[1] > energies[0] and all(0 <= p.accuracy <= 1 for p in points)
    with pytest.raises(ExecutorError, match="increasing"):
        accuracy_over_timesteps("rram_hfo2", "digits_mlp", digits.x_test[:5], digits.y_test[:5], [8, 4])
    plot = tmp_path / "t.png"
    assert main(["infer", "--model", "digits_mlp", "--executor", "spiking", "--timesteps", "16", "--n", "60",
                 "--plot", str(plot), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "spiking executor, timesteps 16" in out and "agreement with the analog executor" in out
    assert "16 timesteps: accuracy" in out and plot.stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["--executor", "spiking", "--activation-levels", "8"], "executor 'spiking' has no option 'activation_levels'"),
    (["--timesteps", "8"], "executor 'analog' has no option 'timesteps'"),
    (["--executor", "analog", "--plot", "x.png"], "--plot draws accuracy and energy against timesteps"),
])
def test_misplaced_executor_options_are_one_line_errors(argv, message, capsys, tmp_path, monkeypatch):
    from neurosim.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["infer", "--model", "digits_mlp", "--n", "10", "--quiet", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_option_values_are_checked():
    with pytest.raises(ExecutorError, match="option 'timesteps'"):
        neurosim.Chip("ideal", "digits_mlp", executor="spiking", executor_options={"timesteps": 0})
    with pytest.raises(ExecutorError, match="did you mean 'timesteps'"):
        neurosim.Chip("ideal", "digits_mlp", executor="spiking", executor_options={"timestep": 8})
    assert not math.isnan(sp.readout(np.array([[1.0]]), np.array([[-1e9]]), 1.0)[0, 0])
