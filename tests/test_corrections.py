"""Digital low-rank corrections: the chip computes with ``scale x codes + left @ right``, counts their work, rejects
bad ones by name; trainers see them through ``TrainingView.weights``; the loops call ``Trainer.finish``."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.chip import Chip
from neurosim.data import Dataset, load_dataset
from neurosim.data.streams import Scenario, online_scenario
from neurosim.errors import WriteRequestError
from neurosim.nn.spec import model_from_spec
from neurosim.training import TrainingView, WriteRequest, train
from neurosim.training.backprop import backward
from neurosim.training.base import Trainer
from neurosim.training.online import adapt


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _model(data, bits=2, seed=0):
    return model_from_spec("64-16-10", data.input_shape, data.n_classes, seed=seed, weight_bits=bits)


def _reference(model, corrections, x):
    """Float forward of ``model`` with W = scale * codes + correction (exact for the ideal profile)."""
    h = x.reshape(len(x), -1).astype(np.float64)
    for i, layer in model.analog_layers():
        w = layer.weight_matrix() * layer.scale
        if i in corrections:
            w = w + corrections[i][0] @ corrections[i][1]
        h = h @ w + layer.bias
        if layer.activation == "relu":
            h = np.maximum(h, 0)
    return h


def _random_corrections(rng, model, k=3, size=0.05):
    out = {}
    for i, layer in model.analog_layers():
        out[i] = (size * rng.standard_normal((layer.fan_in, k)), rng.standard_normal((k, layer.fan_out)))
    return out


CLOSE = {"rtol": 1e-6, "atol": 1e-6}  # the ideal profile's 16-bit DACs quantise the inputs


def test_ideal_chip_computes_with_the_corrected_weights(digits):
    model = _model(digits)
    chip = Chip("ideal", model)
    x = digits.x_test[:50]
    np.testing.assert_allclose(chip.forward(x), _reference(model, {}, x), **CLOSE)
    corrections = _random_corrections(np.random.default_rng(0), model)
    chip.apply(WriteRequest(corrections=corrections))
    out = chip.forward(x)
    np.testing.assert_allclose(out, _reference(model, corrections, x), **CLOSE)
    assert not np.allclose(out, _reference(model, {}, x))
    # None clears a layer's correction; an empty (k = 0) one clears it too
    first, second = sorted(corrections)
    chip.apply(WriteRequest(corrections={first: None, second: (np.zeros((16, 0)), np.zeros((0, 10)))}))
    assert chip.corrections == {}
    np.testing.assert_allclose(chip.forward(x), _reference(model, {}, x), **CLOSE)


def test_corrections_are_counted_per_mvm_vector(digits):
    model = _model(digits)
    plain, corrected = Chip("ideal", model), Chip("ideal", model)
    k = 3
    corrected.apply(WriteRequest(corrections=_random_corrections(np.random.default_rng(1), model, k=k)))
    before_p, before_c = plain.ledger.copy(), corrected.ledger.copy()
    batch = 20
    plain.forward(digits.x_test[:batch])
    corrected.forward(digits.x_test[:batch])
    dp, dc = plain.ledger - before_p, corrected.ledger - before_c
    sizes = k * ((64 + 16) + (16 + 10))
    assert dc.counts["neuron_updates"] - dp.counts["neuron_updates"] == batch * sizes
    assert dc.counts["aux_bytes_read"] - dp.counts["aux_bytes_read"] == 4 * sizes
    assert dc.writes_total == dp.writes_total == 0  # registers, not NVM
    # error back-propagation through the layer above the first pays its correction once more
    mid = plain.ledger.copy(), corrected.ledger.copy()
    plain.count_backward(batch, above=1)
    corrected.count_backward(batch, above=1)
    extra = (corrected.ledger - mid[1]).counts["neuron_updates"] - (plain.ledger - mid[0]).counts["neuron_updates"]
    assert extra == batch * k * (16 + 10)


@pytest.mark.parametrize("bad, match", [
    ("not a pair", "pair"),
    ((np.zeros((64, 2)),), "pair"),
    ((np.zeros((63, 2)), np.zeros((2, 16))), "fan_in=64"),
    ((np.zeros((64, 2)), np.zeros((3, 16))), "fan_out=16"),
    ((np.zeros((64, 2)), np.zeros((2, 15))), "fan_out=16"),
    ((np.full((64, 2), np.nan), np.zeros((2, 16))), "finite"),
    ((np.zeros(64), np.zeros((1, 16))), "matrices"),
    ((np.array([["a"] * 2] * 64), np.zeros((2, 16))), "numeric"),
])
def test_bad_corrections_name_the_layer_and_change_nothing(digits, bad, match):
    chip = Chip("ideal", _model(digits))
    with pytest.raises(WriteRequestError, match=match) as info:
        chip.apply(WriteRequest(corrections={1: bad}))
    assert "layer 1" in str(info.value)
    assert chip.corrections == {}


def test_training_view_weights_and_backward_use_the_correction(digits):
    model = _model(digits)
    chip = Chip("ideal", model)
    corrections = _random_corrections(np.random.default_rng(2), model)
    chip.apply(WriteRequest(corrections=corrections))
    view = TrainingView(chip)
    for i, layer in model.analog_layers():
        np.testing.assert_allclose(view.weights(i), layer.weight_matrix() * layer.scale
                                   + corrections[i][0] @ corrections[i][1], rtol=1e-12)
    # the backward pass carries errors through the corrected weights: compare with a float backward pass
    from neurosim.nn.grad_ops import softmax_cross_entropy

    x, y = digits.x_train[:8], digits.y_train[:8]
    logits, caches = view.trace(x)
    _, dlogits = softmax_cross_entropy(logits, y)
    grads = backward(view, caches, dlogits, count=False)
    (i1, l1), (i2, l2) = model.analog_layers()
    w2 = l2.weight_matrix() * l2.scale + corrections[i2][0] @ corrections[i2][1]
    w1 = l1.weight_matrix() * l1.scale + corrections[i1][0] @ corrections[i1][1]
    h = np.maximum(x.reshape(len(x), -1) @ w1 + l1.bias, 0)
    dh = (dlogits @ w2.T) * (h > 0)
    np.testing.assert_allclose(grads[i1]["b"], dh.sum(axis=0), rtol=1e-4, atol=1e-6)
    plain = (dlogits @ (l2.weight_matrix() * l2.scale).T) * (h > 0)
    assert not np.allclose(grads[i1]["b"], plain.sum(axis=0), rtol=1e-3, atol=1e-4)


class _Finisher(Trainer):
    """Writes nothing while training; its finish() sets layer 1's first weight to a fixed code."""

    name = "_finisher"

    def __init__(self):
        self.finished = 0

    def init(self, view, x, y, seed):
        return None

    def step(self, batch, state, view):
        return WriteRequest(), state

    def aux_memory(self, view, batch_size):
        return {}

    def finish(self, state, view):
        self.finished += 1
        code = view.codes(1).reshape(-1)[0]
        return WriteRequest(updates={1: (np.array([0]), np.array([1 if code != 1 else -1]))})


def test_train_and_adapt_apply_finish_once_at_the_end(digits):
    small = Dataset(name="digits[:40]", x_train=digits.x_train[:40], y_train=digits.y_train[:40],
                    x_test=digits.x_test[:40], y_test=digits.y_test[:40], input_shape=digits.input_shape,
                    n_classes=10)
    chip = Chip("ideal", _model(digits))
    trainer = _Finisher()
    record = train(chip, trainer, small, epochs=2, batch_size=16, seed=0)
    assert trainer.finished == 1
    assert record.final.writes_total > 0 and record.epochs[1].writes_total == 0  # written after the last step only
    online = online_scenario(digits, Scenario(shift="noise", pretrain=(0, 100), stream=(100, 150),
                                              test=(150, 200)))
    chip = Chip("ideal", _model(digits))
    trainer = _Finisher()
    record = adapt(chip, trainer, online, batch_size=16, calibration_samples=0)
    assert trainer.finished == 1 and record.final.writes_total > 0
    assert record.final.writes_max_cell >= 1
