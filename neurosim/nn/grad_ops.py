"""Forward-with-cache and backward of the digital operations, shared by host training and on-chip trainers."""

from __future__ import annotations

import numpy as np


def col2im(dcols: np.ndarray, x_shape: tuple, k: int, s: int, pad: int) -> np.ndarray:
    """Adjoint of :func:`~neurosim.nn.im2col.im2col`: sum (N, Ho, Wo, k*k*C) receptive-field gradients back onto
    (N, H, W, C)."""
    n, h, w, c = x_shape
    ho, wo = dcols.shape[1:3]
    d = dcols.reshape(n, ho, wo, k, k, c)
    gx = np.zeros((n, h + 2 * pad, w + 2 * pad, c), dtype=dcols.dtype)
    for i in range(k):  # within one kernel offset the strided positions are distinct, so += is exact
        for j in range(k):
            gx[:, i: i + s * (ho - 1) + 1: s, j: j + s * (wo - 1) + 1: s] += d[:, :, :, i, j]
    return gx[:, pad: pad + h, pad: pad + w]


def maxpool_forward(x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping max pooling of NHWC ``x``; returns the output and the index of each window's (first)
    maximum, which :func:`maxpool_backward` needs."""
    n, h, wd, c = x.shape
    hc, wc = h // size, wd // size
    xr = x[:, : hc * size, : wc * size].reshape(n, hc, size, wc, size, c).transpose(0, 1, 3, 5, 2, 4)
    xr = xr.reshape(n, hc, wc, c, size * size)
    idx = xr.argmax(axis=-1)[..., None]  # the gradient goes to the first maximum of each window
    return np.take_along_axis(xr, idx, axis=-1)[..., 0], idx


def maxpool_backward(dout: np.ndarray, idx: np.ndarray, x_shape: tuple, size: int) -> np.ndarray:
    """Gradient of :func:`maxpool_forward` with respect to its input."""
    n, h, wd, c = x_shape
    hc, wc = h // size, wd // size
    g = np.zeros((n, hc, wc, c, size * size), dtype=dout.dtype)
    np.put_along_axis(g, idx, dout[..., None], axis=-1)
    g = g.reshape(n, hc, wc, c, size, size).transpose(0, 1, 4, 2, 5, 3).reshape(n, hc * size, wc * size, c)
    if (hc * size, wc * size) != (h, wd):
        full = np.zeros(x_shape, dtype=dout.dtype)
        full[:, : hc * size, : wc * size] = g
        g = full
    return g


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer labels ``y`` and its gradient with respect to ``logits``."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -float(logp[np.arange(n), y].astype(np.float64).mean())
    grad = np.exp(logp)
    grad[np.arange(n), y] -= 1
    return loss, grad / n
