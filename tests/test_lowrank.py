"""Low-rank training (streaming Kronecker-sum approximation, Gural et al. 2020): the accumulator's algebra, its
update/write rules, aux memory, learning on dense and convolutional models, hyper-parameter validation."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.chip import Chip
from neurosim.data import Dataset, load_dataset
from neurosim.nn import Conv2D, Dense, Flatten, MaxPool2D, sequential, ternarize_twn
from neurosim.nn.grad_ops import softmax_cross_entropy
from neurosim.nn.spec import model_from_spec
from neurosim.training import Batch, TrainingError, TrainingView, make_trainer, train
from neurosim.training.backprop import backward
from neurosim.training.lowrank import FLOAT_BYTES, LowRankTrainer, _fold, _Layer, _ok_split, _unbiased_reduce

NEVER = 1e300  # a kappa_th the conditioning guard never trips over


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _factors(rng, n, m, r):
    ql = np.linalg.qr(rng.standard_normal((n, r + 1)))[0]
    qr = np.linalg.qr(rng.standard_normal((m, r + 1)))[0]
    return ql, qr, np.zeros(r)


def _estimate(ql, qr, c):
    r = c.size
    return (ql[:, :r] * c) @ qr[:, :r].T


def _orthonormality_error(q):
    return float(np.abs(q.T @ q - np.eye(q.shape[1])).max())


# ------------------------------------------------------------------------------------------ the accumulator
@pytest.mark.parametrize("samples", [1, 3, 4])
def test_biased_estimate_is_the_exact_sum_while_rank_covers_the_samples(samples):
    rng = np.random.default_rng(samples)
    n, m, r = 9, 7, 4
    ql, qr, c = _factors(rng, n, m, r)
    exact = np.zeros((n, m))
    for _ in range(samples):
        dz, a = rng.standard_normal(n) * rng.uniform(0.1, 10), rng.standard_normal(m)
        assert _fold(ql, qr, c, dz, a, NEVER, False, rng)
        exact += np.outer(dz, a)
    np.testing.assert_allclose(_estimate(ql, qr, c), exact, atol=1e-12 * np.abs(exact).max())
    assert np.all(np.diff(c) <= 0) and np.all(c >= 0)


def test_biased_estimate_is_the_best_rank_r_approximation_of_rank_r_plus_one():
    """One sample beyond the rank: the biased variant keeps the top r singular triplets of the exact sum."""
    rng = np.random.default_rng(7)
    n, m, r = 8, 6, 2
    ql, qr, c = _factors(rng, n, m, r)
    exact = np.zeros((n, m))
    for _ in range(r + 1):
        dz, a = rng.standard_normal(n), rng.standard_normal(m)
        assert _fold(ql, qr, c, dz, a, NEVER, False, rng)
        exact += np.outer(dz, a)
    u, s, vt = np.linalg.svd(exact)
    np.testing.assert_allclose(c, s[:r], rtol=1e-10)
    np.testing.assert_allclose(_estimate(ql, qr, c), (u[:, :r] * s[:r]) @ vt[:r], atol=1e-10)


def test_unbiased_estimate_averages_to_the_exact_sum():
    n, m, r, seeds = 8, 6, 2, 2000
    data_rng = np.random.default_rng(123)
    pairs = [(data_rng.standard_normal(n), data_rng.standard_normal(m) * data_rng.uniform(0.2, 2)) for _ in range(6)]
    exact = sum(np.outer(dz, a) for dz, a in pairs)
    means = {}
    for unbiased in (True, False):
        total = np.zeros((n, m))
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            ql, qr, c = _factors(rng, n, m, r)
            for dz, a in pairs:
                assert _fold(ql, qr, c, dz, a, NEVER, unbiased, rng)
            total += _estimate(ql, qr, c)
        means[unbiased] = np.linalg.norm(total / seeds - exact) / np.linalg.norm(exact)
    assert means[True] < 0.06, means  # Monte-Carlo error of the mean only (measured 0.02-0.03)
    assert means[False] > 0.2, means  # while truncation is visibly biased: the test can tell them apart


def test_unbiased_reduction_is_exact_in_expectation_and_keeps_weights_ordered():
    s = np.array([5.0, 2.0, 1.5, 1.0, 0.2])
    q = s.size
    m = _ok_split(s)
    assert (q - 1 - m) * s[m] <= s[m:].sum() and (m == 0 or (q - m) * s[m - 1] > s[m - 1:].sum())
    u = v = np.eye(q)
    total, draws = np.zeros((q, q)), 4000
    rng = np.random.default_rng(0)
    for _ in range(draws):
        un, w, vn = _unbiased_reduce(u, s, v, rng)
        assert w.size == q - 1 and np.all(np.diff(w) <= 1e-12)
        assert _orthonormality_error(un) < 1e-12 and _orthonormality_error(vn) < 1e-12
        np.testing.assert_allclose(w[:m], s[:m])
        total += (un[:, : q - 1] * w) @ vn[:, : q - 1].T
    np.testing.assert_allclose(total / draws, np.diag(s), atol=0.08)
    # a tail without mass is simply truncated
    un, w, vn = _unbiased_reduce(u, np.array([3.0, 1.0, 0.0, 0.0]), v, rng)
    np.testing.assert_allclose(w, [3.0, 1.0, 0.0])


@pytest.mark.parametrize("unbiased", [False, True])
def test_factors_stay_orthonormal_over_a_long_stream(unbiased):
    rng = np.random.default_rng(5)
    n, m, r = 20, 30, 4
    ql, qr, c = _factors(rng, n, m, r)
    folded = 0
    for k in range(3000):
        dz = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3)
        a = rng.standard_normal(m) if k % 7 else np.abs(rng.standard_normal(m))
        if k % 11 == 0:  # a sample lying (almost) in the current span
            dz = ql[:, :r] @ rng.standard_normal(r) + 1e-9 * rng.standard_normal(n)
        folded += _fold(ql, qr, c, dz, a, 100.0, unbiased, rng)
    assert 0 < folded < 3000
    assert _orthonormality_error(ql) < 1e-10 and _orthonormality_error(qr) < 1e-10
    assert np.all(np.isfinite(c)) and np.all(np.diff(c) <= 1e-12 * c[0])


def test_guard_skips_ill_conditioned_samples():
    rng = np.random.default_rng(1)
    n, m, r = 10, 12, 3
    ql, qr, c = _factors(rng, n, m, r)
    dz0, a0 = rng.standard_normal(n), rng.standard_normal(m)
    assert _fold(ql, qr, c, dz0, a0, 100.0, False, rng)
    before = (ql.copy(), qr.copy(), c.copy())
    # nearly parallel to the first sample: residuals ~1e-6 each, c[0] ~ |dz0||a0| >> 100 * 1e-12
    dz = 0.5 * dz0 + 1e-6 * rng.standard_normal(n)
    a = 2.0 * a0 + 1e-6 * rng.standard_normal(m)
    assert not _fold(ql, qr, c, dz, a, 100.0, False, rng)
    for x, y in zip(before, (ql, qr, c)):
        np.testing.assert_array_equal(x, y)  # a skipped sample leaves the accumulator untouched
    # without the guard it is folded in
    assert _fold(ql, qr, c, dz, a, NEVER, False, rng)
    np.testing.assert_allclose(_estimate(ql, qr, c), np.outer(dz0, a0) + np.outer(dz, a), atol=1e-9)


def test_a_sample_exactly_in_the_span_of_a_fresh_accumulator_is_folded_exactly():
    rng = np.random.default_rng(2)
    n, m, r = 6, 5, 2
    ql, qr, c = _factors(rng, n, m, r)
    dz, a = ql[:, 0] * 3.0, qr[:, 1] - 2 * qr[:, 0]  # no residual at all on either side; c = 0, so no skip
    assert _fold(ql, qr, c, dz, a, 100.0, True, rng)
    np.testing.assert_allclose(_estimate(ql, qr, c), np.outer(dz, a), atol=1e-12)
    assert _orthonormality_error(ql) < 1e-12 and _orthonormality_error(qr) < 1e-12


# --------------------------------------------------------------------------------------------- the trainer
def _chip(data, profile="ideal", spec="64-16-10", seed=0, **kw) -> Chip:
    return Chip(profile, model_from_spec(spec, data.input_shape, data.n_classes, seed=seed, **kw), seed=seed)


def _batch(data, lo, hi, step=0):
    return Batch(x=data.x_train[lo:hi], y=data.y_train[lo:hi], step=step, epoch=1)


def test_trainer_accumulates_the_exact_sum_of_per_sample_gradients(digits):
    """With rank >= samples and no guard, each layer's accumulator equals the summed per-sample gradient that
    backprop computes from the same chip pass."""
    chip = _chip(digits)
    view = TrainingView(chip)
    trainer = LowRankTrainer(rank=12, kappa_th=NEVER, accumulate=1000, variant="biased")
    state = trainer.init(view, digits.x_train, digits.y_train, seed=0)
    assert {i: L.rank for i, L in state.layers.items()} == {1: 12, 2: 9}  # capped at fan_out - 1 = 9
    batch = _batch(digits, 0, 9)
    request, state = trainer.step(batch, state, view)
    assert not request.updates and not request.codes  # nothing written before `accumulate` samples
    logits, caches = view.trace(batch.x)
    _, dlogits = softmax_cross_entropy(logits, batch.y)
    grads = backward(view, caches, dlogits * len(batch.x), count=False)
    for i, layer in state.layers.items():
        assert layer.skipped == 0
        np.testing.assert_allclose(layer.estimate().T, grads[i]["w"], atol=1e-9 * np.abs(grads[i]["w"]).max())
        # biases: one plain SGD step per sample
        np.testing.assert_allclose(request.biases[i], view.bias(i) - trainer.bias_lr * grads[i]["b"], atol=1e-12)


def _stepwise(data, trainer, chip, steps, batch_size):
    """Run ``steps`` trainer steps (applying their requests), returning per step the written layers."""

    view = TrainingView(chip)
    state = trainer.init(view, data.x_train, data.y_train, seed=0)
    written, checks = [], []
    for k in range(steps):
        before = {i: (L.updates, L.deferred) for i, L in state.layers.items()}
        request, state = trainer.step(_batch(data, k * batch_size, (k + 1) * batch_size, k), state, view)
        written.append(sorted(request.updates))
        checks.append({i: (L.updates - before[i][0], L.deferred - before[i][1]) for i, L in state.layers.items()})
        chip.apply(request)
    return state, written, checks


def test_writes_come_only_every_accumulate_samples(digits):
    b, steps, batch = 7, 12, 5
    # big steps: a check writes unless the accumulated gradient has vanished (a saturated network defers)
    trainer = LowRankTrainer(accumulate=b, lr=3.0, rho_min=0.0)
    chip = _chip(digits)
    state, written, checks = _stepwise(digits, trainer, chip, steps, batch)
    for k in range(steps):
        due = (k + 1) * batch // b - k * batch // b  # checks falling in this step's samples
        for i in (1, 2):
            assert sum(checks[k][i]) == due  # every check is a write or a deferral, and only when due
            assert (i in written[k]) == (checks[k][i][0] > 0)
    assert sum(1 for w in written if w) >= 3  # the first checks write (lr=3 moves many weights a level)
    assert all(L.updates + L.deferred == steps * batch // b for L in state.layers.values())
    assert chip.memory.summary().writes_total > 0


def test_updates_below_rho_min_keep_accumulating(digits):
    trainer = LowRankTrainer(accumulate=5, lr=1e-4, rho_min=0.01)  # far below half a level: nothing to write
    chip = _chip(digits)
    writes_before = chip.ledger.writes_total
    state, written, checks = _stepwise(digits, trainer, chip, 6, 5)
    assert written == [[]] * 6 and chip.ledger.writes_total == writes_before
    for L in state.layers.values():
        assert L.deferred == 6 and L.updates == 0 and L.chunks == 6
        assert L.c[0] > 0  # the accumulator was not reset


@pytest.mark.parametrize("nonzero, writes", [(2, False), (3, True)])
def test_density_must_exceed_rho_min(nonzero, writes):
    """160 weights, rho_min = 0.015 (2.4 weights): 2 changed weights are deferred, 3 are written."""
    rng = np.random.default_rng(nonzero)
    target = np.zeros((16, 10))  # (fan_in, fan_out)
    target.flat[rng.choice(target.size, nonzero, replace=False)] = 1.0
    u, s, vt = np.linalg.svd(target.T)  # the (fan_out, fan_in) accumulator, rank <= 3
    ql, qr, _ = _factors(rng, 10, 16, 4)
    ql[:, :3], qr[:, :3] = u[:, :3], vt[:3].T
    ql, qr = np.linalg.qr(ql)[0] * np.sign(np.diag(np.linalg.qr(ql)[1])), np.linalg.qr(qr)[0] * np.sign(
        np.diag(np.linalg.qr(qr)[1]))  # complete to orthonormal columns keeping the first three
    layer = _Layer(ql=ql, qr=qr, c=np.append(s[:3], 0.0), rng=rng)
    np.testing.assert_allclose(layer.estimate().T, target, atol=1e-12)
    trainer = LowRankTrainer(accumulate=4, lr=2.0, rho_min=0.015)  # lr * sqrt(4) / 4 = 1: one level a unit
    codes = np.zeros((16, 10), dtype=np.int64)
    new, _, _ = trainer._check(layer, codes, 1.0, 2)
    assert np.count_nonzero(new) == (nonzero if writes else 0)
    assert (layer.updates, layer.deferred) == ((1, 0) if writes else (0, 1))
    assert (layer.c[0] == 0) == writes  # written: reset; deferred: keeps accumulating


def test_write_rule_is_clipped_rounded_low_rank_step():
    rng = np.random.default_rng(3)
    n, m, r, b = 5, 7, 2, 4
    ql, qr, _ = _factors(rng, n, m, r)
    layer = _Layer(ql=ql, qr=qr, c=np.array([40.0, 9.0]), rng=rng)
    codes = rng.integers(-127, 128, (m, n))
    trainer = LowRankTrainer(rank=r, accumulate=b, lr=0.2, rho_min=0.0)
    expected = np.clip(codes - np.rint(0.2 * np.sqrt(b) / b * _estimate(ql, qr, layer.c).T / 0.05), -127, 127)
    new, bytes_read, ops = trainer._check(layer, codes, 0.05, 8)
    np.testing.assert_array_equal(new, expected)
    assert np.count_nonzero(new != codes) > 0 and np.all(layer.c == 0) and layer.updates == 1
    assert bytes_read == (r * (n + m) + r) * FLOAT_BYTES and ops == n * m * r


def test_aux_memory_is_the_declared_formula_and_its_traffic_is_counted(digits):
    chip = _chip(digits)
    view = TrainingView(chip)
    trainer = LowRankTrainer(kappa_th=NEVER, accumulate=1000)
    aux = trainer.aux_memory(view, 10)
    # layers: 64 -> 16 (n = 16, m = 64, r = 4) and 16 -> 10 (n = 10, m = 16, r = 4); q = 5; float32
    assert aux == {"lowrank_factors": 5 * (16 + 64 + 10 + 16) * 4, "singular_values": (4 + 4) * 4,
                   "svd_workspace": 3 * 5 * 5 * 4, "sample_counters": 2 * 4, "biases": (16 + 10) * 4,
                   "activations_and_errors": 10 * ((64 + 16) + (16 + 10)) * 4}
    # the persistent factors are r (n + m) values a layer plus one work column a side, as declared
    assert aux["lowrank_factors"] == sum((L + 1) * (n + m) for L, n, m in ((4, 16, 64), (4, 10, 16))) * FLOAT_BYTES
    state = trainer.init(view, digits.x_train, digits.y_train, seed=0)
    before = chip.ledger.copy()
    _, state = trainer.step(_batch(digits, 0, 10), state, view)
    counts = (chip.ledger - before).counts
    dims = {1: (16, 64), 2: (10, 16)}
    written = sum((L.pairs * (5 * sum(dims[i]) + 4) + dims[i][0]) * 4 for i, L in state.layers.items())
    assert all(L.skipped == 0 for L in state.layers.values())
    assert counts["aux_bytes_written"] == written
    assert counts["aux_bytes_read"] > written
    assert counts["neuron_updates"] >= sum(L.pairs * (5 ** 2 * sum(dims[i]) + 5 ** 3)
                                           for i, L in state.layers.items())


def test_learns_digits(digits):
    """Fresh ternary 64-64-10 on rram_hfo2, defaults, 5 epochs. Measured (seed 0 / 1 / 2): 0.77 / 0.83 / 0.90
    (biased variant: 0.75 / 0.65 / 0.40); chance is 0.10."""
    chip = _chip(digits, "rram_hfo2", "64-64-10")
    trainer = make_trainer("lowrank")
    record = train(chip, trainer, digits, epochs=5, batch_size=trainer.default_batch_size, seed=0)
    accuracies = [round(e.test_accuracy, 3) for e in record.epochs]
    assert record.epochs[0].test_accuracy < 0.2, accuracies
    assert record.final.test_accuracy >= 0.6, accuracies
    assert record.final.train_loss < record.epochs[0].train_loss
    assert 0 < record.final.writes_max_cell < record.steps


def _tiny_cnn(data, seed=0):
    rng = np.random.default_rng(seed)
    c1, s1 = ternarize_twn(rng.standard_normal((3, 3, 1, 8)) * np.sqrt(2 / 9))
    c2, s2 = ternarize_twn(rng.standard_normal((72, 10)) * np.sqrt(2 / 72))
    return sequential("tiny_cnn", data.input_shape, data.n_classes, [
        Conv2D(codes=c1, scale=s1, bias=np.zeros(8)), MaxPool2D(2), Flatten(),
        Dense(codes=c2, scale=s2, bias=np.zeros(10), activation="none")])


def test_works_on_a_small_conv_model(digits):
    """Conv 3x3x8 (36 output pixels = 36 pairs per sample) + pool + dense, 400 samples, 3 epochs. Measured test
    accuracy (model seed 0 / 1 / 2): 0.54 / 0.48 / 0.40 (chance 0.10)."""
    small = Dataset(name="digits[:400]", x_train=digits.x_train[:400], y_train=digits.y_train[:400],
                    x_test=digits.x_test, y_test=digits.y_test, input_shape=digits.input_shape, n_classes=10)
    chip = Chip("ideal", _tiny_cnn(digits), seed=0)
    trainer = make_trainer("lowrank")
    seen = {}
    original = trainer.step

    def step(batch, state, view):
        request, state = original(batch, state, view)
        seen["state"] = state
        seen.setdefault("conv_written", 0)
        seen["conv_written"] += 0 in request.updates
        return request, state

    trainer.step = step
    record = train(chip, trainer, small, epochs=3, batch_size=10, seed=0)
    conv = seen["state"].layers[0]
    assert conv.ql.shape == (8, 5) and conv.qr.shape == (9, 5)
    assert conv.pairs + conv.skipped > 400 * 3  # several pairs per sample (zero pairs dropped)
    assert seen["conv_written"] > 0
    assert _orthonormality_error(conv.ql) < 1e-10 and _orthonormality_error(conv.qr) < 1e-10
    assert record.final.test_accuracy > 0.3, [e.test_accuracy for e in record.epochs]


# --------------------------------------------------------------------------------------- hyper-parameters
@pytest.mark.parametrize("key, value", [("rank", 0), ("rank", 2.5), ("rank", -1), ("lr", 0), ("lr", -0.1),
                                        ("accumulate", 0), ("accumulate", 10.0), ("rho_min", 1.0),
                                        ("rho_min", -0.01), ("kappa_th", 0), ("kappa_th", float("inf")),
                                        ("variant", "both"), ("variant", None), ("bias_lr", -1e-3),
                                        ("apply_pending", 1), ("apply_pending", "yes")])
def test_bad_hyper_parameters_raise(key, value):
    with pytest.raises(TrainingError, match=f"'{key}'"):
        make_trainer("lowrank", **{key: value})


def test_defaults_and_registry():
    trainer = make_trainer("lowrank")
    assert isinstance(trainer, LowRankTrainer)
    assert trainer.get_params() == {"rank": 4, "lr": 0.1, "accumulate": 10, "rho_min": 0.01, "kappa_th": 100.0,
                                    "variant": "auto", "bias_lr": 0.003, "apply_pending": False,
                                    "max_norm": False}
    assert trainer.unbiased
    assert not make_trainer("lowrank", apply_pending=True).unbiased
    assert make_trainer("lowrank", apply_pending=True, variant="unbiased").unbiased
    assert trainer.default_batch_size == 10


def test_a_layer_with_one_output_is_refused(digits):
    model = sequential("one", (4,), 2, [Dense(codes=np.ones((4, 1), np.int8), scale=1.0, bias=np.zeros(1)),
                                        Dense(codes=np.ones((1, 2), np.int8), scale=1.0, bias=np.zeros(2),
                                              activation="none")])
    view = TrainingView(Chip("ideal", model))
    with pytest.raises(TrainingError, match="at least 2"):
        make_trainer("lowrank").aux_memory(view, 10)


def test_eight_bit_weights_write_less_than_nvm_sgd(digits):
    """8-bit weights on binary differential pairs (14 cells a weight): per-sample nvm_sgd programs some cell at
    nearly every step; the low-rank trainer writes only at its update checks."""
    profile = neurosim.load_profile("rram_hfo2").replace({"crossbar.cells_per_weight": 14})
    small = Dataset(name="digits[:300]", x_train=digits.x_train[:300], y_train=digits.y_train[:300],
                    x_test=digits.x_test, y_test=digits.y_test, input_shape=digits.input_shape, n_classes=10)
    worst = {}
    for name, batch in (("nvm_sgd", 1), ("lowrank", 10)):
        chip = Chip(profile, model_from_spec("64-16-10", digits.input_shape, 10, seed=0, weight_bits=8), seed=0)
        record = train(chip, make_trainer(name), small, epochs=1, batch_size=batch, seed=0)
        worst[name] = record.final.writes_max_cell
    # measured: nvm_sgd 118, lowrank 22
    assert worst["nvm_sgd"] > 0.3 * 300, worst
    assert worst["lowrank"] <= 300 // 10, worst  # at most one write per update check
    assert worst["lowrank"] * 3 < worst["nvm_sgd"], worst


# ----------------------------------------------------------------------------- apply_pending (our extension)
def test_guard_does_not_skip_a_pair_already_in_the_span():
    """With r = n - 1 on the output side, softmax errors (summing to zero) lie in the span once it holds them:
    the fold is exact, so the guard must not skip it however small the residual."""
    rng = np.random.default_rng(4)
    n, m, r = 4, 6, 3
    ql, qr, c = _factors(rng, n, m, r)
    exact = np.zeros((n, m))
    for _ in range(6):
        dz = rng.standard_normal(n)
        dz -= dz.mean()  # sums to zero, like softmax errors
        a = rng.standard_normal(m)
        ql[:, :r] = np.linalg.qr(np.eye(n) - 1.0 / n)[0][:, :r] if not c.any() else ql[:, :r]
        assert _fold(ql, qr, c, dz, a, 1e-3, False, rng)  # a guard that would skip anything else
        exact += np.outer(dz, a)
    np.testing.assert_allclose(_estimate(ql, qr, c), exact, atol=1e-9 * np.abs(exact).max())


def _apply_trainer(**kw):
    params = dict(apply_pending=True, rank=12, kappa_th=NEVER, lr=0.05, rho_min=0.0)
    params.update(kw)
    return LowRankTrainer(**params)


def test_apply_pending_puts_the_pending_update_in_the_chip(digits):

    chip = _chip(digits)
    view = TrainingView(chip)
    trainer = _apply_trainer(accumulate=1000)
    state = trainer.init(view, digits.x_train, digits.y_train, seed=0)
    codes = {i: view.codes(i) for i in state.layers}
    for k in range(2):  # 10 samples, then 1 more: within rank 12, so every estimate is the exact sum
        request, state = trainer.step(_batch(digits, 5 * k, 5 * (k + 1), k), state, view)
        assert not request.updates and not request.codes  # nothing is written before `accumulate` samples
        chip.apply(request)
    for i, layer in state.layers.items():
        np.testing.assert_allclose(chip.registers.correction_matrix(i), -0.05 * layer.estimate().T, atol=1e-12)
        np.testing.assert_array_equal(view.codes(i), codes[i])
        expected = chip.model.layers[i].weight_matrix() * chip.scales[i] - 0.05 * layer.estimate().T
        np.testing.assert_allclose(view.weights(i), expected, atol=1e-12)
    # the gradient of the next step is taken at the corrected weights: the fold of one more sample matches
    # backprop through view.weights
    before = {i: layer.estimate().copy() for i, layer in state.layers.items()}
    batch = _batch(digits, 10, 11, 2)
    logits, caches = view.trace(batch.x)
    _, dlogits = softmax_cross_entropy(logits, batch.y)
    grads = backward(view, caches, dlogits, count=False)
    _, state = trainer.step(batch, state, view)
    for i, layer in state.layers.items():
        np.testing.assert_allclose((layer.estimate() - before[i]).T, grads[i]["w"],
                                   atol=1e-8 * np.abs(grads[i]["w"]).max())


def test_apply_pending_writes_every_accumulate_samples_and_resets_the_correction(digits):
    trainer = _apply_trainer(accumulate=20, lr=0.3)
    chip = _chip(digits)
    state, written, checks = _stepwise(digits, trainer, chip, 6, 10)
    assert [bool(w) for w in written[0::2]] == [False] * 3 and any(written[1::2])
    for i in state.layers:
        assert [sum(checks[k][i]) for k in range(6)] == [0, 1] * 3  # a check every 20 samples
    assert all(L.updates >= 2 for L in state.layers.values())
    # after a write step the correction holds only the samples folded since (none here: the check was last)
    assert chip.corrections == {}


def test_finish_writes_what_is_pending_and_clears_the_corrections(digits):

    chip = _chip(digits, "ideal", "64-16-10", weight_bits=2)
    view = TrainingView(chip)
    trainer = _apply_trainer(accumulate=10 ** 6, lr=0.2)
    state = trainer.init(view, digits.x_train, digits.y_train, seed=0)
    for k in range(4):
        request, state = trainer.step(_batch(digits, 10 * k, 10 * (k + 1), k), state, view)
        chip.apply(request)
    assert set(chip.corrections) == set(state.layers)
    expected = {i: np.clip(view.codes(i) - np.rint(0.2 * L.estimate().T / view.scale(i)), -1, 1)
                for i, L in state.layers.items()}
    request = trainer.finish(state, view)
    assert request.corrections == {i: None for i in state.layers}
    assert sum(len(flat) for flat, _ in request.updates.values()) > 0
    chip.apply(request)
    assert chip.corrections == {}
    for i, L in state.layers.items():
        np.testing.assert_array_equal(view.codes(i), expected[i])
        assert not L.c.any()
    # nothing left: a second finish writes nothing
    again = trainer.finish(state, view)
    assert not again.updates


def test_holding_trainer_finishes_with_nothing(digits):
    chip = _chip(digits)
    view = TrainingView(chip)
    trainer = LowRankTrainer(accumulate=10 ** 6)
    state = trainer.init(view, digits.x_train, digits.y_train, seed=0)
    _, state = trainer.step(_batch(digits, 0, 10), state, view)
    assert not trainer.finish(state, view)


def test_apply_pending_run_ends_in_the_memory_with_few_writes_per_cell(digits):
    """One epoch of digits on rram_hfo2 with 8-bit weights, writing every 500 samples: every cell is written at
    most once per write (3 during the epoch plus the final one), and no correction is left."""
    profile = neurosim.load_profile("rram_hfo2").replace({"crossbar.cells_per_weight": 14})
    chip = Chip(profile, model_from_spec("64-16-10", digits.input_shape, 10, seed=0, weight_bits=8), seed=0)
    trainer = make_trainer("lowrank", apply_pending=True, accumulate=500, lr=0.01, rank=8)
    record = train(chip, trainer, digits, epochs=1, batch_size=10, seed=0)
    updates = -(-len(digits.x_train) // 500)
    assert 0 < record.final.writes_max_cell <= updates, record.final.writes_max_cell
    assert chip.corrections == {}
    assert record.final.test_accuracy > record.epochs[0].test_accuracy + 0.3


def test_max_norm_moves_the_largest_weight_by_lr_sqrt_b_of_the_range():
    """The reference code's 'SKS/Max-Norm' step: the held update's largest entry becomes lr x sqrt(samples) x the
    layer's largest code, whatever the gradient's size (here 0.04 x sqrt(100) x 127 = 50.8 -> 51 levels)."""
    trainer = make_trainer("lowrank", max_norm=True, lr=0.04, accumulate=100)
    rng = np.random.default_rng(0)
    st = _Layer(ql=np.linalg.qr(rng.standard_normal((5, 3)))[0], qr=np.linalg.qr(rng.standard_normal((7, 3)))[0],
                c=np.array([3.0, 1.0]), rng=rng)
    st.chunks = 1
    for gain in (1.0, 1e-6):  # the size of the gradient does not matter (the first check sets the running mean)
        st.c[:] = np.array([3.0, 1.0]) * gain
        st.norm_sum, st.norm_count = 0.0, 0
        step, _, _ = trainer._quantised_step(st, (7, 5), scale=0.01, top=127)
        assert np.abs(step).max() == 51
    data = load_dataset("digits")
    chip = Chip("rram_hfo2", model_from_spec("64-16-10", data.input_shape, data.n_classes, seed=0), seed=0)
    # ternary: the largest move is lr x sqrt(10) levels, so lr 0.5 moves weights (0.01 would round to nothing)
    record = train(chip, make_trainer("lowrank", max_norm=True, lr=0.5), data, epochs=1, batch_size=10)
    assert record.final.writes_total > 0 and "max_norm_statistics" in record.aux_memory
