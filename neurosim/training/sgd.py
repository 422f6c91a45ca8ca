"""Gradient baselines: straight-through SGD with latent float weights, and NVM-only SGD without them.

``sgd`` (ALGORITHMS.md section 1): latent float32 weights live in auxiliary memory; the chip computes the forward
pass with the quantised weights it holds; the gradient passes straight through to the latent weights (Adam or
momentum); after every update the re-quantised weights (TWN ternary, or k-bit uniform) are requested for the whole
layer, so read-before-write programs only the cells whose level changed.

``nvm_sgd``: no latent copy. Each step requests ``round(codes - lr * grad / scale)`` at the stored precision, so an
update below half a level is lost: the write-heavy, accuracy-poor baseline of the low-rank training paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ledger import FLOAT_BYTES
from ..nn.grad_ops import softmax_cross_entropy
from ..nn.quantize import max_code, quantize_symmetric
from . import _kernels
from .backprop import backward
from .base import Batch, Trainer, TrainingView, WriteRequest, register
from .params import one_of, real


def _activation_bytes(view: TrainingView, batch_size: int) -> int:
    """Working memory of one forward/backward pass: each analog layer's outputs and their errors (float32)."""
    shapes = view.model.input_shapes()
    total = 0
    for i in view.analog_layers():
        out = view.model.layers[i].output_shape(shapes[i])
        total += 2 * int(np.prod(out))
    return total * batch_size * FLOAT_BYTES


@dataclass
class _SGDState:
    latent: dict[int, np.ndarray]
    m: dict[int, np.ndarray]
    v: dict[int, np.ndarray]
    bias_m: dict[int, np.ndarray]
    bias_v: dict[int, np.ndarray]
    t: int


@register
class SGDTrainer(Trainer):
    """Straight-through SGD with latent float weights in auxiliary memory."""

    name = "sgd"
    summary = "straight-through SGD: latent float32 weights + Adam in aux memory, quantised weights on the chip"
    hyper_parameters = {
        "lr": real(3e-3, "learning rate of the latent weights (weight units per unit gradient)", lo=0, lo_open=True),
        "optimizer": one_of("adam", "update rule of the latent weights (Adam keeps two extra buffers per weight, "
                            "momentum one)", "adam", "momentum"),
        "momentum": real(0.9, "momentum coefficient (optimizer='momentum') or Adam's beta1", lo=0, hi=1,
                         hi_open=True),
        "hysteresis": real(0.0, "a weight's code changes only when its latent weight is more than 0.5 + "
                           "hysteresis level steps from the code the chip holds (0: plain rounding); latent weights "
                           "that wander around a rounding threshold then stop rewriting their cells back and forth",
                           lo=0, hi=10),
        "wear_weight": real(0.0, "endurance-aware writes (0: off): the hysteresis of a weight grows by wear_weight x "
                            "the share of its writes used (1 - writes left / the limit: the write budget, or the "
                            "median endurance), so worn weights change only for larger moves", lo=0, hi=100),
    }

    def _buffers_per_weight(self) -> int:
        return 3 if self.optimizer == "adam" else 2

    def aux_memory(self, view: TrainingView, batch_size: int) -> dict[str, int]:
        weights = sum(view.model.layers[i].codes.size for i in view.analog_layers())
        outputs = sum(view.model.layers[i].fan_out for i in view.analog_layers())
        return {"latent_weights_and_optimizer": weights * self._buffers_per_weight() * FLOAT_BYTES,
                "biases_and_optimizer": outputs * self._buffers_per_weight() * FLOAT_BYTES,
                "activations_and_errors": _activation_bytes(view, batch_size)}

    def init(self, view: TrainingView, x_train: np.ndarray, y_train: np.ndarray, seed: int) -> _SGDState:
        latent = {i: (view.codes(i) * view.scale(i)).astype(np.float32) for i in view.analog_layers()}
        zeros = {i: np.zeros_like(w) for i, w in latent.items()}
        return _SGDState(latent=latent, m=zeros, v={i: np.zeros_like(w) for i, w in latent.items()},
                         bias_m={i: np.zeros(view.model.layers[i].fan_out) for i in latent},
                         bias_v={i: np.zeros(view.model.layers[i].fan_out) for i in latent}, t=0)

    def _update(self, param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int) -> np.ndarray:
        """``param`` after one update (in place; Adam or momentum). ``grad`` is rounded to ``param``'s dtype."""
        if self.optimizer == "adam":
            # one kernel pass; every constant in the parameters' dtype, as numpy casts a Python float: Adam with
            # beta2 = 0.999, eps = 1e-8 and bias correction, bit for bit numpy's
            f = param.dtype.type
            _kernels.adam_update(param.reshape(-1), np.ascontiguousarray(grad).reshape(-1), m.reshape(-1),
                                 v.reshape(-1), f(self.momentum), f(1 - self.momentum), f(0.999), f(0.001),
                                 f(1 - self.momentum ** t), f(1 - 0.999 ** t), f(self.lr), f(1e-8))
            return param
        m *= self.momentum
        m += grad.astype(param.dtype, copy=False)
        param -= self.lr * m
        return param

    def _with_hysteresis(self, view: TrainingView, index: int, latent: np.ndarray, scale: float,
                         codes: np.ndarray, ternary: bool) -> np.ndarray:
        """``codes`` where the latent weight is past the rounding boundary between the held code and its new code
        by more than the margin (``hysteresis`` plus the wear term, in level steps), the held code elsewhere.
        With ``wear_weight``, a weight with no writes left is frozen: its latent weight is set back to the held
        code, so the optimizer does not push where the chip cannot follow."""
        held = view.codes(index).reshape(codes.shape)
        margin = self.hysteresis
        if self.wear_weight:
            left = np.minimum(view.remaining_writes(index), view.write_limit).reshape(codes.shape)
            margin = margin + self.wear_weight * (1.0 - left / view.write_limit)
            frozen = left == 0
            latent[frozen] = held[frozen] * scale
        if ternary:  # TWN: the boundary is the threshold 0.7 mean|w| on |w| (``ternarize_twn``)
            past = np.abs(np.abs(latent) - 0.7 * float(np.abs(latent).mean())) / scale
        else:  # uniform rounding: half a level from the held code
            past = np.abs(latent / scale - held) - 0.5
        return np.where((codes != held) & (past > margin), codes, held)

    def step(self, batch: Batch, state: _SGDState, view: TrainingView) -> tuple[WriteRequest, _SGDState]:
        logits, traces = view.trace(batch.x)
        _, dlogits = softmax_cross_entropy(logits, batch.y)
        grads = backward(view, traces, dlogits)
        state.t += 1
        request = WriteRequest()
        per_weight = self._buffers_per_weight() * FLOAT_BYTES
        for i, g in grads.items():
            layer = view.model.layers[i]
            w = self._update(state.latent[i], g["w"].reshape(state.latent[i].shape), state.m[i], state.v[i],
                             state.t)
            top = max_code(layer.weight_bits)
            if top == 1:
                codes, scale = quantize_symmetric(state.latent[i], layer.weight_bits)
                request.scales[i] = scale
            else:
                scale = view.scale(i)
                np.clip(state.latent[i], -top * scale, top * scale, out=state.latent[i])
                codes = np.clip(np.rint(state.latent[i] / scale), -top, top).astype(np.int64)
            if self.hysteresis or self.wear_weight:
                codes = self._with_hysteresis(view, i, state.latent[i], scale, codes, ternary=top == 1)
            bias = self._update(view.bias(i), g["b"], state.bias_m[i], state.bias_v[i], state.t)
            request.codes[i] = codes
            request.biases[i] = bias
            # latent weights and optimizer buffers are read and written once per step
            view.count(aux_bytes_read=w.size * per_weight, aux_bytes_written=w.size * per_weight)
        return request, state


@dataclass
class _NVMState:
    rng: np.random.Generator


@register
class NVMSGDTrainer(Trainer):
    """SGD without latent weights: every step writes ``round(codes - lr * grad / scale)``, so updates below half a
    level are lost."""

    name = "nvm_sgd"
    summary = "SGD with no latent copy: round(codes - lr * grad / scale) written every step"
    default_batch_size = 1  # per-sample SGD, the setting of the low-rank training paper
    # Adapting a pre-trained ternary MLP online (784-64-10, rotated MNIST, validation images 7,000-7,999, 3 seeds),
    # lr 0.15 took it from 61.7 % to 13.6 % and 0.05 to 47.5 %; 0.02 and below kept it (63.8 %).
    adaptation_defaults = {"lr": 0.02}
    hyper_parameters = {
        "lr": real(0.15, "learning rate in weight units; the update in code units is lr * grad / scale, rounded to "
                   "the nearest level", lo=0, lo_open=True),
        "bias_lr": real(0.01, "learning rate of the biases (aux memory, plain SGD)", lo=0),
    }

    def aux_memory(self, view: TrainingView, batch_size: int) -> dict[str, int]:
        outputs = sum(view.model.layers[i].fan_out for i in view.analog_layers())
        return {"biases": outputs * FLOAT_BYTES, "activations_and_errors": _activation_bytes(view, batch_size)}

    def init(self, view: TrainingView, x_train: np.ndarray, y_train: np.ndarray, seed: int) -> _NVMState:
        return _NVMState(rng=np.random.default_rng(seed))

    def step(self, batch: Batch, state: Any, view: TrainingView) -> tuple[WriteRequest, Any]:
        logits, traces = view.trace(batch.x)
        _, dlogits = softmax_cross_entropy(logits, batch.y)
        grads = backward(view, traces, dlogits)
        request = WriteRequest()
        for i, g in grads.items():
            layer = view.model.layers[i]
            top = max_code(layer.weight_bits)
            codes = view.codes(i)
            step = self.lr * g["w"].reshape(codes.shape) / view.scale(i)
            request.codes[i] = np.clip(np.rint(codes - step), -top, top).astype(codes.dtype)
            request.biases[i] = view.bias(i) - self.bias_lr * g["b"]
            view.count(aux_bytes_read=layer.fan_out * FLOAT_BYTES, aux_bytes_written=layer.fan_out * FLOAT_BYTES)
        return request, state
