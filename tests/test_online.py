"""Online-adaptation scenarios, memory drift, and the one-pass adaptation loop."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.data import load_dataset
from neurosim.data.streams import SHIFTS, Scenario, apply_shift, online_scenario
from neurosim.training import make_trainer
from neurosim.training.online import adapt


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.mark.parametrize("shift", SHIFTS)
def test_shifts_keep_shape_range_and_are_seeded(digits, shift):
    x, y = digits.x_test[:50], digits.y_test[:50]
    a = apply_shift(x, y, shift, np.random.default_rng(3), n_classes=10)
    b = apply_shift(x, y, shift, np.random.default_rng(3), n_classes=10)
    assert a[0].shape == x.shape and a[1].shape == y.shape
    assert a[0].min() >= 0 and a[0].max() <= 1
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    if shift == "none":
        np.testing.assert_array_equal(a[0], x)
    elif shift == "recluster":
        np.testing.assert_array_equal(a[0], x)
        assert np.all(a[1] == (y - 1) % 10)  # a fixed relabelling, every class moves
    else:
        assert not np.array_equal(a[0], x)


def test_image_shifts_reject_tabular_data():
    iris = load_dataset("iris")
    with pytest.raises(neurosim.DataError, match="needs image data"):
        apply_shift(iris.x_test, iris.y_test, "rotate", np.random.default_rng(0))


def test_scenario_splits_in_order(digits):
    online = online_scenario(digits, Scenario(shift="noise", seed=1))
    n = len(digits.x_train) + len(digits.x_test)
    assert len(online.pretrain.x_train) == int(0.4 * n)
    assert len(online.x_stream) == int(0.8 * n) - int(0.4 * n)
    assert len(online.x_test) == n - int(0.8 * n)
    all_y = np.concatenate([digits.y_train, digits.y_test])
    np.testing.assert_array_equal(online.pretrain.y_train, all_y[: int(0.4 * n)])


@pytest.mark.parametrize("bad", [dict(shift="sideways"), dict(analog_drift=-1.0), dict(digital_drift=2.0),
                                 dict(strength=float("nan"))])
def test_bad_scenarios_are_data_errors(bad):
    with pytest.raises(neurosim.DataError):
        Scenario(**bad)


def test_bad_ranges_are_data_errors(digits):
    with pytest.raises(neurosim.DataError, match="stream range"):
        online_scenario(digits, Scenario(stream=(100, 50)))


def test_analog_drift_moves_reads_not_levels_or_counts():
    memory = neurosim.NVMArray(1000, "ideal", seed=0)
    memory.program(np.arange(500), np.ones(500, dtype=np.uint8))
    levels, counts, writes = memory.stored_levels.copy(), memory.write_counts.copy(), memory.ledger.writes_total
    before = memory.read()
    memory.analog_drift(0.1)
    after = memory.read()
    assert 0.05 < np.std(after - before) < 0.15
    np.testing.assert_array_equal(memory.stored_levels, levels)
    np.testing.assert_array_equal(memory.write_counts, counts)
    assert memory.ledger.writes_total == writes


def test_digital_drift_flips_healthy_cells_only_without_counting_writes():
    profile = neurosim.load_profile("rram_hfo2").replace({"device.stuck_at_low_rate": 0.05})
    memory = neurosim.NVMArray(20000, profile, seed=0)
    stuck = memory.stuck.copy()
    levels = memory.stored_levels.copy()
    flipped = memory.digital_drift(0.1)
    changed = memory.stored_levels != levels
    assert changed.sum() == flipped == memory.disturbed_cells
    assert 0.07 < flipped / (~stuck).sum() < 0.13
    assert not changed[stuck].any()
    assert memory.ledger.writes_total == 0 and memory.write_counts.sum() == 0


def test_chip_sees_drift(digits):
    chip = neurosim.Chip("ideal", "digits_mlp")
    before = chip.forward(digits.x_test[:20], count=False)
    chip.memory.analog_drift(0.3)
    after = chip.forward(digits.x_test[:20], count=False)
    assert not np.allclose(before, after)


def test_adapt_records_before_after_and_checkpoints(digits):
    online = online_scenario(digits, Scenario(shift="recluster", analog_drift=0.001, digital_drift=1e-5, seed=0))
    model = neurosim.load_model("digits_mlp")
    chip = neurosim.Chip("rram_hfo2", model, seed=0)
    record = adapt(chip, make_trainer("sgd", lr=0.01), online, batch_size=16, evaluations=5, seed=0)
    before, after = record.epochs[0], record.epochs[-1]
    assert before.writes_total == 0
    assert after.writes_total == record.memory["writes_total"] > 0
    # relabelled classes: the pre-trained model is nearly always wrong, adaptation recovers a lot
    assert before.test_accuracy < 0.2 and after.test_accuracy > 0.5
    assert record.checkpoints[0].samples == 0 and record.checkpoints[-1].samples == len(online.x_stream)
    assert record.run_info["scenario"]["shift"] == "recluster"
    assert record.run_info["cells_disturbed"] > 0
    again = adapt(neurosim.Chip("rram_hfo2", model, seed=0), make_trainer("sgd", lr=0.01), online, batch_size=16,
                  evaluations=5, seed=0)
    assert again.final.test_accuracy == after.test_accuracy and again.final.writes_total == after.writes_total
