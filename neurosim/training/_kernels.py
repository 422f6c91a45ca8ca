"""numba kernels of the trainers (private); numpy twins in ``_twins.py``.

``adam_update``: sgd's Adam step, one pass over a layer instead of a dozen numpy passes and temporaries.

The coordinate-descent kernels:
Both evaluate candidate weight changes one after another on cached pre-activations and keep a change only when the
mini-batch's summed cross-entropy drops by more than ``tol``; accepted changes update the caches in place, so
later candidates see them. They return the number of accepted changes; ``accepted[k]`` marks candidate k.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _logsumexp_row(z, b):
    m = z[b, 0]
    for k in range(1, z.shape[1]):
        if z[b, k] > m:
            m = z[b, k]
    s = 0.0
    for k in range(z.shape[1]):
        s += np.exp(z[b, k] - m)
    return m + np.log(s)


@nb.njit(cache=True, nogil=True)
def coordinate_last_layer(h, z, lse, y, w, scale, cand_i, cand_j, cand_v, tol, accepted):
    """Output layer ``z = scale * h @ w + b``: changing ``w[i, j]`` by ``d`` shifts logit column j by
    ``scale * d * h[:, i]``; the loss change costs O(batch) per candidate."""
    n_acc = 0
    batch = h.shape[0]
    for k in range(cand_i.size):
        i, j, v = cand_i[k], cand_j[k], cand_v[k]
        d = scale * (v - w[i, j])
        delta = 0.0
        for b in range(batch):
            if h[b, i] == 0.0:
                continue
            zj_new = z[b, j] + d * h[b, i]
            p_old = np.exp(z[b, j] - lse[b])
            if p_old > 0.999:
                # a saturated softmax: the O(1) update would cancel catastrophically, so sum the row again
                old = z[b, j]
                z[b, j] = zj_new
                lse_new = _logsumexp_row(z, b)
                z[b, j] = old
            else:
                lse_new = lse[b] + np.log1p(np.exp(zj_new - lse[b]) - p_old)
            delta += lse_new - lse[b]
            if y[b] == j:
                delta -= d * h[b, i]
        if delta < -tol:
            accepted[k] = 1
            n_acc += 1
            for b in range(batch):
                if h[b, i] != 0.0:
                    z[b, j] += d * h[b, i]
                    lse[b] = _logsumexp_row(z, b)
            w[i, j] = v
        else:
            accepted[k] = 0
    return n_acc


@nb.njit(cache=True, nogil=True)
def coordinate_hidden_layer(x, a, z, lse, y, w, scale, w_out, scale_out, cand_i, cand_j, cand_v, tol, accepted,
                            z_new):
    """Hidden ReLU layer feeding the output layer: changing ``w[i, j]`` shifts pre-activation ``a[:, j]`` by
    ``scale * d * x[:, i]``; its ReLU output change moves every logit by ``scale_out * dh * w_out[j, :]``; the loss
    change costs O(batch x classes) per candidate. ``z_new`` is a (batch, classes) work buffer."""
    n_acc = 0
    batch, classes = z.shape
    for k in range(cand_i.size):
        i, j, v = cand_i[k], cand_j[k], cand_v[k]
        d = scale * (v - w[i, j])
        delta = 0.0
        for b in range(batch):
            if x[b, i] == 0.0:
                continue
            a_new = a[b, j] + d * x[b, i]
            dh = max(a_new, 0.0) - max(a[b, j], 0.0)
            if dh == 0.0:
                continue
            for c in range(classes):
                z_new[b, c] = z[b, c] + scale_out * dh * w_out[j, c]
            lse_new = _logsumexp_row(z_new, b)
            delta += (lse_new - z_new[b, y[b]]) - (lse[b] - z[b, y[b]])
        if delta < -tol:
            accepted[k] = 1
            n_acc += 1
            for b in range(batch):
                if x[b, i] == 0.0:
                    continue
                a_new = a[b, j] + d * x[b, i]
                dh = max(a_new, 0.0) - max(a[b, j], 0.0)
                a[b, j] = a_new
                if dh != 0.0:
                    for c in range(classes):
                        z[b, c] += scale_out * dh * w_out[j, c]
                    lse[b] = _logsumexp_row(z, b)
            w[i, j] = v
        else:
            accepted[k] = 0
    return n_acc


@nb.njit(cache=True, nogil=True)
def hidden_gradients(x, a, dz, w_out, scale_out, cand_i, cand_j, out):
    """Loss gradient of hidden weights ``(cand_i[k], cand_j[k])`` without a (batch, hidden) error buffer:
    ``sum_b x[b, i] * [a[b, j] > 0] * (dz[b, :] . w_out[j, :]) * scale_out`` (times the layer scale by the
    caller)."""
    batch, classes = dz.shape
    for k in range(cand_i.size):
        i, j = cand_i[k], cand_j[k]
        g = 0.0
        for b in range(batch):
            if x[b, i] == 0.0 or a[b, j] <= 0.0:
                continue
            e = 0.0
            for c in range(classes):
                e += dz[b, c] * w_out[j, c]
            g += x[b, i] * e
        out[k] = g * scale_out


@nb.njit(cache=True, nogil=True, error_model="numpy")
def adam_update(param, grad, m, v, b1, one_minus_b1, b2, one_minus_b2, c1, c2, lr, eps):
    """Adam, in place on ``param``, ``m`` and ``v`` (flat, one dtype); ``grad`` may be wider (it is rounded to the
    parameters' dtype first). The scalars come in the parameters' dtype and every operation is done in it, one
    rounding per operation in numpy's order, so the result is numpy's bit for bit:
    ``m = m b1 + (1 - b1) g``, ``v = v b2 + ((1 - b2) g) g``, ``p -= (lr (m / c1)) / (sqrt(v / c2) + eps)``."""
    for i in range(param.size):
        g = param.dtype.type(grad[i])
        mi = m[i] * b1
        mi = mi + one_minus_b1 * g
        m[i] = mi
        vi = v[i] * b2
        vi = vi + (one_minus_b2 * g) * g
        v[i] = vi
        param[i] = param[i] - (lr * (mi / c1)) / (np.sqrt(vi / c2) + eps)
