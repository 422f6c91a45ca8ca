"""Backward pass of on-chip training: from the chip's forward caches to weight and bias gradients.

The forward pass runs on the chip (noisy, quantised, counted). The backward pass is digital: errors travel down
through ``scale x codes`` the chip holds (plus any digital low-rank correction), and weight gradients are outer
products of the DAC-quantised inputs the crossbars saw with those errors. Its events are counted: the transposed
crossbar reads that carry errors down (priced like forward MVMs, for every analog layer but the first) and one
digital accumulate per gradient term.
"""

from __future__ import annotations

import numpy as np

from ..nn.grad_ops import col2im, maxpool_backward
from .base import TrainingView


def layer_errors(view: TrainingView, caches: list, dlogits: np.ndarray, lowest: int
                 ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per analog layer at or above ``lowest``: the MVM inputs (n_vectors, fan_in) the crossbar saw and the output
    errors (n_vectors, fan_out), errors carried down through the weights the chip computes with."""
    model = view.model
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    dout = dlogits
    for i in range(len(model.layers) - 1, lowest - 1, -1):
        layer, cache = model.layers[i], caches[i]
        if layer.analog:
            rows, mask, x_shape = cache[:3]
            if mask is not None:
                dout = dout * mask.reshape(dout.shape)
            dz = dout.reshape(-1, layer.fan_out)
            out[i] = (rows, dz)
            if i == lowest:
                break
            drows = dz @ view.weights(i).T
            dout = drows.reshape(x_shape) if layer.kind == "dense" else col2im(
                drows.reshape(x_shape[0], *layer.output_shape(tuple(x_shape[1:]))[:2], -1), x_shape, layer.kernel,
                layer.stride, layer.padding)
        elif layer.kind == "maxpool2d":
            idx, x_shape = cache
            dout = maxpool_backward(dout, idx, x_shape, layer.size)
        else:
            dout = dout.reshape(cache)
    return out


def backward(view: TrainingView, caches: list, dlogits: np.ndarray, layers: list[int] | None = None,
             count: bool = True) -> dict[int, dict[str, np.ndarray]]:
    """Gradients ``{"w": (fan_in, fan_out), "b": (fan_out,)}`` of the analog layers in ``layers`` (default all).

    Parameters
    ----------
    caches : list
        From :meth:`TrainingView.trace`.
    dlogits : ndarray
        Gradient of the loss with respect to the logits.
    """
    wanted = set(view.analog_layers() if layers is None else layers)
    lowest = min(wanted)
    grads: dict[int, dict[str, np.ndarray]] = {}
    macs = 0
    for i, (rows, dz) in layer_errors(view, caches, dlogits, lowest).items():
        if i in wanted:
            grads[i] = {"w": rows.T @ dz, "b": dz.sum(axis=0)}
            macs += rows.shape[0] * rows.shape[1] * dz.shape[1]
    if count:
        view.count(neuron_updates=macs)
        view.count_backward(dlogits.shape[0], lowest)
    return grads
