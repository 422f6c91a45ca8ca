"""Host-side training of ternary/low-bit networks: gradients, learning, determinism, exported model, validation."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.data import load_dataset
from neurosim.errors import ModelError
from neurosim.nn import Conv2D, Dense, Flatten, MaxPool2D
from neurosim.nn.host_training import HostNetwork, evaluate, train_on_host, validate_architecture

MLP = [{"type": "flatten"}, {"type": "dense", "out_features": 32, "activation": "relu"},
       {"type": "dense", "out_features": 10, "activation": "none"}]
TINY_CNN = [{"type": "conv2d", "out_channels": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
            {"type": "maxpool2d", "size": 2},  # 5x5 -> 2x2: the odd row and column are cropped
            {"type": "conv2d", "out_channels": 2, "kernel": 2, "stride": 1, "padding": 1, "activation": "relu"},
            {"type": "maxpool2d", "size": 2},  # 3x3 -> 1x1
            {"type": "flatten"},
            {"type": "dense", "out_features": 5, "activation": "relu"},
            {"type": "dense", "out_features": 3, "activation": "none"}]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _train_digits(digits, architecture=MLP, **kw):
    options = dict(name="t", input_shape=digits.input_shape, n_classes=10, epochs=3, batch_size=32, lr=3e-3)
    options.update(kw)
    return train_on_host(architecture, digits.x_train[:400], digits.y_train[:400], **options)


def test_gradients_match_central_differences():
    specs = validate_architecture(TINY_CNN, (9, 9, 2), 3)
    assert [s["out_shape"] for s in specs][:4] == [(5, 5, 3), (2, 2, 3), (3, 3, 2), (1, 1, 2)]
    net = HostNetwork(specs, 2, np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(1)
    for p in net.params:
        if p is not None:
            p["b"][:] = rng.normal(0, 0.1, p["b"].shape)
    x, y = rng.random((4, 9, 9, 2)), rng.integers(0, 3, 4)
    _, grads, _ = net.loss_and_grads(x, y, quantize=False)
    h = 1e-6
    checked = 0
    for i, p in enumerate(net.params):
        if p is None:
            assert grads[i] is None
            continue
        for key in ("w", "b"):
            a, numeric = p[key], np.zeros_like(p[key])
            for j in np.ndindex(a.shape):
                old = a[j]
                a[j] = old + h
                up = net.loss_and_grads(x, y, quantize=False)[0]
                a[j] = old - h
                down = net.loss_and_grads(x, y, quantize=False)[0]
                a[j] = old
                numeric[j] = (up - down) / (2 * h)
            assert grads[i][key].shape == a.shape
            np.testing.assert_allclose(grads[i][key], numeric, rtol=1e-5, atol=1e-8, err_msg=f"layer {i} {key}")
            checked += 1
    assert checked == 8


def test_ternary_mlp_learns_digits(digits):
    epochs = []
    model = train_on_host(MLP, digits.x_train, digits.y_train, name="d", input_shape=digits.input_shape,
                          n_classes=10, epochs=15, batch_size=32, lr=3e-3,
                          progress=lambda e, loss, acc: epochs.append((e, loss, acc)))
    assert [e for e, _, _ in epochs] == list(range(1, 16))
    assert epochs[-1][1] < epochs[0][1]
    assert evaluate(model, digits.x_test, digits.y_test) > 0.85
    for _, layer in model.analog_layers():
        assert set(np.unique(layer.codes)) <= {-1, 0, 1}
        assert layer.weight_bits == 2


def test_same_seed_gives_identical_model(digits):
    a, b = (_train_digits(digits, TINY_CNN[:1] + [{"type": "maxpool2d"}] + MLP, seed=3, float_epochs=1)
            for _ in range(2))
    c = _train_digits(digits, TINY_CNN[:1] + [{"type": "maxpool2d"}] + MLP, seed=4, float_epochs=1)
    for (_, la), (_, lb), (_, lc) in zip(a.analog_layers(), b.analog_layers(), c.analog_layers()):
        assert np.array_equal(la.codes, lb.codes) and la.scale == lb.scale
        assert np.array_equal(la.bias, lb.bias)
        assert not np.array_equal(la.codes, lc.codes)


def test_model_forward_is_scale_times_codes(digits):
    model = _train_digits(digits)
    assert [type(layer) for layer in model.layers] == [Flatten, Dense, Dense]
    x = digits.x_test[:50]
    h = x.reshape(50, -1)
    l1, l2 = model.layers[1], model.layers[2]
    h = np.maximum(h @ (l1.scale * l1.codes.astype(np.float64)) + l1.bias, 0)
    logits = h @ (l2.scale * l2.codes.astype(np.float64)) + l2.bias
    np.testing.assert_allclose(model.forward(x), logits, rtol=1e-12, atol=1e-12)
    assert evaluate(model, x, digits.y_test[:50]) == np.mean(logits.argmax(1) == digits.y_test[:50])


def test_conv_model_forward_matches_direct_convolution(digits):
    arch = [{"type": "conv2d", "out_channels": 4, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
            {"type": "maxpool2d", "size": 2}, {"type": "flatten"},
            {"type": "dense", "out_features": 10, "activation": "none"}]
    model = _train_digits(digits, arch, epochs=1)
    conv, pool, dense = model.layers[0], model.layers[1], model.layers[3]
    assert isinstance(conv, Conv2D) and isinstance(pool, MaxPool2D) and conv.codes.dtype.kind == "i"
    x = digits.x_test[:20]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    w = conv.scale * conv.codes.astype(np.float64)
    out = np.zeros((20, 4, 4, 4))
    for r in range(4):
        for c in range(4):
            patch = xp[:, 2 * r: 2 * r + 3, 2 * c: 2 * c + 3, :]
            out[:, r, c] = np.einsum("nijc,ijco->no", patch, w) + conv.bias
    out = np.maximum(out, 0).reshape(20, 2, 2, 2, 2, 4).max(axis=(2, 4)).reshape(20, -1)
    logits = out @ (dense.scale * dense.codes.astype(np.float64)) + dense.bias
    np.testing.assert_allclose(model.forward(x), logits, rtol=1e-10, atol=1e-12)


def test_four_bit_codes(digits):
    model = _train_digits(digits, weight_bits=4, epochs=2)
    peak = 0
    for _, layer in model.analog_layers():
        assert layer.weight_bits == 4
        assert layer.codes.min() >= -7 and layer.codes.max() <= 7
        peak = max(peak, int(np.abs(layer.codes).max()))
    assert peak == 7  # symmetric quantisation maps the largest |w| to the top code


@pytest.mark.parametrize("architecture, words", [
    ([], ["non-empty"]),
    ([{"type": "dense", "out_features": 3, "activation": "none"}, "x"], ["architecture[1]"]),
    ([{"type": "dense2", "out_features": 3}], ["architecture[0]", "'type'", "dense2"]),
    ([{"type": "dense", "activation": "none"}], ["architecture[0]", "'out_features'", "missing"]),
    ([{"type": "dense", "out_features": 0, "activation": "none"}], ["architecture[0]", "'out_features'", "0"]),
    ([{"type": "dense", "out_features": 3, "activation": "tanh"}], ["architecture[0]", "'activation'", "tanh"]),
    ([{"type": "dense", "out_features": 3, "activation": "none", "units": 4}], ["architecture[0]", "'units'"]),
    ([{"type": "dense", "out_features": 4, "activation": "none"}], ["architecture[0]", "'out_features'", "4"]),
    ([{"type": "dense", "out_features": 3, "activation": "relu"}], ["architecture[0]", "'activation'", "relu"]),
    ([{"type": "dense", "out_features": 3, "activation": "none"}, {"type": "flatten"}], ["architecture[1]", "last"]),
    ([{"type": "conv2d", "out_channels": 2, "kernel": 3}, {"type": "flatten"},
      {"type": "dense", "out_features": 3, "activation": "none"}], ["architecture[0]", "conv2d", "(4,)"]),
    ([{"type": "maxpool2d", "size": 1.5}], ["architecture[0]", "'size'", "1.5"]),
])
def test_bad_architecture_names_index_and_key(architecture, words):
    with pytest.raises(ModelError) as info:
        train_on_host(architecture, np.zeros((3, 4)), np.array([0, 1, 2]), name="bad", input_shape=(4,),
                      n_classes=3)
    for word in words:
        assert word in str(info.value)


def test_dense_on_image_and_oversized_kernel_are_rejected():
    with pytest.raises(ModelError, match=r"architecture\[0\].*flatten"):
        validate_architecture([{"type": "dense", "out_features": 3, "activation": "none"}], (8, 8, 1), 3)
    with pytest.raises(ModelError, match=r"architecture\[0\].*'kernel'"):
        validate_architecture([{"type": "conv2d", "out_channels": 2, "kernel": 9}], (8, 8, 1), 3)


@pytest.mark.parametrize("kw, key", [(dict(weight_bits=1), "weight_bits"), (dict(epochs=0), "epochs"),
                                     (dict(float_epochs=5, epochs=2), "float_epochs"), (dict(lr=-1.0), "lr"),
                                     (dict(batch_size=0), "batch_size")])
def test_bad_training_options(kw, key):
    arch = [{"type": "dense", "out_features": 3, "activation": "none"}]
    with pytest.raises(ModelError, match=key):
        train_on_host(arch, np.zeros((3, 4)), np.array([0, 1, 2]), name="bad", input_shape=(4,), n_classes=3, **kw)


def test_bad_labels_rejected():
    arch = [{"type": "dense", "out_features": 3, "activation": "none"}]
    with pytest.raises(ModelError, match="y_train"):
        train_on_host(arch, np.zeros((3, 4)), np.array([0, 1, 3]), name="bad", input_shape=(4,), n_classes=3)
