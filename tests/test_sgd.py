"""The latent-weight sgd baseline's quantisation: TWN re-derived for ternary layers, the chip's scale kept for
k-bit layers (re-deriving a max-abs scale would rewrite cells the update never meant to change)."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.chip import Chip
from neurosim.data import load_dataset
from neurosim.nn.spec import model_from_spec
from neurosim.training import Batch, TrainingView, make_trainer


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _run(digits, bits, steps=5, lr=3e-3):
    profile = neurosim.load_profile("ideal").replace({"crossbar.cells_per_weight": 14})  # no stuck cells
    chip = Chip(profile, model_from_spec("64-16-10", digits.input_shape, 10, seed=0, weight_bits=bits), seed=0)
    view = TrainingView(chip)
    trainer = make_trainer("sgd", lr=lr)
    state = trainer.init(view, digits.x_train, digits.y_train, seed=0)
    scales = dict(chip.scales)
    requests = []
    for k in range(steps):
        request, state = trainer.step(Batch(x=digits.x_train[8 * k: 8 * k + 8], y=digits.y_train[8 * k: 8 * k + 8],
                                            step=k, epoch=1), state, view)
        requests.append(request)
        chip.apply(request)
    return chip, view, state, scales, requests


def test_k_bit_layers_keep_the_chip_scale_and_clip_latent_weights(digits):
    chip, view, state, scales, requests = _run(digits, bits=8, lr=0.05)
    assert all(not r.scales for r in requests)
    assert chip.scales == scales
    for i, latent in state.latent.items():
        top = 127 * scales[i]
        assert np.abs(latent).max() <= top * (1 + 1e-6)
        np.testing.assert_array_equal(view.codes(i), np.clip(np.rint(latent / scales[i]), -127, 127))


def test_ternary_layers_rederive_twn(digits):
    chip, view, state, scales, requests = _run(digits, bits=2)
    assert all(set(r.scales) == set(state.latent) for r in requests)
    from neurosim.nn import ternarize_twn

    for i, latent in state.latent.items():
        codes, scale = ternarize_twn(latent)
        assert chip.scales[i] == pytest.approx(scale)
        np.testing.assert_array_equal(view.codes(i), codes)


def test_a_tiny_k_bit_step_writes_only_weights_that_cross_a_level(digits):
    """Adam moves every weight by about lr; with lr far below half a level nothing crosses and nothing is
    written (a re-derived max-abs scale would have moved codes anyway)."""
    chip, view, state, scales, requests = _run(digits, bits=8, steps=3, lr=1e-7)
    assert chip.ledger.writes_total == chip.programming_ledger.writes_total
