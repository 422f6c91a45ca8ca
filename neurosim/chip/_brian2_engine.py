"""The brian2 engine of the spiking executor (private): the converted network of :mod:`neurosim.chip._spiking` as
brian2 neuron groups and synapses, one copy of the network per image of a batch.

Built to follow the twin's schedule tick for tick: each group adds its bias (the input neurons their current) at
``start``, brian2 thresholds, synapses add this tick's spikes (``v_post += w``), resets subtract the threshold and
count the spike. Pooling synapses carry a gate, set at the start of every tick (by a network operation) on the input
that has spiked most in each window. Weights and membranes are fixed-point numbers held in float64, so every sum is
exact and the spikes equal the twin's.

Code generation target: ``numpy`` (no compiler needed; see :mod:`neurosim.chip.executors.spiking`). brian2 is
imported here only, on first use. A built network is kept for the next batch of the same size (its state is reset
and its input replaced), since building the synapses is most of the cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _spiking as sp

TARGET = "numpy"
_BUILT: dict[tuple, Any] = {}


def _brian2():
    import brian2 as b2

    b2.prefs.codegen.target = TARGET
    b2.prefs.logging.console_log_level = "WARNING"
    return b2


def _conv_index(group: sp.SpikingGroup, source_shape: tuple[int, ...]) -> np.ndarray:
    """For every (output position, kernel row), the input element it reads (-1 for padding): (P, K)."""
    n = int(np.prod(source_shape))
    marks = (np.arange(n, dtype=np.float64) + 1.0).reshape(1, *source_shape)
    return np.rint(group.rows.rows(marks)).astype(np.int64) - 1


def _synapse_pairs(group: sp.SpikingGroup, source: sp.SpikingGroup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Presynaptic index, postsynaptic index and weight of every synapse of one image's copy."""
    if group.kind == "dense":
        pre, post = np.nonzero(group.weights)
        return pre, post, group.weights[pre, post]
    index = _conv_index(group, source.shape)  # (P, K)
    cout = group.weights.shape[1]
    k_idx, c_idx = np.nonzero(group.weights)
    pre = index[:, k_idx]  # (P, nnz)
    post = np.arange(index.shape[0])[:, None] * cout + c_idx[None, :]
    keep = pre >= 0
    return pre[keep], post[keep], np.broadcast_to(group.weights[k_idx, c_idx], pre.shape)[keep]


def _pool_pairs(group: sp.SpikingGroup, source: sp.SpikingGroup) -> tuple[np.ndarray, np.ndarray]:
    """Presynaptic and postsynaptic index of every pooling synapse of one image, ordered region by region and, in a
    region, by window position (row-major): synapse ``r * size^2 + q`` links window position ``q`` of region
    ``r``."""
    h, w, c = source.shape
    s = group.size
    ho, wo = h // s, w // s
    r_h, r_w, r_c, q_h, q_w = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(c), np.arange(s), np.arange(s),
                                          indexing="ij")
    pre = ((r_h * s + q_h) * w + (r_w * s + q_w)) * c + r_c
    post = (r_h * wo + r_w) * c + r_c
    return pre.reshape(-1), post.reshape(-1)


class _Built:
    """A brian2 network for ``batch`` images of ``net``."""

    def __init__(self, net: sp.SpikingNetwork, batch: int, poisson: bool):
        b2 = _brian2()
        self.net, self.batch, self.poisson = net, batch, poisson
        self.dt = 1.0 * b2.ms
        ns = {"theta": net.threshold}
        self.groups: list[Any] = []
        objects: list[Any] = []
        for g in net.groups:
            n = batch * g.n
            if g.kind == "input" and poisson:
                group = b2.SpikeGeneratorGroup(n, np.zeros(0, dtype=int), np.zeros(0) * b2.ms, dt=self.dt)
            else:
                group = b2.NeuronGroup(n, "v : 1\nb : 1\ncount : 1", threshold="v >= theta",
                                       reset="v -= theta\ncount += 1", namespace=ns, dt=self.dt)
                group.run_regularly("v += b", when="start", dt=self.dt)
            self.groups.append(group)
            objects.append(group)
        self.monitors = [b2.SpikeMonitor(group) for group in self.groups]
        objects += self.monitors
        self.pools: list[tuple[sp.SpikingGroup, Any, int]] = []
        for i, g in enumerate(net.groups):
            if g.kind == "input":
                continue
            src = net.groups[g.source]
            if g.kind == "pool":
                pre, post = _pool_pairs(g, src)
                syn = b2.Synapses(self.groups[g.source], self.groups[i], "gate : 1", on_pre="v_post += theta * gate",
                                  namespace=ns, dt=self.dt)
                per = len(pre)
                syn.connect(i=(pre[None, :] + src.n * np.arange(batch)[:, None]).ravel(),
                            j=(post[None, :] + g.n * np.arange(batch)[:, None]).ravel())
                self.pools.append((g, syn, per))
            else:
                pre, post, w = _synapse_pairs(g, src)
                syn = b2.Synapses(self.groups[g.source], self.groups[i], "w : 1", on_pre="v_post += w", dt=self.dt)
                syn.connect(i=(pre[None, :] + src.n * np.arange(batch)[:, None]).ravel(),
                            j=(post[None, :] + g.n * np.arange(batch)[:, None]).ravel())
                syn.w = np.tile(w, batch)
            objects.append(syn)

        @b2.network_operation(when="start", dt=self.dt)
        def set_gates():
            for g, syn, per in self.pools:
                src = self.groups[g.source]
                counts = np.array(src.count[:], dtype=np.float64).reshape(batch, *net.groups[g.source].shape)
                gate = sp.pool_gate(counts, g.size).reshape(batch, -1)  # (batch, regions)
                s2 = g.size * g.size
                values = np.zeros(batch * per)
                first = (np.arange(batch)[:, None] * per + np.arange(gate.shape[1])[None, :] * s2 + gate).ravel()
                values[first] = 1.0
                syn.gate[:] = values

        objects.append(set_gates)
        self.network = b2.Network(*objects)

    def run(self, currents: np.ndarray | None, raster: np.ndarray | None, timesteps: int):
        b2 = _brian2()
        for g, group in zip(self.net.groups, self.groups):
            if g.kind == "input" and self.poisson:
                continue
            group.v[:] = 0.0
            group.count[:] = 0.0
            if g.kind == "input":
                group.b[:] = currents.reshape(-1)
            else:
                # the bias is per output channel, the last (fastest) axis of a group's neurons
                group.b[:] = np.tile(g.bias, self.batch * g.n // len(g.bias)) if g.bias is not None else 0.0
        start = float(self.network.t / b2.ms)
        if self.poisson:
            ticks, flat = np.nonzero(raster.reshape(raster.shape[0], -1))
            self.groups[0].set_spikes(flat, (start + ticks) * b2.ms)
        seen = [len(m.t) for m in self.monitors]
        self.network.run(timesteps * self.dt)
        spikes = []  # per group: (timesteps, batch, n) of this run
        for g, m, before in zip(self.net.groups, self.monitors, seen):
            t = np.rint(np.asarray(m.t[before:] / b2.ms) - start).astype(np.int64)
            idx = np.asarray(m.i[before:], dtype=np.int64)
            raster_g = np.zeros((timesteps, self.batch * g.n), dtype=bool)
            raster_g[t, idx] = True
            spikes.append(raster_g.reshape(timesteps, self.batch, g.n))
        last = self.net.groups[-1]
        # copies: brian2 hands out views of its state, which the next batch overwrites
        counts = np.array(self.groups[-1].count[:], dtype=np.float64).reshape(self.batch, last.n)
        v = np.array(self.groups[-1].v[:], dtype=np.float64).reshape(self.batch, last.n)
        return counts, v, spikes


def run(net: sp.SpikingNetwork, currents: np.ndarray | None, raster: np.ndarray | None,
        timesteps: int) -> tuple[np.ndarray, np.ndarray, sp.EventTally]:
    """The twin's :func:`~neurosim.chip._spiking.run_twin`, on brian2: output counts, output membranes and the
    events (counted from brian2's spikes by the twin's own count)."""
    batch = (currents if currents is not None else raster[0]).shape[0]
    key = (id(net), batch, raster is not None)
    built = _BUILT.get(key)
    if built is None or built.net is not net:
        _BUILT.clear()  # one network at a time: they hold every synapse of a batch
        built = _BUILT[key] = _Built(net, batch, raster is not None)
    counts, v, spikes = built.run(currents, raster, timesteps)
    return counts, v, _replay(net, spikes, batch, timesteps)


def _replay(net: sp.SpikingNetwork, spikes: list[np.ndarray], batch: int, timesteps: int) -> sp.EventTally:
    """The events of recorded spikes, counted tick by tick as the twin counts them."""
    tally = sp.EventTally()
    counts = [np.zeros((batch, *g.shape)) for g in net.groups]
    for t in range(timesteps):
        tick = [spikes[i][t].astype(np.float64).reshape(batch, *g.shape) for i, g in enumerate(net.groups)]
        _, received, events = sp.propagate(net, tick, counts)
        for i in range(len(net.groups)):
            counts[i] += tick[i]
        tally.tick(net, [s.reshape(batch, -1) for s in tick], received, events)
    return tally


__all__ = ["run", "TARGET"]
