"""Host-side ("offline", on the CPU, not on the chip) training of ternary and low-bit networks.

Training keeps *latent* float weights per analog layer. Every forward pass quantises them (``weight_bits = 2``:
TWN ternary, :func:`~neurosim.nn.quantize.ternarize_twn`; more bits: :func:`~neurosim.nn.quantize.quantize_symmetric`)
and computes with ``scale * codes``; the gradient with respect to the quantised weights is applied unchanged to the
latent weights (straight-through estimator). Biases are trained in float. Loss: softmax cross-entropy; optimiser:
Adam; all randomness (He initialisation, shuffling) comes from ``np.random.default_rng(seed)``, so the same seed
and data give a bit-identical model.

With ``activation_levels`` set, every ReLU layer's output is also quantised in the forward pass (as the ``lut``
executor's integer inference sees it, Baluja et al. 2018): to that many levels over ``[0, a]``, ``a`` the 99.9th
percentile of the layer's positive outputs on the current mini-batch (no running estimate: no state is carried
from one batch to the next), rounding to the nearest level and clipping at ``a``. The backward pass is the float
one through the unquantised ReLU (straight through the quantiser: the gradient of ``max(z, 0)``, not clipped at
``a``). Activations are quantised in the epochs whose weights are (after ``float_epochs``); the network's input is
not (the chip's sensor quantises it at inference). Left at None, training is exactly what it was without the
option.

Used to produce the shipped checkpoints (``models/build_models.py``) and to pre-train models before on-chip
adaptation. The result is a :class:`~neurosim.nn.model.Model` of integer codes whose ``forward`` is the exact output
of the quantised network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import ModelError
from .grad_ops import softmax_cross_entropy
from .im2col import conv_output_size
from .layers import ACTIVATIONS, Conv2D, Dense, Flatten, MaxPool2D
from .model import Model
from .quantize import max_code, quantize_symmetric

ACTIVATION_PERCENTILE = 99.9  # the top of a quantised activation range: this percentile of the batch's positive outputs

__all__ = ["train_on_host", "evaluate", "HostNetwork", "validate_architecture", "quantize_activations"]

_KEYS = {  # type -> {key: default}; a default of None marks a required key
    "dense": {"out_features": None, "activation": "relu"},
    "conv2d": {"out_channels": None, "kernel": None, "stride": 1, "padding": 0, "activation": "relu"},
    "maxpool2d": {"size": 2},
    "flatten": {},
}
_MIN = {"out_features": 1, "out_channels": 1, "kernel": 1, "stride": 1, "padding": 0, "size": 1}


def _template(kind: str, spec: dict, shape: tuple[int, ...], where: str) -> Any:
    """The layer a validated spec describes, with placeholder weights (zero codes, scale 1): its geometry methods
    (rows, output shape, adjoints) serve the host network, its weights are replaced when the model is built."""
    if kind == "flatten":
        return Flatten()
    if kind == "maxpool2d":
        if len(shape) != 3:
            raise ModelError(f"{where}: a maxpool2d layer needs an (H, W, C) input (got shape {shape})")
        if spec["size"] > min(shape[:2]):
            raise ModelError(f"{where}: key 'size' = {spec['size']} exceeds the input {shape}")
        return MaxPool2D(size=spec["size"])
    if kind == "dense":
        if len(shape) != 1:
            raise ModelError(f"{where}: a dense layer needs a flat input but gets shape {shape}; "
                             "add {'type': 'flatten'} before it")
        codes = np.zeros((shape[0], spec["out_features"]), dtype=np.int8)
        return Dense(codes=codes, scale=1.0, bias=np.zeros(codes.shape[1]), activation=spec["activation"])
    if len(shape) != 3:
        raise ModelError(f"{where}: a conv2d layer needs an (H, W, C) input (got shape {shape})")
    ho, wo = (conv_output_size(n, spec["kernel"], spec["stride"], spec["padding"]) for n in shape[:2])
    if ho < 1 or wo < 1:
        raise ModelError(f"{where}: key 'kernel' = {spec['kernel']} does not fit input {shape} with "
                         f"padding {spec['padding']}")
    codes = np.zeros((spec["kernel"], spec["kernel"], shape[2], spec["out_channels"]), dtype=np.int8)
    return Conv2D(codes=codes, scale=1.0, bias=np.zeros(codes.shape[3]), stride=spec["stride"],
                  padding=spec["padding"], activation=spec["activation"])


def validate_architecture(architecture: Any, input_shape: Sequence[int], n_classes: int) -> list[dict]:
    """Check a list of layer dicts against the input shape; return normalised copies with defaults filled in,
    ``in_shape`` / ``out_shape`` (per sample) and the ``layer`` they describe (placeholder weights) added. Raises
    :class:`ModelError` naming the layer index, key and value.
    """
    if not isinstance(architecture, (list, tuple)) or not architecture:
        raise ModelError(f"architecture must be a non-empty list of layer dicts (got {architecture!r})")
    shape = tuple(int(s) for s in input_shape)
    specs = []
    for i, raw in enumerate(architecture):
        if not isinstance(raw, dict):
            raise ModelError(f"architecture[{i}] must be a dict with a 'type' key (got {raw!r})")
        kind = raw.get("type")
        if kind not in _KEYS:
            raise ModelError(f"architecture[{i}]: key 'type' must be one of {', '.join(_KEYS)} (got {kind!r})")
        where = f"architecture[{i}] ({kind})"
        unknown = sorted(set(raw) - set(_KEYS[kind]) - {"type"})
        if unknown:
            raise ModelError(f"{where}: unknown key {unknown[0]!r} (value {raw[unknown[0]]!r}); valid keys: "
                             f"{', '.join(['type', *_KEYS[kind]])}")
        spec = {"type": kind}
        for key, default in _KEYS[kind].items():
            if key not in raw and default is None:
                raise ModelError(f"{where}: missing key {key!r}")
            v = raw.get(key, default)
            if key == "activation":
                if v not in ACTIVATIONS:
                    raise ModelError(f"{where}: key 'activation' must be one of {', '.join(ACTIVATIONS)} (got {v!r})")
            elif isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < _MIN[key]:
                raise ModelError(f"{where}: key {key!r} must be an integer >= {_MIN[key]} (got {v!r})")
            spec[key] = v if key == "activation" else int(v)
        spec["in_shape"] = shape
        spec["layer"] = _template(kind, spec, shape, where)
        shape = tuple(spec["layer"].output_shape(shape))
        spec["out_shape"] = shape
        specs.append(spec)
    last, i = specs[-1], len(specs) - 1
    if last["type"] != "dense":
        raise ModelError(f"architecture[{i}]: key 'type' of the last layer must be 'dense' (got {last['type']!r})")
    if last["activation"] != "none":
        raise ModelError(f"architecture[{i}] (dense): key 'activation' of the last layer must be 'none' "
                         f"(got {last['activation']!r})")
    if last["out_features"] != n_classes:
        raise ModelError(f"architecture[{i}] (dense): key 'out_features' of the last layer must equal n_classes = "
                         f"{n_classes} (got {last['out_features']})")
    return specs


class HostNetwork:
    """The trainable float network behind :func:`train_on_host` (latent weights, forward, backward).

    ``params[i]`` is ``{"w": latent weights, "b": bias}`` for analog layer ``i`` and ``None`` otherwise; weights
    have the shape of the layer's codes ((in, out) dense, (k, k, in_channels, out_channels) conv2d). The layers'
    own methods (MVM rows and their adjoint, pooling and its adjoint) do the per-kind work. With
    ``activation_levels`` (int or None), a quantised forward pass also quantises every ReLU output
    (:func:`quantize_activations`; straight through in the backward pass).
    """

    def __init__(self, specs: list[dict], weight_bits: int, rng: np.random.Generator, dtype=np.float32,
                 activation_levels: int | None = None):
        self.specs, self.weight_bits, self.dtype = specs, weight_bits, np.dtype(dtype)
        self.activation_levels = activation_levels
        self.layers = [spec["layer"] for spec in specs]
        self.params: list[dict | None] = []
        for layer in self.layers:
            if not layer.analog:
                self.params.append(None)
                continue
            shape = layer.codes.shape
            w = rng.standard_normal(shape) * np.sqrt(2.0 / layer.fan_in)  # He initialisation
            self.params.append({"w": w.astype(self.dtype), "b": np.zeros(shape[-1], dtype=self.dtype)})

    def effective_weights(self, i: int, quantize: bool) -> np.ndarray:
        """Weights layer ``i`` computes with: ``scale * codes`` of the latent weights, or the latent weights."""
        w = self.params[i]["w"]
        if not quantize:
            return w
        codes, scale = quantize_symmetric(w, self.weight_bits)
        return (codes.astype(np.float64) * scale).astype(self.dtype)

    def forward(self, x: np.ndarray, quantize: bool = True) -> tuple[np.ndarray, list]:
        """Logits of the batch ``x`` (N, *input_shape) and the caches :meth:`backward` needs."""
        x = np.asarray(x, dtype=self.dtype)
        caches = []
        for i, layer in enumerate(self.layers):
            if layer.analog:
                w2 = self.effective_weights(i, quantize).reshape(layer.fan_in, layer.fan_out)
                rows = layer.rows(x)
                z = (rows @ w2 + self.params[i]["b"]).reshape(x.shape[0], *layer.output_shape(x.shape[1:]))
                mask = z > 0 if layer.activation == "relu" else None
                caches.append((rows, w2, x.shape, mask))
                x = z * mask if mask is not None else z
                if mask is not None and quantize and self.activation_levels is not None:
                    x = quantize_activations(x, self.activation_levels)  # the backward pass keeps ReLU's mask
            else:
                out, index = layer.forward_indexed(x)
                caches.append((index, x.shape))
                x = out
        return x, caches

    def backward(self, dout: np.ndarray, caches: list) -> list[dict | None]:
        """Gradients ``{"w", "b"}`` per analog layer (``None`` for others) from the logits' gradient ``dout``."""
        grads: list[dict | None] = [None] * len(self.layers)
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if layer.analog:
                rows, w2, x_shape, mask = caches[i]
                if mask is not None:
                    dout = dout * mask
                dz = dout.reshape(-1, w2.shape[1])
                grads[i] = {"w": (rows.T @ dz).reshape(self.params[i]["w"].shape), "b": dz.sum(axis=0)}
                if i == 0:
                    break
                dout = layer.input_gradient(dz @ w2.T, x_shape)
            else:
                index, x_shape = caches[i]
                dout = layer.backward(dout, index, x_shape)
        return grads

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, quantize: bool = True):
        """Mean softmax cross-entropy of the batch, its gradients, and the number of correct predictions."""
        logits, caches = self.forward(x, quantize)
        loss, dlogits = softmax_cross_entropy(logits, y)
        correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
        return loss, self.backward(dlogits, caches), correct

    def to_model(self, *, name: str, description: str, input_shape, n_classes: int, input_range) -> Model:
        """The quantised network as a :class:`Model` of integer codes."""
        layers = []
        for layer, p in zip(self.layers, self.params):
            if layer.analog:
                codes, scale = quantize_symmetric(p["w"], self.weight_bits)
                layer = replace(layer, codes=codes, scale=scale, bias=p["b"].astype(np.float64),
                                weight_bits=self.weight_bits)
            layers.append(layer)
        return Model(name=name, description=description, input_shape=tuple(input_shape),
                     input_range=input_range, n_classes=n_classes, layers=tuple(layers))


def quantize_activations(a: np.ndarray, levels: int, percentile: float = ACTIVATION_PERCENTILE) -> np.ndarray:
    """Non-negative activations ``a`` rounded to ``levels`` evenly spaced levels over ``[0, top]`` and clipped at
    ``top``, the ``percentile`` of the positive values of ``a`` (``a`` unchanged when none is positive).

    Parameters
    ----------
    a : ndarray
        ReLU outputs (any shape).
    levels : int
        Levels, 0 included (>= 2).
    percentile : float
        Sets the top of the range from the batch itself.

    Returns
    -------
    ndarray
        Of the dtype of ``a``.
    """
    positive = a[a > 0]
    if positive.size == 0:
        return a
    step = float(np.percentile(positive, percentile)) / (levels - 1)
    return (np.minimum(np.rint(a / step), levels - 1) * step).astype(a.dtype, copy=False)


def _check_int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ModelError(f"train_on_host: {name} must be an integer >= {lo} (got {v!r})")
    return int(v)


def train_on_host(architecture: list[dict], x_train: np.ndarray, y_train: np.ndarray, *, name: str,
                  input_shape: Sequence[int], n_classes: int, weight_bits: int = 2, epochs: int = 15,
                  batch_size: int = 64, lr: float = 1e-3, float_epochs: int = 0, seed: int = 0,
                  description: str = "", input_range: tuple[float, float] = (0.0, 1.0),
                  progress: Callable[[int, float, float], Any] | None = None,
                  activation_levels: int | None = None) -> Model:
    """Train a ternary (``weight_bits = 2``) or low-bit network on the host with a straight-through estimator.

    Parameters
    ----------
    architecture : list of dict
        Layers in order, e.g. ``{"type": "conv2d", "out_channels": 8, "kernel": 3, "stride": 1, "padding": 1,
        "activation": "relu"}``, ``{"type": "maxpool2d", "size": 2}``, ``{"type": "flatten"}``,
        ``{"type": "dense", "out_features": 10, "activation": "none"}``. Defaults: stride 1, padding 0, size 2,
        activation "relu". The last layer must be dense with activation "none" and ``n_classes`` outputs.
    x_train, y_train : ndarray
        Inputs (N, *input_shape) (or flattened (N, prod(input_shape))) and integer labels (N,).
    weight_bits : int
        2 = TWN ternary codes in {-1, 0, 1}; k > 2 = symmetric codes in [-(2^(k-1) - 1), 2^(k-1) - 1].
    epochs, batch_size, lr, seed
        Training length, mini-batch size, Adam learning rate, seed of initialisation and shuffling.
    float_epochs : int
        The first ``float_epochs`` of the ``epochs`` train without quantisation (warm start).
    progress : callable, optional
        ``progress(epoch, loss, train_acc)`` after every epoch (epoch counted from 1; loss and accuracy are the
        running means over that epoch's mini-batches).
    activation_levels : int, optional
        Quantise every ReLU layer's output to this many levels (2 to 256) in the forward pass, with a
        straight-through backward pass (see the module docstring); None (the default) leaves activations float.

    Returns
    -------
    Model
        Integer codes, one scale per layer, float64 biases; ``model.forward`` is the quantised network's output.
    """
    weight_bits = _check_int("weight_bits", weight_bits, 2)
    max_code(weight_bits)
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    float_epochs = _check_int("float_epochs", float_epochs, 0)
    if activation_levels is not None:
        activation_levels = _check_int("activation_levels", activation_levels, 2)
        if activation_levels > 256:
            raise ModelError(f"train_on_host: activation_levels must be an integer in [2, 256] or None "
                             f"(got {activation_levels})")
    n_classes = _check_int("n_classes", n_classes, 2)
    if float_epochs > epochs:
        raise ModelError(f"train_on_host: float_epochs must be <= epochs = {epochs} (got {float_epochs})")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (np.isfinite(lr) and lr > 0):
        raise ModelError(f"train_on_host: lr must be a finite number > 0 (got {lr!r})")
    input_shape = tuple(int(s) for s in input_shape)
    specs = validate_architecture(architecture, input_shape, n_classes)
    x = np.asarray(x_train, dtype=np.float32)
    y = np.asarray(y_train)
    if x.ndim < 1 or x.shape[0] == 0 or int(np.prod(x.shape[1:])) != int(np.prod(input_shape)):
        raise ModelError(f"train_on_host: x_train must have shape (N, *{input_shape}) with N >= 1 (got {x.shape})")
    x = x.reshape(x.shape[0], *input_shape)
    if y.shape != (x.shape[0],) or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= n_classes:
        raise ModelError(f"train_on_host: y_train must be {x.shape[0]} integer labels in [0, {n_classes - 1}] "
                         f"(got shape {y.shape}, dtype {y.dtype})")
    y = y.astype(np.int64)
    if not np.all(np.isfinite(x)):
        raise ModelError("train_on_host: x_train must be finite (found NaN or inf)")

    rng = np.random.default_rng(seed)
    net = HostNetwork(specs, weight_bits, rng, np.float32, activation_levels=activation_levels)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    moments = [None if p is None else {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in p.items()}
               for p in net.params]
    step = 0
    n = x.shape[0]
    for epoch in range(epochs):
        quantize = epoch >= float_epochs
        order = rng.permutation(n)
        total_loss, total_correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start: start + batch_size]
            loss, grads, correct = net.loss_and_grads(x[idx], y[idx], quantize)
            total_loss += loss * idx.size
            total_correct += correct
            step += 1
            lr_t = float(lr * np.sqrt(1 - beta2 ** step) / (1 - beta1 ** step))
            for p, g, mom in zip(net.params, grads, moments):
                if p is None:
                    continue
                for key in ("w", "b"):
                    m, v = mom[key]
                    m *= beta1
                    m += (1 - beta1) * g[key]
                    v *= beta2
                    v += (1 - beta2) * np.square(g[key])
                    p[key] -= (lr_t * m / (np.sqrt(v) + eps)).astype(p[key].dtype, copy=False)
        if progress is not None:
            progress(epoch + 1, total_loss / n, total_correct / n)
    return net.to_model(name=name, description=description, input_shape=input_shape, n_classes=n_classes,
                        input_range=input_range)


def evaluate(model: Model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Accuracy of ``model.predict`` on ``(x, y)`` (computed in batches)."""
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1)
    if x.shape[0] != y.shape[0] or y.size == 0:
        raise ModelError(f"evaluate: x and y must hold the same number (>= 1) of samples (got {x.shape[0]} and "
                         f"{y.shape[0]})")
    correct = sum(int(np.count_nonzero(model.predict(x[i: i + batch_size]) == y[i: i + batch_size]))
                  for i in range(0, y.size, batch_size))
    return correct / y.size
