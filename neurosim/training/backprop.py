"""Backward pass of on-chip training: from the chip's forward traces to weight and bias gradients.

The forward pass runs on the chip (noisy, quantised, counted). The backward pass is digital: errors travel down
through ``scale x codes`` the chip holds (plus any digital low-rank correction), and weight gradients are outer
products of the DAC-quantised inputs the crossbars saw with those errors. Its events are counted: the transposed
crossbar reads that carry errors down (priced like forward MVMs, for every analog layer but the first) and one
digital accumulate per gradient term.
"""

from __future__ import annotations

import numpy as np

from ..chip.contract import LayerTrace
from .base import TrainingView


def layer_errors(view: TrainingView, traces: list[LayerTrace], dlogits: np.ndarray, lowest: int
                 ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per analog layer at or above ``lowest``: the MVM inputs (n_vectors, fan_in) the crossbar saw and the output
    errors (n_vectors, fan_out), errors carried down through the weights the chip computes with."""
    model = view.model
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    dout = dlogits
    for i in range(len(model.layers) - 1, lowest - 1, -1):
        layer, trace = model.layers[i], traces[i]
        if layer.analog:
            if trace.relu_mask is not None:
                dout = dout * trace.relu_mask.reshape(dout.shape)
            dz = dout.reshape(-1, layer.fan_out)
            out[i] = (trace.mvm_inputs, dz)
            if i == lowest:
                break
            dout = layer.input_gradient(dz @ view.weights(i).T, trace.input_shape)
        else:
            dout = layer.backward(dout, trace.pool_index, trace.input_shape)
    return out


def backward(view: TrainingView, traces: list[LayerTrace], dlogits: np.ndarray, layers: list[int] | None = None,
             count: bool = True) -> dict[int, dict[str, np.ndarray]]:
    """Gradients ``{"w": (fan_in, fan_out), "b": (fan_out,)}`` of the analog layers in ``layers`` (default all).

    Parameters
    ----------
    traces : list of LayerTrace
        From :meth:`TrainingView.trace`.
    dlogits : ndarray
        Gradient of the loss with respect to the logits.
    """
    wanted = set(view.analog_layers() if layers is None else layers)
    lowest = min(wanted)
    grads: dict[int, dict[str, np.ndarray]] = {}
    macs = 0
    for i, (rows, dz) in layer_errors(view, traces, dlogits, lowest).items():
        if i in wanted:
            grads[i] = {"w": rows.T @ dz, "b": dz.sum(axis=0)}
            macs += rows.shape[0] * rows.shape[1] * dz.shape[1]
    if count:
        view.count(neuron_updates=macs)
        view.count_backward(dlogits.shape[0], lowest)
    return grads
