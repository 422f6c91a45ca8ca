"""im2col for 2D convolution on NHWC arrays: every output pixel's receptive field as one row of a matrix."""

from __future__ import annotations

import numpy as np


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Unfold ``x`` (N, H, W, C) into (N, Ho, Wo, kernel * kernel * C), ordered (kh, kw, c) along the last axis.

    A convolution with weights of shape (kernel, kernel, C, C_out) reshaped to (kernel * kernel * C, C_out) is then
    a matrix product, which is how a crossbar computes it (one output pixel per MVM).
    """
    n, h, w, c = x.shape
    if padding:
        x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    ho = conv_output_size(h, kernel, stride, padding)
    wo = conv_output_size(w, kernel, stride, padding)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(1, 2))  # N, H', W', C, k, k
    windows = windows[:, : (ho - 1) * stride + 1: stride, : (wo - 1) * stride + 1: stride]
    return np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n, ho, wo, kernel * kernel * c)
