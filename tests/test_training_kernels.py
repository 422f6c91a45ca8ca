"""The numba kernels of the coordinate trainer against their numpy twins, and against the loss itself.

Each case builds one random state (ReLU-sparse activations, low-bit weights, cached logits and log-sum-exp), runs
the kernel and the twin on copies of it, and compares the returned count, the accepted flags, the updated caches
and the weights (allclose, 1e-9). The twins recompute the whole loss per candidate; the last tests check the
kernels' decisions against a loss recomputed from scratch (weights -> activations -> logits).
"""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.training import _kernels, _twins

TOL = dict(rtol=1e-9, atol=1e-9)


def _lse(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def _loss(z: np.ndarray, y: np.ndarray) -> float:
    """Summed cross-entropy of logits ``z`` (the kernels' objective)."""
    return float((_lse(z) - z[np.arange(len(y)), y]).sum())


def _candidates(rng, w: np.ndarray, top: int, n: int, repeat: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_in, n_out = w.shape
    ci = rng.integers(0, n_in, n).astype(np.int64)
    cj = rng.integers(0, n_out, n).astype(np.int64)
    cv = rng.integers(-top, top + 1, n).astype(np.float64)  # includes "no change" candidates (v == w[i, j])
    if repeat:
        # the same coordinate several times in a row, with every value of the weight set (as all_values does), and
        # a few coordinates that come back later in the list
        k = n // 4
        ci[:k] = np.repeat(ci[: k // (2 * top + 1) + 1], 2 * top + 1)[:k]
        cj[:k] = np.repeat(cj[: k // (2 * top + 1) + 1], 2 * top + 1)[:k]
        cv[:k] = np.tile(np.arange(-top, top + 1), k // (2 * top + 1) + 1)[:k]
        ci[-5:], cj[-5:] = ci[:5], cj[:5]
    return ci, cj, cv


def _last_layer_case(seed: int, batch=48, n_in=20, classes=6, top=1, n_cand=120, repeat=False, zero_h=False):
    rng = np.random.default_rng(seed)
    h = np.maximum(rng.standard_normal((batch, n_in)), 0.0)  # ReLU outputs: about half are 0
    h[:, rng.random(n_in) < 0.2] = 0.0  # some dead units
    if zero_h:
        h[:] = 0.0
    w = rng.integers(-top, top + 1, (n_in, classes)).astype(np.float64)
    scale = 0.4 / top
    bias = 0.1 * rng.standard_normal(classes)
    z = scale * h @ w + bias
    y = rng.integers(0, classes, batch).astype(np.int64)
    ci, cj, cv = _candidates(rng, w, top, n_cand, repeat)
    return dict(h=h, z=z, lse=_lse(z), y=y, w=w, scale=scale, ci=ci, cj=cj, cv=cv, bias=bias)


def _run_last(fn, c: dict, tol: float):
    s = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in c.items()}
    accepted = np.full(s["ci"].size, 7, dtype=np.uint8)  # every flag must be written
    n = fn(s["h"], s["z"], s["lse"], s["y"], s["w"], s["scale"], s["ci"], s["cj"], s["cv"], tol, accepted)
    return n, accepted, s


def _hidden_case(seed: int, batch=40, n_in=16, hidden=12, classes=5, top=1, n_cand=100, repeat=False,
                 zero_x=False):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, n_in))
    x[rng.random((batch, n_in)) < 0.3] = 0.0  # DAC-quantised inputs: many exact zeros
    if zero_x:
        x[:] = 0.0
    w = rng.integers(-top, top + 1, (n_in, hidden)).astype(np.float64)
    scale = 0.5 / top
    b_hid = 0.2 * rng.standard_normal(hidden)
    a = scale * x @ w + b_hid
    w_out = rng.integers(-1, 2, (hidden, classes)).astype(np.float64)
    scale_out = 0.6
    b_out = 0.1 * rng.standard_normal(classes)
    z = scale_out * np.maximum(a, 0.0) @ w_out + b_out
    y = rng.integers(0, classes, batch).astype(np.int64)
    ci, cj, cv = _candidates(rng, w, top, n_cand, repeat)
    return dict(x=x, a=a, z=z, lse=_lse(z), y=y, w=w, scale=scale, w_out=w_out, scale_out=scale_out, ci=ci, cj=cj,
                cv=cv, b_hid=b_hid, b_out=b_out)


def _run_hidden(fn, c: dict, tol: float):
    s = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in c.items()}
    accepted = np.full(s["ci"].size, 7, dtype=np.uint8)
    z_new = np.zeros_like(s["z"])
    n = fn(s["x"], s["a"], s["z"], s["lse"], s["y"], s["w"], s["scale"], s["w_out"], s["scale_out"], s["ci"],
           s["cj"], s["cv"], tol, accepted, z_new)
    return n, accepted, s


CASES = [pytest.param(dict(), id="ternary"), pytest.param(dict(top=3), id="3bit"),
         pytest.param(dict(repeat=True), id="repeated"), pytest.param(dict(top=3, repeat=True), id="3bit-repeated")]


# --------------------------------------------------------------------------------------- output layer
@pytest.mark.parametrize("tol", [0.0, 0.05])
@pytest.mark.parametrize("options", CASES)
@pytest.mark.parametrize("seed", range(4))
def test_last_layer_kernel_matches_twin(seed, options, tol):
    case = _last_layer_case(seed, **options)
    n_k, acc_k, s_k = _run_last(_kernels.coordinate_last_layer, case, tol)
    n_t, acc_t, s_t = _run_last(_twins.coordinate_last_layer_numpy, case, tol)
    assert 0 < n_t < case["ci"].size  # some accepted, some rejected: the comparison means something
    assert n_k == n_t == int(acc_t.sum())
    np.testing.assert_array_equal(acc_k, acc_t)
    assert set(np.unique(acc_k)) <= {0, 1}
    for key in ("z", "lse", "w"):
        np.testing.assert_allclose(s_k[key], s_t[key], **TOL, err_msg=key)
    # the updated caches are those of the updated weights
    np.testing.assert_allclose(s_k["z"], s_k["scale"] * case["h"] @ s_k["w"] + case["bias"], **TOL)
    np.testing.assert_allclose(s_k["lse"], _lse(s_k["z"]), **TOL)


@pytest.mark.parametrize("seed", range(3))
def test_last_layer_tolerance_rejects_small_gains(seed):
    case = _last_layer_case(seed)
    n0, acc0, _ = _run_last(_kernels.coordinate_last_layer, case, 0.0)
    big, acc_big, s_big = _run_last(_kernels.coordinate_last_layer, case, 1e6)
    assert n0 > 0 and big == 0 and not acc_big.any()
    np.testing.assert_array_equal(s_big["w"], case["w"])
    np.testing.assert_array_equal(s_big["z"], case["z"])


def test_last_layer_repeated_candidate_is_not_accepted_twice():
    case = _last_layer_case(0)
    n, acc, s = _run_last(_kernels.coordinate_last_layer, case, 0.0)
    k = int(np.flatnonzero(acc)[0])
    i, j, v = case["ci"][k], case["cj"][k], case["cv"][k]
    # the same move again, from the state it produced: no change, so no gain, so rejected (twin agrees)
    again = dict(case, z=s["z"], lse=s["lse"], w=s["w"], ci=np.array([i, i]), cj=np.array([j, j]),
                 cv=np.array([v, v]))
    for fn in (_kernels.coordinate_last_layer, _twins.coordinate_last_layer_numpy):
        n2, acc2, s2 = _run_last(fn, again, 0.0)
        assert n2 == 0 and list(acc2) == [0, 0]
        np.testing.assert_array_equal(s2["z"], s["z"])


def test_last_layer_zero_inputs_and_no_candidates():
    case = _last_layer_case(1, zero_h=True)
    for fn in (_kernels.coordinate_last_layer, _twins.coordinate_last_layer_numpy):
        n, acc, s = _run_last(fn, case, 0.0)
        assert n == 0 and not acc.any()
        np.testing.assert_array_equal(s["w"], case["w"])
        np.testing.assert_array_equal(s["z"], case["z"])
        np.testing.assert_array_equal(s["lse"], case["lse"])
    empty = dict(_last_layer_case(2), ci=np.zeros(0, np.int64), cj=np.zeros(0, np.int64), cv=np.zeros(0))
    for fn in (_kernels.coordinate_last_layer, _twins.coordinate_last_layer_numpy):
        assert _run_last(fn, empty, 0.0)[0] == 0


# --------------------------------------------------------------------------------------- hidden layer
@pytest.mark.parametrize("tol", [0.0, 0.05])
@pytest.mark.parametrize("options", CASES)
@pytest.mark.parametrize("seed", range(4))
def test_hidden_layer_kernel_matches_twin(seed, options, tol):
    case = _hidden_case(seed, **options)
    n_k, acc_k, s_k = _run_hidden(_kernels.coordinate_hidden_layer, case, tol)
    n_t, acc_t, s_t = _run_hidden(_twins.coordinate_hidden_layer_numpy, case, tol)
    assert 0 < n_t < case["ci"].size
    assert n_k == n_t == int(acc_t.sum())
    np.testing.assert_array_equal(acc_k, acc_t)
    assert set(np.unique(acc_k)) <= {0, 1}
    for key in ("a", "z", "lse", "w"):
        np.testing.assert_allclose(s_k[key], s_t[key], **TOL, err_msg=key)
    # caches follow the weights
    a = s_k["scale"] * case["x"] @ s_k["w"] + case["b_hid"]
    np.testing.assert_allclose(s_k["a"], a, **TOL)
    np.testing.assert_allclose(s_k["z"], case["scale_out"] * np.maximum(a, 0) @ case["w_out"] + case["b_out"], **TOL)
    np.testing.assert_allclose(s_k["lse"], _lse(s_k["z"]), **TOL)


def test_hidden_layer_tolerance_changes_decisions():
    case = _hidden_case(5)
    n0 = _run_hidden(_kernels.coordinate_hidden_layer, case, 0.0)[0]
    n_small = _run_hidden(_kernels.coordinate_hidden_layer, case, 0.05)[0]
    n_big, acc, s = _run_hidden(_kernels.coordinate_hidden_layer, case, 1e6)
    assert n0 >= n_small > n_big == 0
    np.testing.assert_array_equal(s["a"], case["a"])


def test_hidden_layer_zero_inputs():
    case = _hidden_case(3, zero_x=True)
    for fn in (_kernels.coordinate_hidden_layer, _twins.coordinate_hidden_layer_numpy):
        n, acc, s = _run_hidden(fn, case, 0.0)
        assert n == 0 and not acc.any()
        for key in ("a", "z", "lse", "w"):
            np.testing.assert_array_equal(s[key], case[key])


# ------------------------------------------------------------------------------------ hidden gradients
@pytest.mark.parametrize("seed", range(4))
def test_hidden_gradients_match_twin(seed):
    case = _hidden_case(seed, n_cand=200, repeat=True)
    rng = np.random.default_rng(100 + seed)
    p = np.exp(case["z"] - case["lse"][:, None])
    dz = p.copy()
    dz[np.arange(len(case["y"])), case["y"]] -= 1
    dz /= len(case["y"])
    dz[rng.random(len(dz)) < 0.1] = 0.0  # rows with no error
    out_k = np.full(case["ci"].size, np.nan)
    out_t = np.full(case["ci"].size, np.nan)
    _kernels.hidden_gradients(case["x"], case["a"], dz, case["w_out"], case["scale_out"], case["ci"], case["cj"], out_k)
    _twins.hidden_gradients_numpy(case["x"], case["a"], dz, case["w_out"], case["scale_out"], case["ci"], case["cj"],
                                  out_t)
    assert np.count_nonzero(out_t) > case["ci"].size // 2
    np.testing.assert_allclose(out_k, out_t, **TOL)
    # repeated coordinates get the same gradient
    first = {}
    for k, key in enumerate(zip(case["ci"], case["cj"])):
        first.setdefault(key, out_k[k])
        assert out_k[k] == first[key]


def test_hidden_gradients_are_the_loss_gradient():
    """Times the layer scale, the kernel's value is d(mean cross-entropy)/d(w[i, j]) (central differences)."""
    case = _hidden_case(7, n_cand=30)
    y, n = case["y"], len(case["y"])
    dz = np.exp(case["z"] - case["lse"][:, None])
    dz[np.arange(n), y] -= 1
    dz /= n
    out = np.empty(case["ci"].size)
    _kernels.hidden_gradients(case["x"], case["a"], dz, case["w_out"], case["scale_out"], case["ci"], case["cj"], out)

    def mean_loss(w):
        a = case["scale"] * case["x"] @ w + case["b_hid"]
        return _loss(case["scale_out"] * np.maximum(a, 0) @ case["w_out"] + case["b_out"], y) / n

    h = 1e-6
    for k, (i, j) in enumerate(zip(case["ci"], case["cj"])):
        up, down = case["w"].copy(), case["w"].copy()
        up[i, j] += h
        down[i, j] -= h
        numeric = (mean_loss(up) - mean_loss(down)) / (2 * h)
        assert case["scale"] * out[k] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_hidden_gradients_zero_inputs():
    case = _hidden_case(2, zero_x=True)
    out = np.full(case["ci"].size, np.nan)
    dz = np.ones_like(case["z"])
    _kernels.hidden_gradients(case["x"], case["a"], dz, case["w_out"], case["scale_out"], case["ci"], case["cj"], out)
    np.testing.assert_array_equal(out, 0.0)


# ------------------------------------------------------------------ decisions against the recomputed loss
@pytest.mark.parametrize("tol", [0.0, 0.02])
def test_accepted_last_layer_change_lowers_the_recomputed_loss(tol):
    case = _last_layer_case(11, top=3)
    state = dict(case)
    accepted_any = rejected_any = False
    for k in range(case["ci"].size):
        one = dict(state, ci=case["ci"][k: k + 1], cj=case["cj"][k: k + 1], cv=case["cv"][k: k + 1])
        before = _loss(case["scale"] * case["h"] @ state["w"] + case["bias"], case["y"])
        trial = state["w"].copy()
        trial[case["ci"][k], case["cj"][k]] = case["cv"][k]
        with_change = _loss(case["scale"] * case["h"] @ trial + case["bias"], case["y"])
        n, acc, new = _run_last(_kernels.coordinate_last_layer, one, tol)
        after = _loss(case["scale"] * case["h"] @ new["w"] + case["bias"], case["y"])
        if n:
            accepted_any = True
            assert after < before - tol
            np.testing.assert_array_equal(new["w"], trial)
        else:
            rejected_any = True
            assert with_change >= before - tol - 1e-9
            np.testing.assert_array_equal(new["w"], state["w"])
        state = dict(state, z=new["z"], lse=new["lse"], w=new["w"])
    assert accepted_any and rejected_any


@pytest.mark.parametrize("tol", [0.0, 0.02])
def test_accepted_hidden_layer_change_lowers_the_recomputed_loss(tol):
    case = _hidden_case(12, top=3, repeat=True)

    def full_loss(w):
        a = case["scale"] * case["x"] @ w + case["b_hid"]
        return _loss(case["scale_out"] * np.maximum(a, 0) @ case["w_out"] + case["b_out"], case["y"])

    state = dict(case)
    start = full_loss(case["w"])
    accepted = 0
    for k in range(case["ci"].size):
        one = dict(state, ci=case["ci"][k: k + 1], cj=case["cj"][k: k + 1], cv=case["cv"][k: k + 1])
        before = full_loss(state["w"])
        trial = state["w"].copy()
        trial[case["ci"][k], case["cj"][k]] = case["cv"][k]
        n, acc, new = _run_hidden(_kernels.coordinate_hidden_layer, one, tol)
        if n:
            accepted += 1
            assert full_loss(new["w"]) < before - tol
        else:
            assert full_loss(trial) >= before - tol - 1e-9
            np.testing.assert_array_equal(new["w"], state["w"])
        state = dict(state, a=new["a"], z=new["z"], lse=new["lse"], w=new["w"])
    assert accepted > 0
    assert full_loss(state["w"]) < start - accepted * tol


# --------------------------------------------------------------------------- saturated softmax (regression)
def test_last_layer_kernel_with_saturated_softmax():
    h = np.array([[1.0]])
    z = np.array([[40.0, 0.0]])  # class 0 (the label) dominates: softmax rounds to (1, 4e-18)
    case = dict(h=h, z=z, lse=_lse(z), y=np.array([0]), w=np.array([[1.0, 0.0]]), scale=50.0,
                ci=np.array([0]), cj=np.array([0]), cv=np.array([-1.0]))
    n_t, acc_t, s_t = _run_last(_twins.coordinate_last_layer_numpy, case, 0.0)
    assert n_t == 0  # the move raises the loss by 100: rejected
    n_k, acc_k, s_k = _run_last(_kernels.coordinate_last_layer, case, 0.0)
    assert n_k == n_t
    np.testing.assert_array_equal(s_k["w"], case["w"])
