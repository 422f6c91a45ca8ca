"""The executor registry: a new executor is one class in one file, and every registered executor keeps the contract.

The tiny executor below (a digital float forward pass over the codes the chip holds, priced as one neuron update per
multiply-accumulate) is registered here, in the test module, and then runs through ``Chip``, reports and the CLI
like the built-in ones.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import neurosim
from neurosim.chip import EXECUTORS, Execution, Executor, LayerTrace, register_executor
from neurosim.chip.held import HeldState
from neurosim.data import load_dataset
from neurosim.errors import ExecutorError
from neurosim.nn.layers import activate


class DigitalFloatExecutor(Executor):
    """Every analog layer as a digital float MVM over ``scale x codes`` (one stage per layer)."""

    name = "digital_float_test"
    summary = "test executor: digital float MVMs over the held codes"

    def stages(self) -> dict[str, dict[str, int]]:
        return {str(lt.layer): {"neuron": lt.fan_out} for lt in self.mapping.tilings}

    def run(self, held: HeldState, x: np.ndarray, *, trace: bool = False) -> Execution:
        events = self.new_events()
        traces: list[LayerTrace] | None = [] if trace else None
        macs = 0
        for index, layer in enumerate(held.model.layers):
            if not layer.analog:
                x = layer.forward(x)
                continue
            rows = layer.rows(x)
            w = held.codes(index).reshape(layer.fan_in, layer.fan_out) * held.scale(index)
            pre = rows @ w + held.bias(index)
            macs += rows.shape[0] * layer.fan_in * layer.fan_out
            if traces is not None:
                traces.append(LayerTrace(layer=index, input_shape=x.shape, mvm_inputs=rows, pre_activation=pre))
            x = activate(pre, layer.activation).reshape(x.shape[0], *layer.output_shape(tuple(x.shape[1:])))
        if x.shape[0]:
            events.add(neuron_updates=macs)
            events.add_pipeline(tuple(self.stages()), samples=x.shape[0])
        return Execution(logits=x, traces=traces, events=events)


@pytest.fixture
def registered():
    register_executor(DigitalFloatExecutor)
    yield DigitalFloatExecutor.name
    EXECUTORS.pop(DigitalFloatExecutor.name, None)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_an_executor_defined_in_one_file_runs_on_the_chip(registered, digits):
    model = neurosim.load_model("digits_mlp")
    chip = neurosim.Chip("rram_hfo2", model, executor=registered)
    assert chip.executor.name == registered and registered in EXECUTORS
    x = digits.x_test[:100]
    # it computes with what the chip holds: the stored codes (stuck cells included), not the model's
    held = model.with_codes({i: chip.stored_codes(i) for i in chip.analog_layers()})
    np.testing.assert_allclose(chip.forward(x), held.forward(x), rtol=1e-12, atol=1e-12)
    report = chip.report()
    assert report.executor == registered and report.samples == 100
    macs = sum(layer.fan_in * layer.fan_out for _, layer in model.analog_layers())
    assert report.counts().counts["neuron_updates"] == 100 * macs
    assert report.energy_per_inference_j["neuron"] == pytest.approx(macs * chip.profile.core.neuron_update_energy_j)
    assert report.energy_per_inference_j["read"] == 0.0  # no crossbar was read
    assert report.latency_s == pytest.approx(sum(lt.fan_out for lt in chip.mapping.tilings)
                                             * chip.profile.costs.neuron_update_latency_s)
    # it cannot count a backward pass, and says so by name
    with pytest.raises(ExecutorError, match=registered):
        chip.count_backward(10, above=0)


def test_the_cli_lists_and_runs_a_registered_executor(registered, capsys):
    from neurosim.cli import main

    assert main(["executors"]) == 0
    listed = capsys.readouterr().out
    assert registered in listed and "analog (default)" in listed
    assert main(["infer", "--model", "digits_mlp", "--executor", registered, "--n", "50", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"({registered} executor)" in out and "accuracy" in out and "agreement with the analog executor" in out


def test_unknown_executor_is_named_with_the_registered_ones():
    with pytest.raises(ExecutorError, match="no_such_executor") as info:
        neurosim.Chip("ideal", "digits_mlp", executor="no_such_executor")
    assert "analog" in str(info.value)
    with pytest.raises(TypeError):
        register_executor(int)


# ----------------------------------------------------------------------------------- every registered executor
def _executors():
    return sorted(EXECUTORS)


@pytest.mark.parametrize("name", _executors())
def test_executor_contract(name, digits):
    model = neurosim.load_model("digits_mlp")
    chip = neurosim.Chip("ideal", model, executor=name, calibration=digits.x_train[:64])
    programmed = chip.ledger.copy()
    assert chip.ledger == programmed  # calibration is the test bench's work: not counted
    x = digits.x_test[:30]
    quiet = chip.forward(x, count=False)
    assert chip.ledger == programmed and chip.inferences == 0
    logits = chip.forward(x)
    assert logits.shape == (30, model.n_classes) and np.all(np.isfinite(logits))
    np.testing.assert_array_equal(logits, quiet)  # deterministic, counting changes nothing
    events = chip.ledger - programmed
    assert events.writes_total == 0 and events.counts["write_verify_reads"] == 0  # executors never write
    assert chip.inferences == 30 and events.pipelines  # batches counted through declared stages
    assert set(events.stages) == set(chip.executor.stages())
    report = chip.report()
    assert report.samples == 30 and report.total_energy_per_inference_j > 0 and report.latency_s > 0
    # a traced pass gives one named trace per layer
    _, traces = chip.trace(x[:5], count=False)
    assert [t.layer for t in traces] == list(range(len(model.layers)))
    assert all(isinstance(t, LayerTrace) and t.input_shape[0] == 5 for t in traces)
    # on the ideal profile the analog executor reproduces the reference model exactly
    if name == "analog":
        ideal = neurosim.Chip("ideal", model, executor=name)
        np.testing.assert_array_equal(ideal.predict(digits.x_test), model.predict(digits.x_test))


def test_the_analog_executor_is_registered_and_the_default():
    assert "analog" in EXECUTORS
    assert neurosim.Chip("ideal", "digits_mlp").executor.name == "analog"
    printed = io.StringIO()
    from neurosim.cli import main

    with contextlib.redirect_stdout(printed):
        assert main(["executors"]) == 0
    assert printed.getvalue().startswith("analog (default)")
