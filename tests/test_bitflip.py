"""The gradient-free bit-flip trainer: integer-only training path, flip budget, binary and ternary codes,
determinism, learning, hyper-parameter and model validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neurosim
from neurosim.chip import Chip
from neurosim.data import load_dataset
from neurosim.nn import Dense, Flatten
from neurosim.nn.model import Model
from neurosim.nn.spec import model_from_spec
from neurosim.training import TRAINERS, TrainingError, TrainingView, bitflip, make_trainer, train
from neurosim.training.base import Batch
from neurosim.training.bitflip import (
    BitFlipTrainer,
    _desired_outputs,
    _erroneous_counts,
    _integer_step,
    _propagate,
    _select,
)

INTEGER_KINDS = "iub"  # signed, unsigned, bool


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _chip(data, profile="ideal", spec="64-32-10", seed=0) -> Chip:
    model = model_from_spec(spec, data.input_shape, data.n_classes, seed=seed)
    prof = neurosim.load_profile(profile)
    if profile == "rram_hfo2":
        prof = prof.replace({"device.endurance_cycles": 1e12})  # no cell wears out during a test
    return Chip(prof, model, seed=seed)


class Spy:
    """Wraps a trainer's step: records each request with the codes the chip held when it was made."""

    def __init__(self, trainer, chip):
        self.trainer, self.chip, self.calls = trainer, chip, []
        self._step = trainer.step
        trainer.step = self

    def __call__(self, batch, state, view):
        held = {i: view.codes(i) for i in view.analog_layers()}
        request, state = self._step(batch, state, view)
        self.calls.append((batch.epoch, held, request))
        return request, state


# ------------------------------------------------------------------------------------------ integer-only path
def test_registered():
    assert TRAINERS["bitflip"] is BitFlipTrainer
    assert isinstance(make_trainer("bitflip"), BitFlipTrainer)


@pytest.mark.parametrize("params", [{}, {"binary": True}, {"violators": "all", "act_levels": 3},
                                    {"flips": 0.5, "output_flips": 1.5}])
def test_training_path_has_integer_dtypes_only(digits, params):
    """Everything after the chip's analog forward is an integer or bool array: the boundary outputs, every
    intermediate of the integer step (recorded) and the request."""
    chip = _chip(digits, spec="64-32-16-10")
    view = TrainingView(chip)
    trainer = make_trainer("bitflip", **params)
    state = trainer.init(view, digits.x_train, digits.y_train, 0)
    x, y = digits.x_train[:64], digits.y_train[:64]
    _, caches = view.trace(x)
    xs, acts = trainer._integerise(view, state, caches, calibrate=True)
    assert len(xs) == len(acts) == 3
    assert all(isinstance(t, int) and t >= 1 for t in state.thresholds)
    record: list = []
    codes = [view.codes(i) for i in state.layers]
    updates, stats = _integer_step(xs, acts, y.astype(np.int64), codes, [1, 1, 1], np.random.default_rng(0),
                                   margin=trainer.margin, violators=trainer.violators, binary=trainer.binary,
                                   budgets=trainer._budgets(state, 1), pool=trainer.pool,
                                   min_votes=trainer.min_votes, binarise=trainer.binary, record=record)
    names = {name for name, _ in record}
    for required in ("desired_outputs", "votes[2]", "score[1]", "new[0]", "desired_hidden[0]", "desired_hidden[1]",
                     "active[1]", "chosen[0]"):
        assert required in names
    arrays = [("xs", a) for a in xs] + [("acts", a) for a in acts] + record
    arrays += [(f"update[{k}]", a) for k, pair in updates.items() for a in pair]
    assert updates, "the step should move some weights"
    for name, arr in arrays:
        assert isinstance(arr, np.ndarray), name
        assert arr.dtype.kind in INTEGER_KINDS, (name, arr.dtype)
    assert isinstance(stats.neuron_updates, int) and stats.neuron_updates > 0


def test_full_step_passes_only_integers_to_the_integer_path(digits, monkeypatch):
    """Instrument the trainer's step: whatever reaches the integer path is integer, and so is what leaves it."""
    seen: list = []
    original = bitflip._integer_step

    def spy(xs, acts, y, codes, tops, rng, **kw):
        seen.extend([*xs, *acts, y, *codes])
        kw["record"] = seen
        return original(xs, acts, y, codes, tops, rng, **kw)

    monkeypatch.setattr(bitflip, "_integer_step", spy)
    chip = _chip(digits)
    record = train(chip, make_trainer("bitflip"), digits, epochs=1, batch_size=64, seed=0)
    assert record.final.writes_total > 0
    assert seen
    for item in seen:
        arr = item[1] if isinstance(item, tuple) else item
        assert arr.dtype.kind in INTEGER_KINDS, arr.dtype


def test_erroneous_counts_by_hand():
    x = np.array([[1, 0], [2, 3]], dtype=np.int8)  # 2 samples, 2 inputs
    d = np.array([[1, 0], [-1, 0]], dtype=np.int8)  # output 0: sample 0 wants it up, sample 1 down
    w = np.array([[1, -1], [1, 0]], dtype=np.int8)
    score, new, votes, rows = _erroneous_counts(x, d, w, top=1, binary=False)
    # votes = x.T @ d: input 0 -> 1*1 + 2*(-1) = -1, input 1 -> 3*(-1) = -3; output 1 has no desire
    np.testing.assert_array_equal(votes, [[-1, 0], [-3, 0]])
    assert rows == 2
    # both weights of output 0 are +1 and should go down one level; output 1 has no move
    np.testing.assert_array_equal(new, [[0, -1], [0, 0]])
    np.testing.assert_array_equal(score, [[1, 0], [3, 0]])
    assert votes.dtype == np.int32 and score.dtype == np.int32 and new.dtype == np.int8
    # binary: only weights opposing the vote flip (NOT); a zero weight has no binary move
    score_b, new_b, _, _ = _erroneous_counts(x, d, w, top=1, binary=True)
    np.testing.assert_array_equal(new_b, -w)
    np.testing.assert_array_equal(score_b, [[1, 0], [3, 0]])
    # a weight already at the vote's sign has nowhere to go (ternary)
    score_t, _, _, _ = _erroneous_counts(x, -d, w, top=1, binary=False)
    np.testing.assert_array_equal(score_t, [[0, 0], [0, 0]])


def test_desired_outputs_use_integer_margins():
    z = np.array([[10, 5, 0], [10, 9, 0], [3, 8, 7]], dtype=np.int32)
    y = np.array([0, 0, 0])
    d = _desired_outputs(z, y, margin=2, violators="top")
    # sample 0: true class leads by 5 >= 2, fine; sample 1: leads by 1 < 2; sample 2: wrong
    np.testing.assert_array_equal(d, [[0, 0, 0], [1, -1, 0], [1, -1, 0]])
    d_all = _desired_outputs(z, y, margin=2, violators="all")
    np.testing.assert_array_equal(d_all, [[0, 0, 0], [1, -1, 0], [2, -1, -1]])
    assert d.dtype == np.int8 and (d_all.sum(axis=1) == 0).all()  # balanced
    assert not _desired_outputs(z, y, margin=0, violators="top")[0].any()


def test_propagate_gates_inactive_units():
    d = np.array([[1, -1]], dtype=np.int8)
    w = np.array([[1, -1], [1, 1], [0, -1]], dtype=np.int8)  # 3 hidden units -> 2 outputs
    active = np.array([[True, True, False]])
    np.testing.assert_array_equal(_propagate(d, w, active), [[1, 0, 0]])


# --------------------------------------------------------------------------------------------------- budget
def test_select_respects_the_per_column_budget():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 50, size=(40, 7)).astype(np.int32)
    for whole, frac in [(1, 0), (2, 0), (0, 32768), (3, 65535)]:
        for _ in range(20):
            idx = _select(rng, score, frac, whole, pool=4, min_votes=1)
            cols = np.bincount(idx % 7, minlength=7)
            assert cols.max() <= whole + (frac > 0)
            assert len(np.unique(idx)) == len(idx)
            assert (score.reshape(-1)[idx] >= 1).all()
    assert _select(rng, score, 0, 0, pool=4, min_votes=1).size == 0
    assert _select(rng, np.zeros((5, 3), dtype=np.int32), 0, 2, pool=4, min_votes=1).size == 0
    # min_votes excludes weak weights
    idx = _select(rng, score, 0, 3, pool=4, min_votes=45)
    assert (score.reshape(-1)[idx] >= 45).all()


@pytest.mark.parametrize("flips, output_flips, decay", [(1.0, 1.0, 1.0), (2.0, 3.0, 0.8), (0.3, 0.5, 1.0),
                                                        (0.0, 1.0, 1.0)])
def test_flips_respect_the_budget(digits, flips, output_flips, decay):
    chip = _chip(digits, profile="rram_hfo2")
    trainer = make_trainer("bitflip", flips=flips, output_flips=output_flips, decay=decay)
    spy = Spy(trainer, chip)
    train(chip, trainer, digits, epochs=2, batch_size=64, seed=0)
    hidden, out = chip.mapping.tilings[0].layer, chip.mapping.tilings[-1].layer
    total = {hidden: 0, out: 0}
    for epoch, held, request in spy.calls:
        assert not request.codes and not request.scales and not request.biases  # sparse weight requests only
        for layer, (idx, new) in request.updates.items():
            rate = (output_flips if layer == out else flips) * decay ** (epoch - 1)
            n_out = held[layer].shape[1]
            per_column = np.bincount(idx % n_out, minlength=n_out)
            assert per_column.max() <= int(np.ceil(rate)), (layer, epoch)
            assert len(idx) <= int(np.ceil(rate)) * n_out
            # only changed weights are requested
            assert (held[layer].reshape(-1)[idx] != new).all()
            total[layer] += len(idx)
    if flips == 0:
        assert total[hidden] == 0
    else:
        assert total[hidden] > 0
    assert total[out] > 0
    if flips < 1:  # fractional budgets: about flips x columns moves per step on average, never more than 1
        steps = len(spy.calls)
        assert total[hidden] <= flips * chip.model.layers[hidden].fan_out * steps * 1.3


# ------------------------------------------------------------------------------------------- code ranges
def test_ternary_codes_stay_ternary_and_move_one_level(digits):
    chip = _chip(digits, profile="ideal")
    trainer = make_trainer("bitflip")
    spy = Spy(trainer, chip)
    train(chip, trainer, digits, epochs=3, batch_size=trainer.default_batch_size, seed=0)
    assert spy.calls
    for _, held, request in spy.calls:
        for layer, (idx, new) in request.updates.items():
            assert set(np.unique(new)) <= {-1, 0, 1}
            assert (np.abs(new - held[layer].reshape(-1)[idx]) == 1).all()  # one step: +1 -> 0 -> -1
    view = TrainingView(chip)
    for i in view.analog_layers():
        assert set(np.unique(view.codes(i))) <= {-1, 0, 1}


def test_binary_mode_keeps_codes_in_plus_minus_one(digits):
    """Also learns: 64-64-10 on the ideal profile, 10 epochs, measured 0.74, 0.74, 0.82 (seeds 0, 1, 2)."""
    chip = _chip(digits, profile="ideal", spec="64-64-10")
    view = TrainingView(chip)
    assert any((view.codes(i) == 0).any() for i in view.analog_layers())  # a fresh ternary model has zeros
    trainer = make_trainer("bitflip", binary=True)
    spy = Spy(trainer, chip)
    record = train(chip, trainer, digits, epochs=10, batch_size=trainer.default_batch_size, seed=0)
    for i in view.analog_layers():
        assert set(np.unique(view.codes(i))) == {-1, 1}
    for k, (_, held, request) in enumerate(spy.calls):
        for layer, (idx, new) in request.updates.items():
            assert set(np.unique(new)) <= {-1, 1}
            if k > 0:  # after the one-off binarisation every move is a flip (NOT)
                np.testing.assert_array_equal(new, -held[layer].reshape(-1)[idx])
    assert record.final.test_accuracy > 0.5


# -------------------------------------------------------------------------------------------- determinism
def _strip(record) -> dict:
    d = json.loads(record.to_json())
    for e in d["epochs"]:
        e.pop("wall_time_s")
    d.pop("checkpoints", None)
    return d


def test_same_seed_same_run_other_seed_other_run(digits):
    def run(seed):
        chip = _chip(digits, profile="rram_hfo2")
        record = train(chip, make_trainer("bitflip"), digits, epochs=2, batch_size=64, seed=seed)
        view = TrainingView(chip)
        return _strip(record), [view.codes(i) for i in view.analog_layers()]

    a, codes_a = run(0)
    b, codes_b = run(0)
    c, codes_c = run(1)
    assert a == b
    assert all(np.array_equal(p, q) for p, q in zip(codes_a, codes_b))
    assert not all(np.array_equal(p, q) for p, q in zip(codes_a, codes_c))


# -------------------------------------------------------------------------------------- learning and costs
def test_learns_digits(digits):
    """Fresh 64-64-10 ternary MLP on rram_hfo2, default hyper-parameters and batch size (256), 10 epochs.
    Measured test accuracy 0.927 (seed 0; seeds 1, 2 of model, chip and loop: 0.898, 0.924); 5 epochs: 0.86-0.90."""
    model = model_from_spec("64-64-10", digits.input_shape, digits.n_classes, seed=0)
    chip = Chip("rram_hfo2", model, seed=0)
    trainer = make_trainer("bitflip")
    record = train(chip, trainer, digits, epochs=10, batch_size=trainer.default_batch_size, seed=0)
    accuracies = [round(e.test_accuracy, 3) for e in record.epochs]
    assert record.epochs[0].test_accuracy < 0.2, accuracies
    assert record.final.test_accuracy >= 0.80, accuracies
    assert record.final.writes_total > 0
    counts = record.ledger["counts"]
    assert counts["aux_bytes_read"] > 0 and counts["aux_bytes_written"] > 0 and counts["neuron_updates"] > 0


def test_aux_memory_is_declared_and_small(digits):
    chip = _chip(digits, spec="64-64-10")
    view = TrainingView(chip)
    trainer = make_trainer("bitflip")
    aux = trainer.aux_memory(view, 256)
    assert all(isinstance(v, int) and v > 0 for v in aux.values())
    # 2-byte counters for the largest layer (64 x 64), one layer at a time
    assert aux["vote_counters"] == 64 * 64 * 2
    # far less than latent float32 weights with Adam (3 buffers per weight)
    weights = sum(chip.model.layers[i].codes.size for i in view.analog_layers())
    assert aux["vote_counters"] < weights * 3 * 4
    # wide counters are declared when int16 could overflow
    assert make_trainer("bitflip", violators="all").aux_memory(view, 8192)["vote_counters"] == 64 * 64 * 4


# ---------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("key, value", [("flips", -1.0), ("flips", float("nan")), ("output_flips", 0),
                                        ("decay", 0), ("decay", 1.5), ("margin", -1), ("margin", 2.5),
                                        ("violators", "some"), ("act_levels", 0), ("act_levels", 200),
                                        ("act_quantile", 1.0), ("act_quantile", 0), ("input_levels", 0),
                                        ("input_levels", 128), ("pool", 0), ("min_votes", 0), ("binary", 1),
                                        ("recalibrate", "yes")])
def test_bad_hyper_parameters_raise(key, value):
    with pytest.raises(TrainingError, match=f"'{key}'"):
        make_trainer("bitflip", **{key: value})


def test_unknown_hyper_parameter_is_named():
    with pytest.raises(TrainingError, match="'lr'"):
        make_trainer("bitflip", lr=0.1)


def test_conv_model_raises_naming_the_layer():
    chip = Chip("ideal", "mnist_cnn")
    trainer = make_trainer("bitflip")
    view = TrainingView(chip)
    with pytest.raises(TrainingError, match="layer 0 is conv2d"):
        trainer.init(view, np.zeros((1, 28, 28, 1)), np.zeros(1, dtype=np.int64), 0)
    with pytest.raises(TrainingError, match="layer 0 is conv2d"):
        trainer.aux_memory(view, 32)


def test_non_relu_hidden_layer_raises():
    rng = np.random.default_rng(0)
    layers = (Flatten(),
              Dense(codes=rng.integers(-1, 2, (4, 3)), scale=0.1, bias=np.zeros(3), activation="none"),
              Dense(codes=rng.integers(-1, 2, (3, 2)), scale=0.1, bias=np.zeros(2), activation="none"))
    model = Model(name="linear", description="", input_shape=(4,), input_range=(0.0, 1.0), n_classes=2,
                  layers=layers)
    chip = Chip("ideal", model)
    with pytest.raises(TrainingError, match="layer 1"):
        make_trainer("bitflip").init(TrainingView(chip), np.zeros((1, 4)), np.zeros(1, dtype=np.int64), 0)


def test_step_batch_smaller_than_classes_and_single_layer(digits):
    """A one-layer model (no hidden layer) and a tiny batch still train."""
    chip = _chip(digits, spec="64-10")
    trainer = make_trainer("bitflip")
    view = TrainingView(chip)
    state = trainer.init(view, digits.x_train, digits.y_train, 0)
    request, state = trainer.step(Batch(x=digits.x_train[:3], y=digits.y_train[:3], step=0, epoch=1), state, view)
    assert set(request.updates) <= set(view.analog_layers())
    record = train(chip, trainer, digits, epochs=3, batch_size=64, seed=0)
    assert record.final.test_accuracy > 0.5
