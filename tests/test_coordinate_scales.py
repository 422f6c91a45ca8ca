"""coordinate's learned per-layer scales: a step on log(scale) down the loss, clipped to 10 %, written to digital
registers only (no cell)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim
from neurosim.data import load_dataset
from neurosim.nn.grad_ops import softmax_cross_entropy
from neurosim.nn.spec import model_from_spec
from neurosim.training import make_trainer, train
from neurosim.training.base import Batch, TrainingView


def _loss(scale: float, mvm: np.ndarray, bias: np.ndarray, y: np.ndarray) -> float:
    return softmax_cross_entropy(scale * mvm + bias, y)[0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.05, 3.0))
def test_scale_step_is_the_log_scale_gradient_and_lowers_the_loss(seed, scale):
    rng = np.random.default_rng(seed)
    mvm = rng.normal(0, 2, (32, 5))
    bias = rng.normal(0, 0.5, 5)
    y = rng.integers(0, 5, 32)
    pre = scale * mvm + bias
    _, delta = softmax_cross_entropy(pre, y)
    trainer = make_trainer("coordinate", scale_lr=1e-3)
    new = trainer._scale_step(scale, bias, delta, pre)
    # the step taken is -lr x d loss / d log(scale), checked against a central finite difference
    h = 1e-6
    numeric = (_loss(scale * np.exp(h), mvm, bias, y) - _loss(scale * np.exp(-h), mvm, bias, y)) / (2 * h)
    assert np.log(new / scale) == pytest.approx(-1e-3 * numeric, rel=1e-4, abs=1e-12)
    assert _loss(new, mvm, bias, y) <= _loss(scale, mvm, bias, y) + 1e-12


def test_scale_step_is_clipped_to_ten_percent():
    rng = np.random.default_rng(0)
    mvm = rng.normal(0, 2, (64, 3))
    y = rng.integers(0, 3, 64)
    pre = 0.5 * mvm
    _, delta = softmax_cross_entropy(pre, y)
    new = make_trainer("coordinate", scale_lr=1e6)._scale_step(0.5, np.zeros(3), delta, pre)
    assert new == pytest.approx(0.5 * np.exp(0.1)) or new == pytest.approx(0.5 * np.exp(-0.1))


def _one_step(scale_lr: float):
    data = load_dataset("digits")
    chip = neurosim.Chip("rram_hfo2", neurosim.load_model("digits_mlp"), seed=0)
    # tol 1e9 and bias_lr 0: no weight change is ever accepted and the biases stay, so only scales can move
    trainer = make_trainer("coordinate", scale_lr=scale_lr, tol=1e9, bias_lr=0.0)
    view = TrainingView(chip)
    state = trainer.init(view, data.x_train, data.y_train, 0)
    request, _ = trainer.step(Batch(x=data.x_train[:64], y=data.y_train[:64], step=0, epoch=1), state, view)
    return chip, request, state


def test_scales_move_registers_and_write_no_cell():
    chip, request, state = _one_step(0.01)
    assert set(request.scales) == set(state.layers)
    assert not request.updates and not request.codes
    before = {i: chip.held.scale(i) for i in state.layers}
    writes = chip.ledger.writes_total
    chip.apply(request)
    assert chip.ledger.writes_total == writes
    assert all(chip.held.scale(i) == request.scales[i] != before[i] for i in state.layers)


def test_scale_lr_zero_leaves_the_scales_alone():
    _, request, _ = _one_step(0.0)
    assert not request.scales


def test_learned_scales_train_and_fine_tuning_keeps_host_scales():
    data = load_dataset("iris", seed=0)
    chip = neurosim.Chip("ideal", model_from_spec("4-16-3", data.input_shape, data.n_classes, seed=0), seed=0)
    start = {i: chip.held.scale(i) for i in chip.analog_layers()}
    trainer = make_trainer("coordinate")
    train(chip, trainer, data, epochs=3, batch_size=trainer.batch_size_for(len(data.x_train)), seed=0,
          eval_train_samples=1)
    assert any(chip.held.scale(i) != start[i] for i in start)  # the default learns them
    assert trainer.scale_lr > 0 and trainer.for_adaptation().scale_lr == 0.0
