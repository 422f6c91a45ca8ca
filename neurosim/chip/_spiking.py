"""Spiking execution of a mapped network (private): the converted network, its integrate-and-fire dynamics in
vectorised numpy (the twin of the brian2 engine in :mod:`neurosim.chip._brian2_engine`) and the count of its events.

Conversion (Diehl et al., IJCNN 2015; Rueckauer et al., Frontiers 2017): every analog layer becomes a group of
integrate-and-fire neurons with reset by subtraction; its weights are the weights the cells hold (stuck cells,
programming noise, drift and IR drop included); weights and biases are normalised per layer by a high percentile of
that layer's activations on calibration data, so that every threshold is 1 and rates neither saturate nor starve.
Max pooling gates, for each pooling window, the spikes of the input that has spiked most so far (Rueckauer et al.
2017); flattening renumbers neurons.

Modelling choices (documented here because they change numbers):

- *Fixed-point membranes.* Weights, biases and input currents are rounded to multiples of ``2**-fixed_point_bits``
  of the threshold, as a digital neuromorphic core holds them (Loihi: 8-bit weights, 24-bit membranes). Every sum
  is then exact in float64, whatever its order, so the brian2 engine and this twin produce the same spikes.
- *One tick per layer.* In a tick every group first adds its bias (the input group its current), then every neuron
  at or above threshold spikes, then this tick's spikes reach the next group, then spiking neurons subtract the
  threshold (brian2's schedule: groups, thresholds, synapses, resets). A spike therefore moves one layer per tick.
- *Pooling gates* are chosen at the start of a tick from the spikes counted before it (ties: the first input of the
  window in row-major order); a pooling neuron relays a gated spike one tick later.
- *Input encodings.* ``deterministic``: each pixel is a constant current (its value over the input range's top)
  into an integrate-and-fire input neuron; ``poisson``: a pixel spikes in a tick with that probability, drawn from
  the executor's seeded generator (the same raster feeds both engines).
- *Readout.* The class with most output spikes; ties by the output membrane potential: the logits are
  ``count + (1 + tanh(v / threshold)) / 2``.
- *Events* (counted per tick): spikes of every group (the input's included), synaptic events (a spike times the
  non-zero synapses it reaches, gated pooling synapses included), neuron updates with and without synaptic input
  (input neurons excluded: they are the encoder), and NoC flit-hops: every spike of an element travels one packet to
  each core that needs it (:func:`neurosim.mapping.placement.element_hops`), output spikes to the I/O port.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

READOUT = "count + (1 + tanh(v / threshold)) / 2"


@dataclass
class SpikingGroup:
    """One group of neurons of the converted network (per sample) and how it gets its input.

    ``kind`` is ``"input"``, ``"dense"``, ``"conv"`` or ``"pool"``; ``source`` is the index of the group it listens
    to (-1 for the input group); ``layer`` the model layer it stands for (the last one before it for the input).
    """

    kind: str
    layer: int
    shape: tuple[int, ...]
    source: int = -1
    weights: np.ndarray | None = None  # (fan_in, fan_out) integer-valued float64, fixed point
    bias: np.ndarray | None = None  # (fan_out,) integer-valued float64
    nonzero: np.ndarray | None = None  # (fan_in, fan_out) 0/1 float64: synapses that exist
    nnz_row: np.ndarray | None = None  # (fan_in,) synapses of each input row
    rows: object = None  # the model layer, for im2col (conv)
    size: int = 0  # pooling window
    hops: np.ndarray | None = None  # (n_source_elements,) flit-hops of one spike of each source element
    out_hops: np.ndarray | None = None  # output group only: hops of each output spike to the I/O port
    counted: bool = True  # neuron updates counted (not for the input encoder)

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class SpikingNetwork:
    """The converted network: its groups in order (the input first, the output last) and the threshold."""

    groups: list[SpikingGroup]
    threshold: float
    scales: list[float] = field(default_factory=list)  # per group: the activation that one rate unit stands for


def float_forward(layers: list[tuple[str, object, np.ndarray | None, np.ndarray | None]], x: np.ndarray,
                  keep: bool = True) -> list[np.ndarray]:
    """The float network (ReLU on hidden analog layers) on the chip's effective weights; returns every layer's
    output when ``keep``. ``layers`` holds ``(kind, layer, weights, bias)``."""
    outs = []
    for kind, layer, w, b in layers:
        if kind in ("dense", "conv"):
            y = (layer.rows(x) @ w + b).reshape(x.shape[0], *layer.output_shape(tuple(x.shape[1:])))
            x = np.maximum(y, 0.0) if layer.activation == "relu" else y
        else:
            x = layer.forward(x)
        if keep:
            outs.append(x)
    return outs


def pool_gate(counts: np.ndarray, size: int) -> np.ndarray:
    """For every pooling window of ``counts`` (B, H, W, C), the position (0..size^2 - 1, row-major) of the input
    that has spiked most (the first on ties): (B, H // size, W // size, C)."""
    b, h, w, c = counts.shape
    ho, wo = h // size, w // size
    windows = counts[:, : ho * size, : wo * size].reshape(b, ho, size, wo, size, c)
    return windows.transpose(0, 1, 3, 5, 2, 4).reshape(b, ho, wo, c, size * size).argmax(axis=-1)


def gated(spikes: np.ndarray, gate: np.ndarray, size: int) -> np.ndarray:
    """The spikes (B, H, W, C) of the gated input of every window: (B, H // size, W // size, C)."""
    b, h, w, c = spikes.shape
    ho, wo = h // size, w // size
    windows = spikes[:, : ho * size, : wo * size].reshape(b, ho, size, wo, size, c)
    flat = windows.transpose(0, 1, 3, 5, 2, 4).reshape(b, ho, wo, c, size * size)
    return np.take_along_axis(flat, gate[..., None], axis=-1)[..., 0]


def synaptic_input(group: SpikingGroup, pre: np.ndarray,
                   counts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    """What one tick's presynaptic spikes ``pre`` (B, *source shape, float 0/1) give ``group``: (the current into
    each neuron (B, n), the neurons that got any synaptic input (B, n), the synaptic events). A pooling group gets
    the gated spikes (the gates chosen from the source's spike ``counts`` before this tick)."""
    batch = pre.shape[0]
    if group.kind == "pool":
        g = gated(pre, pool_gate(counts, group.size), group.size).reshape(batch, -1)
        return g, g > 0, int(g.sum())
    rows = pre.reshape(batch, -1) if group.kind == "dense" else group.rows.rows(pre)
    current = (rows @ group.weights).reshape(batch, -1)
    received = ((rows @ group.nonzero) > 0).reshape(batch, -1)
    # every spike reaches the non-zero synapses of its row (of every window holding it, for a convolution)
    events = int(np.rint(rows.sum(axis=0) @ group.nnz_row))
    return current, received, events


@dataclass
class EventTally:
    """Events of spiking execution, added tick by tick (see the module docstring)."""

    spikes: int = 0
    synaptic_events: int = 0
    neuron_ticks: int = 0
    active_neuron_ticks: int = 0
    flit_hops: int = 0

    def tick(self, net: SpikingNetwork, spikes: list[np.ndarray], received: list[np.ndarray | None],
             synaptic_events: int) -> None:
        """Count one tick from every group's spikes (B, n), the neurons that got synaptic input (None for the
        input encoder) and the tick's synaptic events."""
        self.synaptic_events += synaptic_events
        for i, group in enumerate(net.groups):
            s = spikes[i]
            n_spikes = s.sum(axis=0)
            self.spikes += int(n_spikes.sum())
            if group.counted:
                active = int(received[i].sum())
                self.active_neuron_ticks += active
                self.neuron_ticks += s.shape[0] * group.n - active
            if group.kind != "input" and group.hops is not None:  # packets of the source's spikes
                self.flit_hops += int(np.rint(spikes[group.source].sum(axis=0) @ group.hops))
            if group.out_hops is not None:
                self.flit_hops += int(np.rint(n_spikes @ group.out_hops))


def propagate(net: SpikingNetwork, spikes: list[np.ndarray],
              counts: list[np.ndarray]) -> tuple[list[np.ndarray | None], list[np.ndarray | None], int]:
    """This tick's spikes delivered: per group the current it gets (None for the input) and the neurons that got
    input, and the synaptic events. ``spikes`` and ``counts`` (before this tick) are full-shaped per group."""
    batch = spikes[0].shape[0]
    currents: list[np.ndarray | None] = [None] * len(net.groups)
    received: list[np.ndarray | None] = [None] * len(net.groups)
    events = 0
    for i, g in enumerate(net.groups):
        if g.kind == "input":
            continue
        current, got, n = synaptic_input(g, spikes[g.source], counts[g.source])
        currents[i] = (current * net.threshold if g.kind == "pool" else current).reshape(batch, *g.shape)
        received[i] = got
        events += n
    return currents, received, events


def run_twin(net: SpikingNetwork, currents: np.ndarray | None, raster: np.ndarray | None,
             timesteps: int) -> tuple[np.ndarray, np.ndarray, EventTally]:
    """Integrate-and-fire dynamics of ``net`` over ``timesteps`` ticks for one batch (the schedule of the module
    docstring).

    Parameters
    ----------
    currents : ndarray (B, *input shape), optional
        Deterministic encoding: the input neurons' fixed-point current per tick.
    raster : ndarray (timesteps, B, *input shape) of bool, optional
        Poisson encoding: the input spikes of every tick.

    Returns
    -------
    (output spike counts (B, n_out), output membranes (B, n_out), events)
    """
    theta = net.threshold
    batch = (currents if currents is not None else raster[0]).shape[0]
    v = [np.zeros((batch, *g.shape)) for g in net.groups]
    counts = [np.zeros((batch, *g.shape)) for g in net.groups]
    tally = EventTally()
    for t in range(timesteps):
        for i, g in enumerate(net.groups):  # groups: bias (the input neurons: their current)
            if g.kind == "input":
                if currents is not None:
                    v[i] += currents
            elif g.bias is not None:
                v[i] += g.bias  # per output channel, the last axis
        spikes = [(vi >= theta).astype(np.float64) for vi in v]  # thresholds
        if raster is not None:
            spikes[0] = raster[t].astype(np.float64)
        delivered, received, events = propagate(net, spikes, counts)  # synapses
        for i in range(1, len(net.groups)):
            v[i] += delivered[i]
        for i in range(len(net.groups)):  # resets
            v[i] -= theta * spikes[i]
            counts[i] += spikes[i]
        tally.tick(net, [s.reshape(batch, -1) for s in spikes], received, events)
    return counts[-1].reshape(batch, -1), v[-1].reshape(batch, -1), tally


def readout(counts: np.ndarray, v: np.ndarray, threshold: float) -> np.ndarray:
    """Logits: the spike count, ties broken by the membrane potential (:data:`READOUT`)."""
    return counts + 0.5 * (1.0 + np.tanh(v / threshold))


__all__ = ["SpikingGroup", "SpikingNetwork", "EventTally", "float_forward", "pool_gate", "gated", "synaptic_input",
           "propagate", "run_twin", "readout", "READOUT"]
