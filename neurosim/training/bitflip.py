"""Gradient-free bit-flip training of 1- and 2-bit MLPs (Di Castro et al., 2024; ALGORITHMS.md section 4).

Weights are ternary codes ({-1, 0, +1}, the package's ``weight_bits=2``) or, with ``binary=True``, binary codes
({-1, +1}); there is no hidden full-precision copy and the training path uses only integer and logical arithmetic.
Our reading of the paper, step by step, on one mini-batch:

1. **Forward on the chip** (analog, counted): ``view.trace`` gives the logits and every dense layer's DAC-quantised
   inputs and pre-activations.
2. **Boundary: floats to integers** (the only float operations, the read-out of the analog forward, as an ADC
   would deliver counts):

   - network inputs: ``x = rint((x - lo) * input_levels / (hi - lo))``, ``input_levels + 1`` integer levels
     (``rint(15 x)`` for MNIST pixels in [0, 1]);
   - every layer's pre-activation becomes an integer in the units of its integer inputs:
     ``a = rint(pre / (scale * unit))``, where ``unit`` is the analog size of one input level (``1 / 15`` for the
     first layer) and ``scale`` the chip's layer scale; for the output layer these are the integer logits.
3. **Integer activations** of a hidden layer (its pre-activation in integer units ``a``, int32):
   ``h = clip(a // T, 0, act_levels)`` with a per-layer *integer threshold* ``T = max(1, q // act_levels)``, ``q``
   the ``act_quantile`` quantile of the positive pre-activations of a batch (an integer order statistic, taken on the
   first batch, and again on the first batch of every epoch when ``recalibrate``). With the default
   ``act_levels=1`` a hidden unit is binary: on when its pre-activation reaches ``T`` (it is then "strongly
   active"); the next layer's input unit is ``scale * unit * T``.
4. **Which outputs are wrong** (integer margins on the integer logits ``z``): a wrong class ``o`` is too high when
   ``z[o] > z[y] - margin``, the true class too low when some wrong class is. ``violators="all"`` pushes every
   too-high class down (desired direction -1) and the true class up once per such class (+count: balanced, so the
   logits as a whole do not drift, which would saturate the chip's ADCs); ``"top"`` pushes only the strongest wrong
   class down and the true class up by 1.
5. **Erroneous contributions, counted per weight** (:func:`_erroneous_counts`): the contribution of weight
   ``w[i, o]`` to output ``o`` for sample ``b`` is ``x[b, i] * w[i, o]`` (XNOR/AND with an integer level); it is
   erroneous when its sign opposes the desired direction ``d[b, o]``. The vote ``c = x.T @ d`` (int32 matrix product
   of int8 arrays, over the samples with an error only) is, for a non-zero weight, ``-sign(w) * c`` = erroneous minus
   helpful contributions (level-weighted), and for a zero weight the direction it should take. A weight's move is
   one step towards ``sign(c)`` (ternary: +1 -> 0 -> -1, clipped at the code range; binary: NOT, only when
   ``w == -sign(c)``); its score is ``|c|`` when the move exists, 0 otherwise.
6. **Desired signs for hidden units** (integer votes from the layer above): ``e = d @ w.T`` (int32), desired sign
   ``sign(e)`` for units that are active on the chip (pre-activation > 0, the ReLU's own comparator) and 0 for the
   others; the layer below is then treated like step 5. Every dense layer of the MLP is trained, top down, on the
   codes as they were at the start of the step.
7. **Flip budget and stochastic choice**: per layer and output unit (column) and step, ``flips`` (hidden layers) or
   ``output_flips`` (output layer) moves are expected, times ``decay ** (epoch - 1)``; the fractional part becomes
   one extra move with that probability (a 16-bit integer draw per column). A column's moves are drawn with
   probability proportional to their score among its ``pool x budget`` best-scored weights (integer cumulative
   sums and integer draws from the seeded ``np.random.Generator``), and only weights with score >= ``min_votes``
   qualify. The per-column budget keeps a step from moving one output unit by more than a few levels: many flips in
   the same column (all correlated by the batch's errors) overshoot and oscillate.
8. **Writes**: only the moved weights are requested (``WriteRequest.updates``, sparse). With ``binary=True`` a model
   holding zero codes (e.g. a fresh ternary model) gets them all set once, on the first step, to the sign of their
   vote (a seeded coin when the vote is 0): a one-off binarisation outside the flip budget; the hidden thresholds
   are derived again on the next batch (the binarised codes give other pre-activations). Stuck cells may keep a
   code the trainer never requests (e.g. 0 in binary mode).

**Biases** stay as the chip holds them (float registers, untouched: zero for a fresh ``model_from_spec`` model);
they are read back only inside the boundary conversion of step 2. **Scales** are never changed.

The float operations left are the boundary conversion of step 2 (the chip's analog outputs are floats) and the
schedule constants of step 7 (``flips * decay ** (epoch - 1)`` turned into an integer probability threshold once per
step, from hyper-parameters only). Everything from the integer arrays on is done by :func:`_integer_step` (int8,
int16, int32, int64 and bool arrays only).

Auxiliary memory (declared in :meth:`BitFlipTrainer.aux_memory`): one layer's vote counters at a time (declared as
int16 when ``batch x max level x max |d|`` fits, else int32; numpy computes them in int32), the batch's integer inputs
and activations (int8), integer pre-activations (int32), desired directions (int8), the drawn candidates and the
per-layer thresholds. Each step counts its aux traffic (every buffer written once and read once) and its integer
operations as ``neuron_updates`` (vote MACs over the samples with an error, the propagation through the codes, the
margins, the per-weight move and selection work). Reading the held codes (``view.codes``) is not counted, as for the
other trainers.

Tuned on MNIST 8,000/2,000, 784-256-10, rram_hfo2 (``benchmarks/bench_bitflip.py``): the budgets are per step, so
batch 256 reaches the accuracy of batch 64 or 128 (93-94 %) with about half the writes of batch 128;
``violators="top"`` beat ``"all"`` at batch 128 (94.3 vs 93.3 %) and tied at 256; binary hidden activations
(``act_levels=1``, threshold at the 0.9 quantile) were as good as 3 or 15 levels with a matching margin and are
the cheapest (votes are popcounts); re-deriving the thresholds every epoch (``recalibrate``) cost about a point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..chip.contract import LayerTrace
from ..nn.quantize import max_code
from .base import Batch, Trainer, TrainingError, TrainingView, WriteRequest, register
from .params import flag, one_of, real, whole

PROB_ONE = 65536  # fractional budgets are realised with 16-bit integer draws
CALIBRATION_QUANTILE_SCALE = 1000  # act_quantile is used as an integer per-mille


# ------------------------------------------------------------------------------------------- integer training path
def _integer_threshold(a: np.ndarray, permille: int, levels: int) -> int:
    """Per-layer integer activation step ``T``: the ``permille``/1000 order statistic of the positive integer
    pre-activations, divided by the number of activation levels (at least 1)."""
    pos = a[a > 0]
    if pos.size == 0:
        return 1
    k = (pos.size - 1) * permille // CALIBRATION_QUANTILE_SCALE
    q = int(np.partition(pos, k)[k])
    return max(1, q // levels)


def _integer_activations(a: np.ndarray, step: int, levels: int) -> np.ndarray:
    """Hidden integer activations ``clip(a // step, 0, levels)`` (int8; ReLU included)."""
    return np.clip(a // np.int32(step), 0, levels).astype(np.int8)


def _desired_outputs(z: np.ndarray, y: np.ndarray, margin: int, violators: str) -> np.ndarray:
    """Desired direction of every output unit for every sample (int8; +k up, -1 down, 0 fine) from the integer
    logits ``z`` (int32) with an integer ``margin``."""
    n, classes = z.shape
    b = np.arange(n)
    zy = z[b, y]
    others = z.copy()
    others[b, y] = np.iinfo(np.int32).min
    top = others.max(axis=1)
    dtype = np.int8 if classes <= 128 else np.int16
    d = np.zeros(z.shape, dtype=dtype)
    if violators == "all":
        d[others > (zy - margin)[:, None]] = -1
        d[b, y] = -d.sum(axis=1, dtype=np.int32).astype(dtype)
    else:
        bad = top > zy - margin
        d[b[bad], others.argmax(axis=1)[bad]] = -1
        d[b[bad], y[bad]] = 1
    return d


def _propagate(d: np.ndarray, w: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Desired signs of the hidden units below a layer: ``sign(d @ w.T)`` (integer votes of the layer's outputs
    through its codes), zero for units that are off on the chip (int8)."""
    e = d.astype(np.int32) @ w.T.astype(np.int32)
    return (np.sign(e) * active).astype(np.int8)


def _votes(x: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, int]:
    """``c = x.T @ d`` over the samples with some non-zero desired direction (int32), and how many there were."""
    rows = np.flatnonzero(np.any(d != 0, axis=1))
    # integer products summed in float64 through BLAS: exact (|x| <= 2**7, |d| <= 1, a sum of at most 2**26 such
    # terms stays far below 2**53) and ~50x faster than numpy's integer matmul, which has no BLAS
    if rows.size > 2 ** 26:
        return x[rows].T.astype(np.int64) @ d[rows].astype(np.int64), int(rows.size)
    votes = x[rows].T.astype(np.float64) @ d[rows].astype(np.float64)
    return votes.astype(np.int32), int(rows.size)


def _erroneous_counts(x: np.ndarray, d: np.ndarray, w: np.ndarray, top: int, binary: bool
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Core integer update of one layer.

    Parameters
    ----------
    x : int8 (batch, fan_in)
        Integer inputs of the layer.
    d : int8 (batch, fan_out)
        Desired direction of each output unit for each sample (0: leave it).
    w : integer (fan_in, fan_out)
        Codes the chip holds.
    top : int
        Largest code magnitude (1 for ternary).
    binary : bool
        Flip (NOT) instead of stepping.

    Returns
    -------
    score : int32 (fan_in, fan_out)
        For a weight whose move exists, ``|c|`` with ``c = x.T @ d``: for a non-zero weight opposing ``sign(c)``
        this is its erroneous contributions minus its helpful ones (level-weighted); 0 when it has no move.
    new : int8 (fan_in, fan_out)
        The code each weight would move to.
    votes : int32 (fan_in, fan_out)
        ``c`` itself.
    rows : int
        Samples that voted (those with some error).
    """
    c, rows = _votes(x, d)
    s = np.sign(c).astype(np.int8)
    w8 = w.astype(np.int8) if top <= 127 else w.astype(np.int16)
    if binary:
        new = -w8
        movable = (w8 == -s) & (s != 0)
    else:
        new = np.clip(w8 + s, -top, top).astype(w8.dtype)
        movable = new != w8
    score = np.where(movable, np.abs(c), np.int32(0)).astype(np.int32)
    return score, new, c, rows


def _select(rng: np.random.Generator, score: np.ndarray, threshold: int, whole: int, pool: int,
            min_votes: int) -> np.ndarray:
    """Flat indices of the weights to move: per column ``whole`` moves plus one with probability
    ``threshold / 65536``, drawn proportionally to score among the column's ``pool x budget`` best-scored weights
    with score >= ``min_votes`` (integer draws only)."""
    n_in, n_out = score.shape
    kcol = whole + (rng.integers(0, PROB_ONE, size=n_out, dtype=np.int32) < threshold).astype(np.int32)
    k = int(kcol.max()) if n_out else 0
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    size = min(n_in, pool * k)
    if size < n_in:
        rows = np.argpartition(-score, size - 1, axis=0)[:size]
    else:
        rows = np.broadcast_to(np.arange(n_in, dtype=np.int64)[:, None], (n_in, n_out))
    s = np.take_along_axis(score, rows, axis=0).astype(np.int64)
    s[s < min_votes] = 0
    cs = np.cumsum(s, axis=0)
    total = cs[-1]
    draws = rng.integers(0, np.maximum(total, 1)[None, :], size=(k, n_out), dtype=np.int64)
    pick = np.minimum((cs[:, None, :] <= draws[None, :, :]).sum(axis=0), size - 1)
    ok = (total > 0)[None, :] & (np.take_along_axis(s, pick, axis=0) > 0) & (np.arange(k)[:, None] < kcol[None, :])
    cols = np.broadcast_to(np.arange(n_out, dtype=np.int64)[None, :], (k, n_out))
    chosen = np.take_along_axis(rows, pick, axis=0)[ok].astype(np.int64) * n_out + cols[ok]
    return np.unique(chosen)


@dataclass
class _StepStats:
    neuron_updates: int = 0
    counter_bytes: int = 0  # vote counters written (and read once by the selection)


def _integer_step(xs: list[np.ndarray], acts: list[np.ndarray], y: np.ndarray, codes: list[np.ndarray],
                  tops: list[int], rng: np.random.Generator, *, margin: int, violators: str, binary: bool,
                  budgets: list[tuple[int, int]], pool: int, min_votes: int, binarise: bool,
                  record: list | None = None, remaining: list[np.ndarray] | None = None, limit: int = 1,
                  wear_weight: int = 0) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], _StepStats]:
    """The integer training path of one step: layer k's integer inputs ``xs[k]``, integer pre-activations
    ``acts[k]`` (the last are the integer logits), labels, held codes; returns ``{k: (flat indices, new codes)}``.

    ``budgets[k]`` is ``(whole moves per column, 16-bit probability of one more)``. When ``record`` is a list, every
    intermediate array is appended to it as ``(name, array)`` (the tests check their dtypes).
    """
    def keep(name: str, arr: Any) -> Any:
        if record is not None:
            record.append((name, arr))
        return arr

    stats = _StepStats()
    n = len(y)
    d = keep("desired_outputs", _desired_outputs(acts[-1], y, margin, violators))
    stats.neuron_updates += d.size
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k in range(len(codes) - 1, -1, -1):
        w = codes[k]
        score, new, c, rows = _erroneous_counts(xs[k], d, w, tops[k], binary)
        keep(f"votes[{k}]", c), keep(f"score[{k}]", score), keep(f"new[{k}]", new)
        stats.neuron_updates += rows * w.size + 2 * w.size
        stats.counter_bytes += w.size * (2 if int(np.abs(c).max(initial=0)) <= np.iinfo(np.int16).max else 4)
        if k > 0:
            active = keep(f"active[{k - 1}]", acts[k - 1] > 0)
            d_below = keep(f"desired_hidden[{k - 1}]", _propagate(d, w, active))
            stats.neuron_updates += n * w.size
        if remaining is not None and wear_weight:
            # endurance-aware: an integer vote weighed by (writes left / limit) ** wear_weight, in integers
            left = np.minimum(remaining[k], limit).astype(np.int64)
            score = (score.astype(np.int64) * left ** wear_weight) // (limit ** wear_weight)
            keep(f"wear_score[{k}]", score)
        whole, threshold = budgets[k]
        idx = keep(f"chosen[{k}]", _select(rng, score, threshold, whole, pool, min_votes))
        flat_new = new.reshape(-1)
        if binary and binarise:
            # one-off binarisation of zero codes: sign of the vote, a coin when the vote is 0
            zeros = np.flatnonzero(w.reshape(-1) == 0)
            if zeros.size:
                coin = (rng.integers(0, 2, size=zeros.size, dtype=np.int8) * 2 - 1).astype(np.int8)
                vote = np.sign(c.reshape(-1)[zeros]).astype(np.int8)
                flat_new = flat_new.copy()
                flat_new[zeros] = np.where(vote != 0, vote, coin)
                idx = np.union1d(idx, zeros).astype(np.int64)
        stats.neuron_updates += w.size
        if idx.size:
            out[k] = (keep(f"indices[{k}]", idx), keep(f"codes[{k}]", flat_new[idx].astype(np.int64)))
        if k > 0:
            d = d_below
    return out, stats


# ------------------------------------------------------------------------------------------------------ trainer
@dataclass
class _BitFlipState:
    rng: np.random.Generator
    layers: list[int]  # trained (dense) analog layers, input to output
    thresholds: list[int] = field(default_factory=list)  # integer activation step T of each hidden layer
    epoch: int = 0  # epoch of the last step (recalibration)
    binarised: bool = False


@register
class BitFlipTrainer(Trainer):
    """Gradient-free bit-flip training with integer arithmetic only (Di Castro et al., 2024)."""

    name = "bitflip"
    summary = "gradient-free: integer counts of erroneous contributions, stochastic flips under a per-column budget"
    default_batch_size = 256
    hyper_parameters = {
        "flips": real(2.0, "expected weight moves per hidden unit (column of a hidden layer) and step, before "
                      "decay (0 freezes the hidden layers)", lo=0),
        "output_flips": real(2.0, "expected weight moves per output unit (column of the output layer) and step, "
                             "before decay", lo=0, lo_open=True),
        "decay": real(0.8, "budgets shrink by this factor every epoch: fewer, surer flips as training settles",
                      lo=0, hi=1, lo_open=True),
        "margin": whole(16, "integer margin on the integer logits: a wrong class within margin of the true class "
                        "counts as an error; the logits' unit is one integer activation level times one code step, "
                        "so a good margin grows with act_levels", lo=0),
        "violators": one_of("top", "push down every wrong class within the margin (the true class up as many "
                            "times), or only the strongest", "all", "top"),
        "wear_weight": whole(0, "endurance-aware choice (0: off): each weight's integer vote is weighed by (writes "
                             "its cells have left / the limit) ** wear_weight in integers, the limit being the write "
                             "budget or the median endurance; a weight with none left is never drawn, and among "
                             "equal votes the less-worn weights are flipped", lo=0, hi=2),
        "act_levels": whole(1, "integer levels of hidden activations above 0 (1: binary hidden activations, on at "
                            "the threshold T; at most 127: int8 activations)", lo=1, hi=127),
        "act_quantile": real(0.9, "quantile of a batch's positive hidden pre-activations that sets the integer "
                             "threshold T (used as an integer per-mille)", lo=0, hi=1, lo_open=True, hi_open=True),
        "input_levels": whole(15, "integer levels of the network inputs (15: rint(15 x) for x in [0, 1]; at most "
                              "127: int8 inputs)", lo=1, hi=127),
        "pool": whole(4, "a column's moves are drawn among its pool x budget best-scored weights", lo=1),
        "min_votes": whole(1, "smallest score (net erroneous contributions) for which a weight may move", lo=1),
        "binary": flag(False, "keep codes in {-1, +1} (1-bit weights, moves are NOT); otherwise ternary (or k-bit) "
                       "one-level steps"),
        "recalibrate": flag(False, "re-derive the hidden thresholds on the first batch of every epoch (else only "
                            "on the first batch)"),
    }

    def setup(self) -> None:
        self._permille = max(1, min(CALIBRATION_QUANTILE_SCALE - 1,
                                    int(round(self.act_quantile * CALIBRATION_QUANTILE_SCALE))))

    # ---------------------------------------------------------------------------------------------- the model
    def _trained_layers(self, view: TrainingView) -> list[int]:
        model = view.model
        analog = view.analog_layers()
        for i, layer in enumerate(model.layers):
            if layer.kind == "dense":
                continue
            if layer.analog or layer.kind != "flatten":
                raise TrainingError(f"trainer 'bitflip' trains dense MLPs only: layer {i} is {layer.kind}")
        for i in analog[:-1]:
            if model.layers[i].activation != "relu":
                raise TrainingError(f"trainer 'bitflip' needs ReLU hidden layers: layer {i} has activation "
                                    f"{model.layers[i].activation!r}")
        return list(analog)

    def aux_memory(self, view: TrainingView, batch_size: int) -> dict[str, int]:
        layers = self._trained_layers(view)
        model = view.model
        fan_in = [model.layers[i].fan_in for i in layers]
        fan_out = [model.layers[i].fan_out for i in layers]
        classes = fan_out[-1]
        top_level = max(self.input_levels, self.act_levels)
        d_max = classes - 1 if self.violators == "all" else 1
        counter = 2 if batch_size * top_level * max(d_max, 1) <= np.iinfo(np.int16).max else 4
        k_max = int(np.ceil(max(self.flips, self.output_flips)))
        return {
            # one layer's vote counters at a time (the layers are treated one after another)
            "vote_counters": max(a * b for a, b in zip(fan_in, fan_out)) * counter,
            # integer inputs of every layer (int8) and integer pre-activations (int32)
            "integer_activations": batch_size * sum(fan_in),
            "integer_preactivations": batch_size * sum(fan_out) * 4,
            # desired directions of two adjacent layers (int8)
            "desired_directions": batch_size * 2 * max(fan_out),
            # per column: pool x budget candidates (int32 row, int32 score)
            "flip_candidates": self.pool * max(k_max, 1) * max(fan_out) * 8,
            "thresholds": max(len(layers) - 1, 1) * 4,
        }

    def init(self, view: TrainingView, x_train: np.ndarray, y_train: np.ndarray, seed: int) -> _BitFlipState:
        return _BitFlipState(rng=np.random.default_rng(seed), layers=self._trained_layers(view))

    # ------------------------------------------------------------------------------------------------- a step
    def _integerise(self, view: TrainingView, state: _BitFlipState, traces: list[LayerTrace], calibrate: bool
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Boundary conversion of the chip's analog forward: integer inputs and pre-activations of every layer
        (the only float arithmetic of a step), with the hidden thresholds re-derived when ``calibrate``."""
        lo, hi = view.model.input_range
        rows = traces[state.layers[0]].mvm_inputs
        xs = [np.clip(np.rint((rows - lo) * (self.input_levels / (hi - lo))), 0, self.input_levels).astype(np.int8)]
        unit = (hi - lo) / self.input_levels
        acts = []
        if calibrate:
            state.thresholds = []
        for k, i in enumerate(state.layers):
            step = view.scale(i) * unit
            pre = traces[i].pre_activation
            a = np.rint(np.clip(pre / step, -2.0 ** 30, 2.0 ** 30)).astype(np.int32)
            acts.append(a)
            if k == len(state.layers) - 1:
                break
            if calibrate:
                state.thresholds.append(_integer_threshold(a, self._permille, self.act_levels))
            t = state.thresholds[k]
            xs.append(_integer_activations(a, t, self.act_levels))
            unit = step * t
        return xs, acts

    def _budgets(self, state: _BitFlipState, epoch: int) -> list[tuple[int, int]]:
        factor = self.decay ** max(epoch - 1, 0)
        out = []
        for k in range(len(state.layers)):
            rate = (self.output_flips if k == len(state.layers) - 1 else self.flips) * factor
            whole = int(rate)
            out.append((whole, int(round((rate - whole) * PROB_ONE))))
        return out

    def step(self, batch: Batch, state: _BitFlipState, view: TrainingView) -> tuple[WriteRequest, _BitFlipState]:
        model = view.model
        _, traces = view.trace(batch.x)
        calibrate = (not state.thresholds and len(state.layers) > 1) or (self.recalibrate
                                                                          and batch.epoch != state.epoch)
        xs, acts = self._integerise(view, state, traces, calibrate)
        state.epoch = batch.epoch
        codes = [view.codes(i) for i in state.layers]
        tops = [max_code(model.layers[i].weight_bits) for i in state.layers]
        updates, stats = _integer_step(
            xs, acts, np.asarray(batch.y).astype(np.int64), codes, tops, state.rng, margin=self.margin,
            violators=self.violators, binary=self.binary, budgets=self._budgets(state, batch.epoch), pool=self.pool,
            min_votes=self.min_votes, binarise=self.binary and not state.binarised,
            remaining=[view.remaining_writes(i) for i in state.layers] if self.wear_weight else None,
            limit=view.write_limit, wear_weight=self.wear_weight)
        if self.binary and not state.binarised:
            # the binarised codes give other pre-activations: derive the thresholds again on the next batch
            state.thresholds = []
            state.binarised = True
        request = WriteRequest()
        for k, (idx, new) in updates.items():
            request.updates[state.layers[k]] = (idx, new)
        # aux traffic: integer inputs and pre-activations written once and read once (votes, propagation), the
        # desired directions written and read once per layer, the vote counters written and read once each
        n = len(batch.y)
        act_bytes = sum(x.size for x in xs) + sum(a.size for a in acts) * 4
        dir_bytes = n * sum(model.layers[i].fan_out for i in state.layers)
        view.count(aux_bytes_written=act_bytes + dir_bytes + stats.counter_bytes,
                   aux_bytes_read=act_bytes + dir_bytes + stats.counter_bytes,
                   neuron_updates=stats.neuron_updates + sum(a.size for a in acts))
        return request, state
