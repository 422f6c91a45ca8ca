"""Slow numpy twins of ``_kernels.py`` (used by the tests): full recomputation of the loss per candidate."""

from __future__ import annotations

import numpy as np


def _loss(z, y):
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return float((lse - z[np.arange(len(y)), y]).sum()), lse


def coordinate_last_layer_numpy(h, z, lse, y, w, scale, cand_i, cand_j, cand_v, tol, accepted):
    n_acc = 0
    for k in range(len(cand_i)):
        i, j, v = cand_i[k], cand_j[k], cand_v[k]
        trial = z.copy()
        trial[:, j] += scale * (v - w[i, j]) * h[:, i]
        before, _ = _loss(z, y)
        after, new_lse = _loss(trial, y)
        if after - before < -tol:
            accepted[k], n_acc = 1, n_acc + 1
            z[...] = trial
            lse[...] = new_lse
            w[i, j] = v
        else:
            accepted[k] = 0
    return n_acc


def coordinate_hidden_layer_numpy(x, a, z, lse, y, w, scale, w_out, scale_out, cand_i, cand_j, cand_v, tol,
                                  accepted, z_new):
    n_acc = 0
    for k in range(len(cand_i)):
        i, j, v = cand_i[k], cand_j[k], cand_v[k]
        a_new = a[:, j] + scale * (v - w[i, j]) * x[:, i]
        dh = np.maximum(a_new, 0.0) - np.maximum(a[:, j], 0.0)
        trial = z + scale_out * dh[:, None] * w_out[j][None, :]
        before, _ = _loss(z, y)
        after, new_lse = _loss(trial, y)
        if after - before < -tol:
            accepted[k], n_acc = 1, n_acc + 1
            a[:, j] = a_new
            z[...] = trial
            lse[...] = new_lse
            w[i, j] = v
        else:
            accepted[k] = 0
    return n_acc


def hidden_gradients_numpy(x, a, dz, w_out, scale_out, cand_i, cand_j, out):
    da = (dz @ w_out.T) * (a > 0) * scale_out
    out[:] = np.einsum("bk,bk->k", x[:, cand_i], da[:, cand_j])


def adam_update_numpy(param, grad, m, v, b1, one_minus_b1, b2, one_minus_b2, c1, c2, lr, eps):
    g = grad.astype(param.dtype)
    m *= b1
    m += one_minus_b1 * g
    v *= b2
    v += one_minus_b2 * g * g
    param[...] = param - lr * (m / c1) / (np.sqrt(v / c2) + eps)
