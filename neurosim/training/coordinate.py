"""CoNNTrA-style coordinate descent on discrete weights (Date et al., 2020; ALGORITHMS.md section 3).

Weights stay in their discrete set (ternary: {-1, 0, +1} times the layer scale); there are no gradients to store
and no latent float weights. Each step, on one mini-batch:

1. the chip runs the forward pass (counted); its pre-activations and logits are cached (aux memory);
2. ``candidates`` coordinates per trained layer are drawn at random and scored by their gradient, computed for
   those coordinates only (``x[:, i] . delta[:, j]``), which is what "coordinate gradient descent" suggests;
3. the ``evaluations`` best-scored coordinates each get the neighbouring value in the direction of descent,
   evaluated exactly on the cached pre-activations (O(batch) per candidate for the output layer, O(batch x classes)
   for the hidden layer below it, in numba) and kept only if the mini-batch loss drops;
4. only the weights that changed are requested, so a write happens only on a real change.

Biases (aux memory) follow a plain gradient step, and so do the per-layer scales, in log space (``scale_lr``):
both are digital registers, so neither writes a cell. The output layer and the hidden dense layer below it are
trained (the usual MLP); other layers keep their weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ledger import FLOAT_BYTES
from ..nn.grad_ops import softmax_cross_entropy
from ..nn.quantize import max_code
from . import _kernels
from .base import Batch, Trainer, TrainingError, TrainingView, WriteRequest, register
from .params import flag, real, whole


@dataclass
class _CoordState:
    rng: np.random.Generator
    layers: list[int]  # trained layers, output layer last


@register
class CoordinateTrainer(Trainer):
    """Coordinate descent on discrete weights (CoNNTrA)."""

    name = "coordinate"
    summary = "CoNNTrA coordinate descent on discrete weights: gradient-scored candidates, exact loss evaluation"
    default_batch_size = 192  # loss evaluations on a bigger batch are less noisy; caches stay small
    # a pre-trained model's scales were learned on the host: on the online validation setting of
    # benchmarks/tune_defaults.py (rotate, 3 seeds) learning them too (0.01) scored 71.2 % mean (median 69.9 %)
    # against 71.5 % (71.6 %) with the host's
    adaptation_defaults = {"scale_lr": 0.0}

    @classmethod
    def batch_size_for(cls, n_train: int) -> int:
        """192, or a quarter of a smaller training set (at least 16): on Iris a whole-set batch took the same
        deterministic step every epoch and 2 of 5 seeds stuck near 55 % (validation split); mini-batch noise moves
        the search out of such discrete local minima. Chosen on validation splits carved from the training sets of
        iris, wine and breast_cancer; MNIST and digits keep 192."""
        return min(cls.default_batch_size, max(16, int(n_train) // 4))
    hyper_parameters = {
        "candidates": whole(1024, "coordinates drawn per layer and step, scored by their gradient", lo=1),
        "evaluations": whole(512, "best-scored coordinates evaluated exactly per step, shared between the trained "
                             "layers in proportion to the square root of their weight counts (at least one each): "
                             "a small output layer gets a larger share per weight than the big hidden layer, "
                             "without being rewritten over and over", lo=1),
        "tol": real(0.0, "a change is kept when the mini-batch's summed loss drops by more than this", lo=0),
        "bias_lr": real(0.3, "step size of the biases' gradient step (0.3 with the small-set batch rule and explore: "
                        "the best mean validation accuracy over iris, wine, breast_cancer and digits in "
                        "benchmarks/tune_defaults.py, validation images carved from the training sets; equal to "
                        "0.1 on an MNIST validation split; 0.01 before left Iris near 65 %)", lo=0),
        "scale_lr": real(0.01, "step size of the per-layer scales (digital registers, so learning them writes no "
                         "cell; otherwise the ternary levels stay where the model was quantised, an arbitrary "
                         "choice): log(scale) moves by -scale_lr x d loss / d log(scale) each step, at most 10 %. "
                         "0.01: the best mean validation accuracy over iris, wine, breast_cancer (30 seeds each), "
                         "digits (5) and an MNIST split (3) in benchmarks/tune_defaults.py, 94.33 % against 93.75 % "
                         "with fixed scales (wine 1.0 and breast_cancer 0.2 points lower, the others higher); online "
                         "adaptation keeps the host-trained scales (0, see adaptation_defaults)", lo=0),
        "decay": real(0.75, "evaluations per step shrink by this factor every epoch (at least one per layer): "
                      "fewer, surer changes as training settles, the discrete analogue of a decaying learning rate",
                      lo=0, hi=1, lo_open=True),
        "explore": flag(True, "spend evaluations the gradient leaves unused on random neighbouring values of "
                        "zero-gradient weights (e.g. into units that are off for the whole batch); kept only if the "
                        "loss drops (chosen with bias_lr, see there)"),
        "wear_weight": real(0.0, "endurance-aware choice (0: off): a candidate's gradient score is weighed by "
                            "(writes its cells have left / the limit) ** wear_weight, the limit being the write "
                            "budget or the median endurance, and a weight with none left is never proposed; so "
                            "among equally useful moves the less-worn weights are written", lo=0, hi=8),
        "all_values": flag(False, "evaluate every value of the weight set in the descent direction (CoNNTrA keeps "
                           "the best value of P), not only the neighbouring level; off by default: on an MNIST "
                           "validation split (784-128-10, 6,000 / 2,000 images carved from the training set, "
                           "seeds 0-1) it scored the same (89.25 % against 89.20 %) while writing more cells "
                           "(57 % more in benchmarks/bench_training.py's setting)"),
    }

    def _trained_layers(self, view: TrainingView) -> list[int]:
        analog = view.analog_layers()
        model = view.model
        last = analog[-1]
        if model.layers[last].kind != "dense":
            raise TrainingError(f"trainer 'coordinate' needs a dense output layer (layer {last} is "
                                f"{model.layers[last].kind})")
        layers = [last]
        if len(analog) > 1:
            below = analog[-2]
            between = [model.layers[i].kind for i in range(below + 1, last)]
            if model.layers[below].kind == "dense" and model.layers[below].activation == "relu" and not between:
                layers.insert(0, below)
        return layers

    def aux_memory(self, view: TrainingView, batch_size: int) -> dict[str, int]:
        layers = self._trained_layers(view)
        model = view.model
        classes = model.layers[layers[-1]].fan_out
        hidden = model.layers[layers[0]].fan_out if len(layers) > 1 else 0
        outputs = sum(model.layers[i].fan_out for i in layers)
        return {
            # logits, their gradient, log-sum-exp and hidden pre-activations (float32); hidden weight gradients
            # are computed per candidate, so no (batch, hidden) error buffer is kept
            "cached_preactivations": batch_size * (2 * classes + 1 + hidden) * FLOAT_BYTES,
            # one layer's candidates at a time: indices (2 x int32), new value (int8), score (float32)
            "candidates": self.candidates * (2 * 4 + 1 + FLOAT_BYTES),
            "work_buffer": batch_size * classes * FLOAT_BYTES,
            "biases": outputs * FLOAT_BYTES,
        }

    def init(self, view: TrainingView, x_train: np.ndarray, y_train: np.ndarray, seed: int) -> _CoordState:
        return _CoordState(rng=np.random.default_rng(seed), layers=self._trained_layers(view))

    def _evaluations(self, view: TrainingView, layers: list[int], epoch: int) -> dict[int, int]:
        sizes = {i: np.sqrt(view.model.layers[i].codes.size) for i in layers}
        total = sum(sizes.values())
        budget = self.evaluations * self.decay ** max(epoch - 1, 0)
        return {i: max(1, int(round(budget * n / total))) for i, n in sizes.items()}

    def _wear(self, view: TrainingView, index: int) -> np.ndarray | None:
        """Per weight of layer ``index``: (writes left / limit) ** wear_weight, or None when wear is not weighed."""
        if self.wear_weight == 0:
            return None
        left = np.minimum(view.remaining_writes(index), view.write_limit) / view.write_limit
        return left ** self.wear_weight

    def _propose(self, rng: np.random.Generator, w: np.ndarray, grad_of: Any, top: int, evaluations: int,
                 wear: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Draw candidates, score them by gradient (weighed by ``wear``, the share of writes left, when given),
        keep the best feasible moves (one level against the gradient)."""
        n_in, n_out = w.shape
        k = min(self.candidates, n_in * n_out)
        flat = rng.choice(n_in * n_out, size=k, replace=False) if k < n_in * n_out else np.arange(n_in * n_out)
        ii, jj = flat // n_out, flat % n_out
        g = grad_of(ii, jj)
        v = np.clip(w[ii, jj] - np.sign(g), -top, top).astype(w.dtype)
        feasible = (v != w[ii, jj]) & (g != 0)
        score = np.abs(g)
        if wear is not None:
            left = wear[ii, jj]
            feasible &= left > 0
            score = score * left
        order = np.argsort(-score * feasible, kind="stable")[: min(evaluations, int(feasible.sum()))]
        spare = evaluations - order.size
        if self.explore and spare > 0 and not self.all_values:
            # budget the gradient cannot use (a small layer, or inputs of units that are off for the whole batch,
            # whose gradient is 0 whatever their weights): try a random neighbouring value of zero-gradient
            # weights; the exact evaluation keeps only those that lower the loss, e.g. one that turns a dead unit
            # back on. (Draws nothing when the gradient fills the budget, as on MNIST.)
            idle = np.flatnonzero((g == 0) if wear is None else (g == 0) & (wear[ii, jj] > 0))
            if idle.size:
                idle = rng.permutation(idle)[:spare]
                step = np.where(rng.random(idle.size) < 0.5, -1, 1)
                v_idle = np.clip(w[ii[idle], jj[idle]] + step, -top, top).astype(w.dtype)
                moved = v_idle != w[ii[idle], jj[idle]]
                ii = np.concatenate([ii[order], ii[idle][moved]])
                jj = np.concatenate([jj[order], jj[idle][moved]])
                return ii.astype(np.int64), jj.astype(np.int64), np.concatenate([v[order], v_idle[moved]]), k
        ii, jj, g = ii[order], jj[order], g[order]
        if not self.all_values:
            return ii.astype(np.int64), jj.astype(np.int64), v[order], k
        # every further value of P in the descent direction, each right after the previous one: the kernel keeps
        # whichever of them lowers the loss most (a move it rejects leaves the next judged from the original)
        steps = [np.clip(w[ii, jj] - d * np.sign(g), -top, top) for d in range(1, 2 * top + 1)]
        cand = np.stack(steps, axis=1)
        valid = np.ones_like(cand, dtype=bool)
        valid[:, 1:] = cand[:, 1:] != cand[:, :-1]
        valid &= cand != w[ii, jj][:, None]
        rows = np.repeat(np.arange(ii.size), cand.shape[1]).reshape(cand.shape)[valid]
        return ii[rows].astype(np.int64), jj[rows].astype(np.int64), cand[valid].astype(w.dtype), k

    def step(self, batch: Batch, state: _CoordState, view: TrainingView) -> tuple[WriteRequest, _CoordState]:
        model = view.model
        logits, traces = view.trace(batch.x)
        y = batch.y.astype(np.int64)
        _, dlogits = softmax_cross_entropy(logits, y)
        z = logits.astype(np.float64)
        m = z.max(axis=1, keepdims=True)
        lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
        request = WriteRequest()
        out_i = state.layers[-1]
        out_layer = model.layers[out_i]
        w_out = view.codes(out_i).astype(np.float64)
        s_out = view.scale(out_i)
        h = traces[out_i].mvm_inputs.astype(np.float64)
        evaluated = 0
        budget = self._evaluations(view, state.layers, batch.epoch)
        # hidden layer first: its candidates are judged with the output weights as they are now
        if len(state.layers) > 1:
            hid_i = state.layers[0]
            hid = model.layers[hid_i]
            x_rows = traces[hid_i].mvm_inputs.astype(np.float64)
            a = traces[hid_i].pre_activation.astype(np.float64).copy()
            w_hid = view.codes(hid_i).astype(np.float64)
            s_hid = view.scale(hid_i)

            def hidden_grad(i: np.ndarray, j: np.ndarray) -> np.ndarray:
                g = np.empty(i.size)
                _kernels.hidden_gradients(x_rows, a, dlogits, w_out, s_out, i.astype(np.int64), j.astype(np.int64),
                                          g)
                return s_hid * g

            ii, jj, vv, drawn = self._propose(state.rng, w_hid, hidden_grad, max_code(hid.weight_bits),
                                              budget[hid_i], self._wear(view, hid_i))
            accepted = np.zeros(ii.size, dtype=np.uint8)
            before = w_hid.copy()
            _kernels.coordinate_hidden_layer(x_rows, a, z, lse, y, w_hid, s_hid, w_out, s_out, ii, jj,
                                             vv.astype(np.float64), self.tol, accepted, np.empty_like(z))
            self._collect(request, hid_i, before, w_hid, ii, jj, accepted)
            # bias gradient of the hidden units: one pass over the batch, no (batch, hidden) buffer kept
            # error at the hidden pre-activations (as the chip computed them, before this step's changes)
            delta = (dlogits @ (w_out * s_out).T) * (traces[hid_i].pre_activation > 0)
            b_hid = view.bias(hid_i)
            request.biases[hid_i] = b_hid - self.bias_lr * delta.sum(axis=0)
            if self.scale_lr:
                request.scales[hid_i] = self._scale_step(s_hid, b_hid, delta, traces[hid_i].pre_activation)
            view.count(neuron_updates=drawn * len(y) * (out_layer.fan_out + 1) + ii.size * len(y) * out_layer.fan_out)
            evaluated += ii.size
            # the output layer sees the hidden activations after the accepted changes
            h = np.maximum(a, 0.0)
        ii, jj, vv, drawn = self._propose(state.rng, w_out, lambda i, j: s_out * np.einsum(
            "bk,bk->k", h[:, i], dlogits[:, j]), max_code(out_layer.weight_bits), budget[out_i],
            self._wear(view, out_i))
        accepted = np.zeros(ii.size, dtype=np.uint8)
        before = w_out.copy()
        _kernels.coordinate_last_layer(h, z, lse, y, w_out, s_out, ii, jj, vv.astype(np.float64), self.tol,
                                       accepted)
        self._collect(request, out_i, before, w_out, ii, jj, accepted)
        b_out = view.bias(out_i)
        request.biases[out_i] = b_out - self.bias_lr * dlogits.sum(axis=0)
        if self.scale_lr:
            request.scales[out_i] = self._scale_step(s_out, b_out, dlogits, logits)
        view.count(neuron_updates=drawn * len(y) + ii.size * len(y))
        evaluated += ii.size
        # the caches are written once and read once per evaluated candidate
        cache_bytes = sum(self.aux_memory(view, len(y)).values())
        view.count(aux_bytes_written=cache_bytes, aux_bytes_read=cache_bytes + evaluated * len(y) * FLOAT_BYTES)
        return request, state

    def _scale_step(self, scale: float, bias: np.ndarray, delta: np.ndarray, pre_activation: np.ndarray) -> float:
        """The layer's scale after one step on log(scale). The chip computed ``pre_activation = scale x MVM + bias``
        (read from the forward pass's trace: no extra multiply), so d loss / d log(scale) = sum(delta x (pre_activation
        - bias)), ``delta`` being the loss's gradient at the pre-activations. The step is clipped to +-10 % so that
        one noisy mini-batch cannot swing every weight of the layer at once."""
        step = -self.scale_lr * float(np.sum(delta * (pre_activation.astype(np.float64) - bias)))
        return float(scale * np.exp(np.clip(step, -0.1, 0.1)))

    @staticmethod
    def _collect(request: WriteRequest, index: int, before: np.ndarray, after: np.ndarray, ii: np.ndarray,
                 jj: np.ndarray, accepted: np.ndarray) -> None:
        keep = accepted.astype(bool)
        if not keep.any():
            return
        flat = np.unique(ii[keep] * before.shape[1] + jj[keep])
        changed = flat[after.reshape(-1)[flat] != before.reshape(-1)[flat]]
        if changed.size:
            request.updates[index] = (changed, after.reshape(-1)[changed].astype(np.int64))
