"""Low-rank training: streaming Kronecker-sum approximation of the gradient (Gural et al., 2020; ALGORITHMS.md
section 2).

Instead of writing the weights after every sample, each analog layer accumulates the sum of its per-sample
gradient outer products ``sum_k dz_k a_k^T`` in a rank-``r`` factorisation ``Q_L diag(c) Q_R^T`` held in
auxiliary memory (``Q_L``: n x q, n = fan_out, the output errors ``dz``; ``Q_R``: m x q, m = fan_in, the MVM
inputs ``a``; q = r + 1; the weight-gradient in the chip's (fan_in, fan_out) layout is its transpose
``Q_R diag(c) Q_L^T``). Dense layers give one (dz, a) pair per sample, convolutions one per output pixel (the
DAC-quantised im2col row the crossbar saw and that pixel's error). Each pair is folded in as follows:

1. Gram-Schmidt of ``dz`` against ``Q_L[:, :r]`` (twice, "twice is enough", so ``Q_L`` stays orthonormal to
   rounding): coefficients ``cL`` and residual; ``cL_q = |residual|``, ``Q_L[:, r] = residual / cL_q``. Same for
   ``a`` with ``Q_R``. (A residual of exactly zero, possible only while ``c`` is still zero, takes a unit vector
   orthogonal to the span as its column, with coefficient 0.)
2. Conditioning guard: the pair is skipped when ``c[0] > kappa_th * cL_q * cR_q``.
3. Core matrix ``C = outer(cL, cR) + diag(c, 0)`` (q x q) and its SVD ``C = U S V^T``.
4. ``variant="biased"``: keep the top ``r`` singular triplets (the best rank-r approximation of the exact
   rank-(r+1) sum). ``variant="unbiased"`` (optimal-Kronecker-sum style, Benzing et al. 2019): find the smallest
   0-based index ``m`` with ``(q - 1 - m) * s[m] <= sum(s[m:])``, keep ``s[:m]`` exactly and replace the
   ``k = q - m`` tail triplets by ``k - 1`` triplets of equal weight ``sum(s[m:]) / (k - 1)`` whose vectors are
   ``U_tail diag(signs) Z O`` and ``V_tail diag(signs) Z O``: ``Z`` an orthonormal basis of the complement of
   ``x`` with ``x_i^2 = 1 - s_i (k - 1) / sum(s[m:])``, ``O`` a random orthogonal mix and ``signs`` random
   (seeded), so that the estimate's expectation is the exact sum.
5. ``Q_L <- Q_L U``, ``Q_R <- Q_R V``, ``c <- S[:r]`` (the last columns stay orthonormal work space).

Every ``accumulate`` samples (B; paper: 10 for convolutions, 100 for dense layers) the layer's update
``delta = lr * sqrt(B) * (Q_L diag(c) Q_R^T)^T / B`` (weight units) is quantised to the stored precision in code
units, ``round(delta / scale)``; if the fraction of its non-zero entries exceeds ``rho_min`` the layer requests
``W <- clip(codes - round(delta / scale))`` (sparse: only the changed weights) and the accumulator is reset
(``c = 0``), else it keeps accumulating and is checked again after another B samples.

``apply_pending=True`` (our extension, not in the paper) lets the periphery apply the pending update: the chip
computes with ``scale x codes + left @ right``, the rank-r correction ``-lr Q_R diag(c) Q_L^T`` read from the same
factors (``r (n + m)`` digital MACs per MVM vector, counted by the chip), so every later sample's gradient is taken
at the updated weights, as latent-weight SGD would, while the NVM is written only every B samples. ``lr`` is then
the per-sample step (the written update is ``lr`` times the accumulated sum) and B only sets how often the pending
update is written; ``variant="auto"`` then means ``biased``, because the unbiased reduction's random mixing would be
fed back into the forward pass. At the end of a run :meth:`LowRankTrainer.finish` writes what is still pending,
so the run ends with the whole model in the NVM and no correction left.

Readings chosen where the description is terse:

- **Learning-rate scaling.** The factors hold the *sum* of per-sample gradients (per-sample cross-entropy
  gradients, not divided by the batch). ``lr * sqrt(B)`` multiplies the *mean* over B samples (the usual
  square-root batch scaling), i.e. the written update is ``lr / sqrt(B)`` times the accumulated sum; when an
  update is deferred by ``rho_min`` the sum covers several B-sample chunks and each counts fully.
- **Density** is the fraction of non-zero entries of the quantised update (before clipping at the top code).
- **Guard.** A pair with a side that already lies in the span (its Gram-Schmidt residual is zero to rounding)
  adds no new direction: its fold is exact, so the guard does not apply. (The output layer of a softmax
  classifier with ``r = n - 1`` is such a case: its errors sum to zero.)
- **Layer rank.** A layer uses ``r = min(rank, fan_out - 1, fan_in - 1)`` so that q orthonormal columns exist on
  both sides and the guard's residuals are meaningful (a layer with 10 outputs and rank 4 is unaffected).
- **Zero pairs** (``dz = 0`` or ``a = 0``, e.g. ReLU-masked or background conv pixels) add nothing to the sum and
  are skipped without touching the factors (not counted as guard skips).
- **Batches.** The loop hands the trainer ``default_batch_size`` samples per step; the trainer runs one counted
  forward/backward pass of the batch on the chip (with the weights it holds at the start of the step, as a
  write request is applied only after the step) and then streams the samples' pairs in order. Updates due in
  the middle of a step are composed into the step's one request.
- Biases are float registers updated by plain SGD with each sample's error (``bias_lr``), in aux memory.
- The factors are simulated in float64 and declared as float32 (4 bytes a value), as the hardware would keep them.

Auxiliary memory per layer: ``q (n + m)`` factor values (the r persistent columns plus the work column on each
side), ``r`` singular values, a sample counter; once, a ``3 q^2`` SVD work space (C, U, V of the largest layer);
the biases; and the batch's layer inputs and errors. Digital work, counted as ``neuron_updates``:
``(n + m) q^2 + q^3`` per folded pair (Gram-Schmidt, core SVD, rotation), ``2 r (n + m)`` per skipped pair, ``n m r``
per update formed, ``n`` per bias step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..ledger import FLOAT_BYTES
from ..nn.grad_ops import softmax_cross_entropy
from ..nn.quantize import max_code
from .backprop import layer_errors
from .base import Batch, Trainer, TrainingError, TrainingView, WriteRequest, register
from .params import flag, one_of, real, whole

COUNTER_BYTES = 4  # one int32 sample counter per layer
VARIANTS = ("auto", "biased", "unbiased")
_ZERO = 1e-12  # a Gram-Schmidt residual this small relative to its vector counts as zero


# ---------------------------------------------------------------------------------- streaming Kronecker sum
def _norm(v: np.ndarray) -> float:
    """Euclidean norm of a vector: what ``np.linalg.norm`` computes for one (``sqrt(v.dot(v))``), bit for bit,
    without its dispatch (16,000 folds an epoch call it five times each)."""
    return math.sqrt(v.dot(v))


def _orthogonalize(q: np.ndarray, r: int, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of ``v`` on ``q[:, :r]`` and the residual (classical Gram-Schmidt, done twice)."""
    basis = q[:, :r]
    coef = basis.T @ v
    res = v - basis @ coef
    again = basis.T @ res
    res -= basis @ again
    return coef + again, res


def _complement_vector(q: np.ndarray, r: int) -> np.ndarray:
    """A unit vector orthogonal to ``q[:, :r]`` (needs r < rows): the least-covered standard basis vector,
    orthogonalised."""
    basis = q[:, :r]
    e = np.zeros(q.shape[0])
    e[int(np.argmin(np.einsum("ij,ij->i", basis, basis)))] = 1.0
    _, res = _orthogonalize(q, r, e)
    return res / _norm(res)


def _random_orthogonal(k: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-distributed k x k orthogonal matrix."""
    if k == 1:
        return np.array([[1.0 if rng.random() < 0.5 else -1.0]])
    g, upper = np.linalg.qr(rng.standard_normal((k, k)))
    return g * np.sign(np.diag(upper))


def _householder_complement(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis (k x (k-1)) of the complement of the unit vector ``x``."""
    k = x.size
    w = x.copy()
    w[0] += 1.0 if x[0] >= 0 else -1.0  # H x = -sign(x0) e_0, H = I - 2 w w^T / w^T w
    h = np.eye(k) - 2.0 * np.outer(w, w) / (w @ w)
    return h[:, 1:]


def _ok_split(s: np.ndarray) -> int:
    """Smallest 0-based m with ``(q - 1 - m) * s[m] <= sum(s[m:])`` (always <= q - 2)."""
    q = s.size
    tails = np.cumsum(s[::-1])[::-1]
    for m in range(q - 1):
        if (q - 1 - m) * s[m] <= tails[m] * (1 + 1e-12):
            return m
    return q - 2  # not reached: m = q - 2 always satisfies the condition


def _unbiased_reduce(u: np.ndarray, s: np.ndarray, v: np.ndarray, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal-Kronecker-sum reduction of the SVD ``u diag(s) v^T`` (q terms) to r = q - 1 terms that equal it in
    expectation. Returns (q x q) orthogonal ``u``, ``v`` (first r columns carry the estimate) and r weights."""
    q = s.size
    m = _ok_split(s)
    k = q - m
    tail = s[m:].sum()
    if not tail > 0:  # nothing to spread: truncation is exact
        return u, s[: q - 1], v
    x = np.sqrt(np.clip(1.0 - s[m:] * (k - 1) / tail, 0.0, None))
    x /= _norm(x)
    signs = np.where(rng.random(k) < 0.5, -1.0, 1.0)
    mix = signs[:, None] * (_householder_complement(x) @ _random_orthogonal(k - 1, rng))  # k x (k-1)
    last = (signs * x)[:, None]
    u_new = np.concatenate([u[:, :m], u[:, m:] @ mix, u[:, m:] @ last], axis=1)
    v_new = np.concatenate([v[:, :m], v[:, m:] @ mix, v[:, m:] @ last], axis=1)
    weights = np.concatenate([s[:m], np.full(k - 1, tail / (k - 1))])
    return u_new, weights, v_new


def _fold(ql: np.ndarray, qr: np.ndarray, c: np.ndarray, dz: np.ndarray, a: np.ndarray, kappa_th: float,
          unbiased: bool, rng: np.random.Generator) -> bool:
    """Fold the outer product ``dz a^T`` into ``ql diag(c) qr^T`` in place (steps 1-5 of the module docstring).

    ``ql`` (n x q) and ``qr`` (m x q) have orthonormal columns, ``c`` the r = q - 1 weights in decreasing order.
    Returns False when the conditioning guard skipped the pair.
    """
    r = c.size
    cl, res_l = _orthogonalize(ql, r, dz)
    cr, res_r = _orthogonalize(qr, r, a)
    nl, nr = _norm(res_l), _norm(res_r)
    in_span_l = nl <= _ZERO * _norm(dz)
    in_span_r = nr <= _ZERO * _norm(a)
    # a side already in the span adds no new direction, so the fold is exact and needs no guard
    if not (in_span_l or in_span_r) and c[0] > kappa_th * nl * nr:
        return False
    if in_span_l:
        ql[:, r], nl = _complement_vector(ql, r), 0.0
    else:
        ql[:, r] = res_l / nl
    if in_span_r:
        qr[:, r], nr = _complement_vector(qr, r), 0.0
    else:
        qr[:, r] = res_r / nr
    core = np.outer(np.concatenate([cl, [nl]]), np.concatenate([cr, [nr]]))
    core[np.arange(r), np.arange(r)] += c
    u, s, vt = np.linalg.svd(core)
    v = vt.T
    if unbiased:
        u, weights, v = _unbiased_reduce(u, s, v, rng)
    else:
        weights = s[:r]
    ql[:] = ql @ u
    qr[:] = qr @ v
    c[:] = weights
    return True


def _request_changes(request: WriteRequest, index: int, codes: np.ndarray, old: np.ndarray) -> None:
    """Add the weights of layer ``index`` whose code differs from ``old`` to ``request`` as a sparse update."""
    flat = np.flatnonzero(codes.reshape(-1) != old.reshape(-1))
    if flat.size:
        request.updates[index] = (flat, codes.reshape(-1)[flat])


def _stepped(codes: np.ndarray, step: np.ndarray, bits: int) -> np.ndarray:
    """``codes - step`` clipped to the stored precision."""
    top = max_code(bits)
    return np.clip(codes - step, -top, top).astype(codes.dtype)


# ------------------------------------------------------------------------------------------------ the trainer
@dataclass
class _Layer:
    """One analog layer's accumulator."""

    ql: np.ndarray  # (fan_out, q) orthonormal
    qr: np.ndarray  # (fan_in, q) orthonormal
    c: np.ndarray  # (r,) weights, decreasing
    rng: np.random.Generator
    samples: int = 0  # samples since the last update check
    chunks: int = 0  # B-sample checks since the last reset (statistics)
    pairs: int = 0  # pairs folded in (statistics)
    skipped: int = 0  # pairs skipped by the conditioning guard (statistics)
    updates: int = 0  # update requests made (statistics)
    deferred: int = 0  # checks that found the density below rho_min (statistics)
    norm_sum: float = 0.0  # max_norm: sum and count of the held update's largest entries seen at update checks
    norm_count: int = 0

    @property
    def rank(self) -> int:
        return self.c.size

    def estimate(self) -> np.ndarray:
        """The accumulated sum of outer products ``dz a^T`` as an (fan_out, fan_in) matrix."""
        r = self.rank
        return (self.ql[:, :r] * self.c) @ self.qr[:, :r].T


@dataclass
class _LowRankState:
    layers: dict[int, _Layer] = field(default_factory=dict)


def _layer_rank(rank: int, fan_in: int, fan_out: int) -> int:
    return min(rank, fan_out - 1, fan_in - 1)


@register
class LowRankTrainer(Trainer):
    """Low-rank training with a streaming Kronecker-sum approximation of each layer's gradient (Gural et al.).

    Notes
    -----
    Defaults (``accumulate=10`` rather than the paper's 100 for dense layers, because ternary updates must reach half
    a level) and the ``apply_pending`` settings of the 8-bit online-adaptation study were chosen on the validation
    setting of ``benchmarks/bench_compare.py`` (see its CONFIGS); README's "Few writes" section reports them.
    """

    name = "lowrank"
    summary = "streaming Kronecker-sum rank-r gradient accumulation, a write every `accumulate` samples"
    default_batch_size = 10  # samples per step: the chip's forward/backward pass runs on this many at once
    # Adapting a pre-trained ternary MLP online (784-64-10, rotated MNIST, validation images 7,000-7,999, 3 seeds),
    # lr 0.1 took it from 61.7 % to 39.9 %; lr 0.01 and 0.03 kept it (62.5 %), 0.01 with 4x fewer writes. From
    # scratch (digits, validation split) 0.1 stays best (86.4 % against 80.1 % at 0.03).
    adaptation_defaults = {"lr": 0.01}
    hyper_parameters = {
        "rank": whole(4, "rank r of each layer's accumulator (q = r + 1 columns are kept; paper: 4), capped per "
                      "layer at min(fan_out, fan_in) - 1", lo=1),
        "lr": real(0.1, "learning rate in weight units; the written update is lr * sqrt(accumulate) times the mean "
                   "per-sample gradient over accumulate samples (with apply_pending: lr times their sum)", lo=0,
                   lo_open=True),
        "accumulate": whole(10, "samples B between update checks (paper: 10 for convolutions, 100 for dense "
                            "layers)", lo=1, unit="samples"),
        "rho_min": real(0.01, "an update is written only when more than this fraction of the layer's weights change "
                        "in the quantised update (paper: 0.01); otherwise the layer keeps accumulating", lo=0, hi=1,
                        hi_open=True),
        "kappa_th": real(100.0, "conditioning guard: a pair is skipped when c[0] > kappa_th * cL_q * cR_q "
                         "(paper: 100)", lo=0, lo_open=True),
        "variant": one_of("auto", "rank reduction: keep the top r singular values (biased) or the "
                          "optimal-Kronecker-sum unbiased reduction; auto: unbiased when holding the pending "
                          "update, biased when applying it", *VARIANTS),
        "bias_lr": real(0.003, "step size of the per-sample SGD step of the biases (float, in aux memory)", lo=0),
        "apply_pending": flag(False, "let the periphery apply the pending update as a digital rank-r correction of "
                              "every MVM (our extension): lr is then the per-sample step and accumulate only how "
                              "often it is written; pair it with a guard that does not trip (e.g. kappa_th=1e12), "
                              "since over a long accumulation c[0] grows with the folded samples while the guard "
                              "compares it with one pair's residuals"),
        "max_norm": flag(False, "the reference code's headline variant (Gural et al., 'SKS/Max-Norm'): the held "
                         "update is normalised by the larger of its largest entry and the running mean of that "
                         "largest entry, and stepped by lr x sqrt(samples accumulated) in units of the layer's full "
                         "weight range (max code x scale), so its largest move is about lr x sqrt(B) of the range "
                         "whatever the gradient's size; off: lr x sqrt(B) x the mean per-sample gradient"),
    }

    @property
    def unbiased(self) -> bool:
        """Whether the unbiased reduction is used (``variant="auto"``: unless the pending update is applied)."""
        return self.variant == "unbiased" or (self.variant == "auto" and not self.apply_pending)

    def _multiplier(self) -> float:
        """Weight-unit update per unit of the accumulated gradient sum."""
        if self.apply_pending:
            return self.lr
        return self.lr * np.sqrt(self.accumulate) / self.accumulate

    # ------------------------------------------------------------------------------------------ aux memory
    def _dims(self, view: TrainingView) -> list[tuple[int, int, int, int]]:
        """(layer, n = fan_out, m = fan_in, r) of every analog layer."""
        out = []
        for i in view.analog_layers():
            layer = view.model.layers[i]
            n, m = layer.fan_out, layer.fan_in
            if min(n, m) < 2:
                raise TrainingError(f"trainer 'lowrank' needs analog layers with at least 2 inputs and 2 outputs "
                                    f"(layer {i} has {m} inputs, {n} outputs)")
            out.append((i, n, m, _layer_rank(self.rank, m, n)))
        return out

    def aux_memory(self, view: TrainingView, batch_size: int) -> dict[str, int]:
        dims = self._dims(view)
        shapes = view.model.input_shapes()
        io = 0
        for i, *_ in dims:
            layer = view.model.layers[i]
            io += int(np.prod(shapes[i])) + int(np.prod(layer.output_shape(shapes[i])))
        extra = {"max_norm_statistics": len(dims) * (FLOAT_BYTES + COUNTER_BYTES)} if self.max_norm else {}
        return {
            **extra,
            "lowrank_factors": sum((r + 1) * (n + m) for _, n, m, r in dims) * FLOAT_BYTES,
            "singular_values": sum(r for *_, r in dims) * FLOAT_BYTES,
            "svd_workspace": max(3 * (r + 1) ** 2 for *_, r in dims) * FLOAT_BYTES,
            "sample_counters": len(dims) * COUNTER_BYTES,
            "biases": sum(n for _, n, _, _ in dims) * FLOAT_BYTES,
            # one batch's layer inputs and output errors (conv receptive fields are re-read from the inputs)
            "activations_and_errors": batch_size * io * FLOAT_BYTES,
        }

    # ---------------------------------------------------------------------------------------------- init
    def init(self, view: TrainingView, x_train: np.ndarray, y_train: np.ndarray, seed: int) -> _LowRankState:
        state = _LowRankState()
        dims = self._dims(view)
        rngs = np.random.default_rng(seed).spawn(len(dims))
        for (i, n, m, r), rng in zip(dims, rngs):
            # any orthonormal start will do (c = 0); random avoids sparse errors lying exactly in the span
            ql = np.linalg.qr(rng.standard_normal((n, r + 1)))[0]
            qr = np.linalg.qr(rng.standard_normal((m, r + 1)))[0]
            state.layers[i] = _Layer(ql=ql, qr=qr, c=np.zeros(r), rng=rng)
        return state

    # ---------------------------------------------------------------------------------------------- step
    def step(self, batch: Batch, state: _LowRankState, view: TrainingView) -> tuple[WriteRequest, _LowRankState]:
        logits, traces = view.trace(batch.x)
        _, dlogits = softmax_cross_entropy(logits, batch.y)
        n_samples = logits.shape[0]
        layers = sorted(state.layers)
        pairs = layer_errors(view, traces, dlogits * n_samples, min(layers))  # per-sample loss gradients
        view.count_backward(n_samples, min(layers))
        request = WriteRequest()
        unbiased = self.unbiased
        ops = aux_read = aux_written = 0
        for i in layers:
            st = state.layers[i]
            layer = view.model.layers[i]
            n, m, r = layer.fan_out, layer.fan_in, st.rank
            rows, dz = pairs[i]
            per = rows.shape[0] // n_samples  # pairs per sample: 1 (dense) or output pixels (conv)
            live = (np.abs(dz).max(axis=1) > 0) & (np.abs(rows).max(axis=1) > 0)
            old = codes = None  # the codes the chip holds; this step's codes after any update it requested
            bias = view.bias(i)
            for s in range(n_samples):
                for p in range(s * per, (s + 1) * per):
                    if not live[p]:
                        continue
                    if _fold(st.ql, st.qr, st.c, dz[p].astype(np.float64), rows[p].astype(np.float64),
                             self.kappa_th, unbiased, st.rng):
                        st.pairs += 1
                        ops += (n + m) * (r + 1) ** 2 + (r + 1) ** 3
                        aux_read += ((2 * r + 1) * (n + m) + r) * FLOAT_BYTES
                        aux_written += ((r + 1) * (n + m) + r) * FLOAT_BYTES
                    else:
                        st.skipped += 1
                        ops += 2 * r * (n + m)
                        aux_read += (r * (n + m) + 1) * FLOAT_BYTES
                bias -= self.bias_lr * dz[s * per: (s + 1) * per].sum(axis=0)
                ops += n
                st.samples += 1
                if st.samples >= self.accumulate:
                    if codes is None:
                        old = codes = view.codes(i)
                    updates = st.updates
                    codes, bytes_read, work = self._check(st, codes, view.scale(i), layer.weight_bits)
                    aux_read += bytes_read
                    ops += work
                    if st.updates > updates:  # an update was requested: the accumulator was reset
                        aux_written += r * FLOAT_BYTES
            aux_read += n * FLOAT_BYTES
            aux_written += n * FLOAT_BYTES
            request.biases[i] = bias
            if codes is not None:
                _request_changes(request, i, codes, old)
            if self.apply_pending:
                request.corrections[i] = self._correction(st)
        view.count(neuron_updates=ops, aux_bytes_read=aux_read, aux_bytes_written=aux_written)
        return request, state

    def _correction(self, st: _Layer) -> tuple[np.ndarray, np.ndarray] | None:
        """The pending update as the periphery's correction ``(left, right)``, or None when nothing is pending."""
        if not np.any(st.c):
            return None
        r = st.rank
        return -self._multiplier() * st.qr[:, :r] * st.c, st.ql[:, :r].T.copy()

    def finish(self, state: _LowRankState, view: TrainingView) -> WriteRequest:
        """With ``apply_pending``: write every layer's pending update (whatever rounds to a level, regardless of
        ``rho_min``) and clear the corrections. Holding, the pending sum is a step not yet taken: nothing."""
        request = WriteRequest()
        if not self.apply_pending:
            return request
        for i, st in state.layers.items():
            layer = view.model.layers[i]
            if np.any(st.c):
                old = view.codes(i)
                step, bytes_read, work = self._quantised_step(st, old.shape, view.scale(i), max_code(layer.weight_bits))
                _request_changes(request, i, _stepped(old, step, layer.weight_bits), old)
                view.count(neuron_updates=work, aux_bytes_read=bytes_read)
                st.c[:] = 0.0
            request.corrections[i] = None
        return request

    def _check(self, st: _Layer, codes: np.ndarray, scale: float, bits: int) -> tuple[np.ndarray, int, int]:
        """The B-sample update check of one layer: returns the codes after it, aux bytes read and digital ops."""
        st.samples = 0
        st.chunks += 1
        step, *cost = self._quantised_step(st, codes.shape, scale, max_code(bits))
        if np.count_nonzero(step) <= self.rho_min * step.size:
            st.deferred += 1
            return codes, *cost
        st.c[:] = 0.0
        st.chunks = 0
        st.updates += 1
        return _stepped(codes, step, bits), *cost

    def _quantised_step(self, st: _Layer, shape: tuple[int, ...], scale: float, top: int
                        ) -> tuple[np.ndarray, int, int]:
        """The pending update in code units, rounded to levels (weight-gradient layout, reshaped to ``shape``),
        with the aux bytes read and digital ops of forming it."""
        n, m, r = st.ql.shape[0], st.qr.shape[0], st.rank
        grad = st.estimate().T  # (fan_in, fan_out): the weight-gradient layout
        if self.max_norm and not self.apply_pending:
            peak = float(np.abs(grad).max()) if grad.size else 0.0
            st.norm_sum += peak
            st.norm_count += 1
            norm = max(peak, st.norm_sum / st.norm_count)
            samples = max(st.chunks, 1) * self.accumulate
            step = np.rint(grad * (self.lr * np.sqrt(samples) * top / norm)) if norm > 0 else np.zeros_like(grad)
            return step.reshape(shape), (r * (n + m) + r + 2) * FLOAT_BYTES, n * m * (r + 1)
        step = np.rint(self._multiplier() * grad / scale).reshape(shape)
        return step, (r * (n + m) + r) * FLOAT_BYTES, n * m * r
