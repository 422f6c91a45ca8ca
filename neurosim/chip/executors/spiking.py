"""The ``spiking`` executor: the mapped network as integrate-and-fire neurons, rate-coded, on brian2 (or its twin).

Every analog layer runs as a group of integrate-and-fire neurons with reset by subtraction, its synapses holding the
weights the cells hold; thresholds are normalised per layer from calibration data; max pooling gates the most
active input; the class is the output neuron with most spikes after ``timesteps`` ticks (the conversion, the
schedule and the modelling choices are in :mod:`neurosim.chip._spiking`).

Engines: ``brian2`` builds the network in brian2 and simulates ``batch`` images at a time as copies of the network,
with code generation target ``numpy``: it needs no compiler (``cython`` ran mnist_mlp 1.7x faster here once
compiled, but it needs a C compiler a user may not have and a minute of compiling on first use); ``twin`` runs the
same fixed-point dynamics in vectorised numpy on any batch. Both give the same spikes (the tests compare them), so
``twin`` is the default and the one to use for large runs.

Events are counted tick by tick from the spikes (the same count for both engines): spikes, synaptic events, neuron
updates with and without input, NoC flit-hops of spike packets; a sample takes ``timesteps`` ticks
(``core.tick_ns``), priced by the profile's spiking figures (``core.synaptic_event_energy_pj``, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._fields import Rule
from ...errors import ExecutorError
from ...ledger import Ledger
from ...mapping.mapper import Mapping
from ...mapping.placement import element_hops
from .. import _spiking as sp
from ..contract import Execution, LayerTrace
from ..held import HeldState
from .registry import Executor, ExecutorOption, register_executor

ENGINES = ("brian2", "twin")
ENCODINGS = ("deterministic", "poisson")


@register_executor
class SpikingExecutor(Executor):
    """Integrate-and-fire neurons with reset by subtraction, rate-coded input, spike-count readout."""

    name = "spiking"
    summary = "integrate-and-fire neurons (brian2 or its numpy twin), rate-coded, priced per spike and synaptic event"
    options = {
        "timesteps": ExecutorOption(64, Rule("int", "ticks each input is presented for", lo=1, hi=1_000_000)),
        "encoding": ExecutorOption("deterministic", Rule(
            "choice", "input spikes: a constant current per pixel, or Poisson spikes", choices=ENCODINGS)),
        "engine": ExecutorOption("twin", Rule("choice", "brian2, or its vectorised numpy twin (same spikes)",
                                              choices=ENGINES)),
        "percentile": ExecutorOption(99.9, Rule("float", "percentile of a layer's activations on calibration data "
                                                "that its threshold stands for", lo=50.0, hi=100.0, lo_open=True)),
        "fixed_point_bits": ExecutorOption(16, Rule("int", "fractional bits of weights and membranes (of the "
                                                    "threshold)", lo=4, hi=30)),
        "batch": ExecutorOption(128, Rule("int", "images simulated together (copies of the network)", lo=1,
                                          hi=1_000_000)),
    }

    def __init__(self, mapping: Mapping, *, seed: int = 0, options: dict[str, Any] | None = None):
        super().__init__(mapping, seed=seed, options=options)
        model = mapping.model
        kinds = {layer.kind for layer in model.layers}
        if not kinds <= {"dense", "conv2d", "maxpool2d", "flatten"}:
            raise ExecutorError(f"executor 'spiking' runs dense, conv2d, maxpool2d and flatten layers (model "
                                f"{model.name!r} has {sorted(kinds)})")
        self._rng = np.random.default_rng([seed, 0x5B1C])  # Poisson input spikes: a stream of their own
        self._hops = element_hops(model, mapping.tilings, mapping.placement)
        self._scales: list[float] | None = None  # activation per rate unit, per group (from calibration)
        self._cache: tuple[int, sp.SpikingNetwork] | None = None
        self._macs = sum(layer.vectors_per_sample(shape) * layer.fan_in * layer.fan_out
                         for layer, shape in zip(model.layers, model.input_shapes()) if layer.analog)

    def stages(self) -> dict[str, dict[str, int]]:
        return {"spiking": {"tick": self.settings["timesteps"]}}

    # --------------------------------------------------------------------------------------------- conversion
    def _layers(self, held: HeldState) -> list[tuple[str, Any, np.ndarray | None, np.ndarray | None]]:
        out = []
        for i, layer in enumerate(self.mapping.model.layers):
            if layer.analog:
                out.append(("dense" if layer.kind == "dense" else "conv", layer, held.effective_weights(i),
                            np.asarray(held.bias(i), dtype=np.float64)))
            else:
                out.append((layer.kind, layer, None, None))
        return out

    def calibrate(self, held: HeldState, x: np.ndarray) -> None:
        """Set every layer's threshold scale to the ``percentile`` of its (positive) activations on ``x``."""
        outs = sp.float_forward(self._layers(held), np.asarray(x, dtype=np.float64))
        p = self.settings["percentile"]
        scales = [self._input_scale()]
        for (kind, _, _, _), out in zip(self._layers(held), outs):
            if kind == "flatten":
                continue
            if kind == "maxpool2d":
                scales.append(scales[-1])
                continue
            positive = out[out > 0]
            scales.append(float(np.percentile(positive, p)) if positive.size else 1.0)
        self._scales = scales
        self._cache = None

    def _input_scale(self) -> float:
        top = self.mapping.model.input_range[1]
        return float(top) if top > 0 else 1.0

    def _default_scales(self) -> list[float]:
        """Without calibration: the model's guaranteed bounds (loose: rates come out low)."""
        bounds = self.mapping.model.input_bounds()
        scales = [self._input_scale()]
        for i, layer in enumerate(self.mapping.model.layers):
            if layer.kind == "flatten":
                continue
            if layer.kind == "maxpool2d":
                scales.append(scales[-1])
                continue
            nxt = bounds[i + 1][1] if i + 1 < len(bounds) else max(abs(b) for b in bounds[i])
            scales.append(float(nxt) if nxt > 0 else 1.0)
        return scales

    def network(self, held: HeldState) -> sp.SpikingNetwork:
        """The converted network for what the chip holds now (rebuilt after every write)."""
        if self._cache is not None and self._cache[0] == held.version:
            return self._cache[1]
        model = self.mapping.model
        scales = self._scales or self._default_scales()
        one = float(2 ** self.settings["fixed_point_bits"])
        groups = [sp.SpikingGroup(kind="input", layer=-1, shape=tuple(model.input_shape), counted=False)]
        shapes = model.input_shapes()
        g = 0  # the group feeding the next layer
        for (kind, layer, w, b), i in zip(self._layers(held), range(len(model.layers))):
            if kind == "flatten":
                continue
            out_shape = tuple(layer.output_shape(tuple(shapes[i])))
            if kind == "maxpool2d":
                groups.append(sp.SpikingGroup(kind="pool", layer=i, shape=out_shape, source=g, size=layer.size))
            else:
                s_in, s_out = scales[g], scales[len(groups)]
                wq = np.rint(w * (s_in / s_out) * one)
                bq = np.rint(b / s_out * one)
                nonzero = (wq != 0).astype(np.float64)
                groups.append(sp.SpikingGroup(kind=kind, layer=i, shape=out_shape, source=g, weights=wq, bias=bq,
                                              nonzero=nonzero, nnz_row=nonzero.sum(axis=1), rows=layer,
                                              hops=self._hops[i].astype(np.float64)))
            g = len(groups) - 1
        groups[-1].out_hops = self._hops[-1].astype(np.float64)
        net = sp.SpikingNetwork(groups=groups, threshold=one, scales=list(scales))
        self._cache = (held.version, net)
        return net

    # ---------------------------------------------------------------------------------------------- execution
    def encode(self, net: sp.SpikingNetwork, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The input of a batch: fixed-point currents (deterministic) or a spike raster (Poisson)."""
        rate = np.clip(np.asarray(x, dtype=np.float64) / net.scales[0], 0.0, 1.0)
        if self.settings["encoding"] == "deterministic":
            return np.rint(rate * net.threshold), None
        return None, self._rng.random((self.settings["timesteps"], *rate.shape)) < rate

    def simulate(self, held: HeldState, x: np.ndarray,
                 engine: str | None = None) -> tuple[np.ndarray, np.ndarray, sp.EventTally]:
        """Output spike counts, output membranes and the events of batch ``x`` on ``engine`` (default: the
        executor's)."""
        net = self.network(held)
        engine = engine or self.settings["engine"]
        timesteps, size = self.settings["timesteps"], self.settings["batch"]
        counts, potentials, tally = [], [], sp.EventTally()
        for start in range(0, x.shape[0], size):
            currents, raster = self.encode(net, x[start: start + size])
            if engine == "twin":
                c, v, t = sp.run_twin(net, currents, raster, timesteps)
            else:
                from .. import _brian2_engine

                c, v, t = _brian2_engine.run(net, currents, raster, timesteps)
            counts.append(c)
            potentials.append(v)
            for key in vars(tally):
                setattr(tally, key, getattr(tally, key) + getattr(t, key))
        n_out = net.groups[-1].n
        if not counts:
            return np.zeros((0, n_out)), np.zeros((0, n_out)), tally
        return np.concatenate(counts), np.concatenate(potentials), tally

    def run(self, held: HeldState, x: np.ndarray, *, trace: bool = False) -> Execution:
        counts, v, tally = self.simulate(held, np.asarray(x, dtype=np.float64))
        logits = sp.readout(counts, v, self.network(held).threshold)
        events = self._events(x.shape[0], tally)
        traces = None
        if trace:
            shapes = self.mapping.model.input_shapes()
            traces = [LayerTrace(layer=i, input_shape=(x.shape[0], *shapes[i]))
                      for i in range(len(self.mapping.model.layers))]
        return Execution(logits=logits, traces=traces, events=events)

    def _events(self, batch: int, tally: sp.EventTally) -> Ledger:
        events = self.new_events()
        if batch <= 0:
            return events
        events.add(spikes=tally.spikes, synaptic_events=tally.synaptic_events, neuron_ticks=tally.neuron_ticks,
                   active_neuron_ticks=tally.active_neuron_ticks, noc_flit_hops=tally.flit_hops,
                   macs=self._macs * batch)
        events.add_pipeline(("spiking",), samples=batch)
        return events


__all__ = ["SpikingExecutor", "ENGINES", "ENCODINGS"]
