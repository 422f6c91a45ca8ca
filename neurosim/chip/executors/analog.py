"""The ``analog`` executor: the network as the crossbars compute it.

Per analog layer: inputs through DACs (clipped to the converter's range and rounded to ``2**input_bits`` levels,
bit-serially over several reads when inputs are wider than the DACs), an MVM per tile and slice on the cells'
*effective* levels (stuck cells, programming noise, drift, IR drop), a fresh read-noise fluctuation per read where
the profile has one, ADC quantisation per column (shared ADCs, calibrated or guaranteed ranges, see
:mod:`neurosim.chip.converters`), digital shift-add of reads, slices and row blocks, removal of an encoding's
offset, ``scale x acc + bias``, any digital low-rank correction ``(x @ left) @ right``, activation. Digital layers
(pooling, flatten) run in the cores' neurons.

Events: what the mapping decides comes in closed form per sample (:mod:`neurosim.chip.accounting`); what depends on
the data is counted from the actual inputs: a row whose input (digit) is zero is not driven, so it costs no DAC
conversion, charges no word line and reads no cell; the cells a driven row reads are counted by the level they
hold. A correction costs ``k (fan_in + fan_out)`` neuron updates per MVM vector, one read of its factors from aux
memory per batch and ``k`` serial neuron steps per vector. Error back-propagation (on-chip training) reads the layers
above the lowest trained one transposed, driving every row, at the cost of their forward MVMs.

Modelling choices (documented here because they change numbers):

- *Read noise* is a fresh Gaussian fluctuation of every cell's conductance on every read,
  ``device.read_noise_sigma`` level steps; summed over a column it adds ``sigma x sqrt(cells per value) x ||driven
  inputs||`` to the column's output before conversion, drawn per vector.
- *Global drift compensation* (as aihwkit does for PCM): right after programming, and again whenever
  :meth:`neurosim.Chip.compensate_drift` is called, each layer's tiles are read with every row driven at full scale;
  the ratio of the summed column outputs now to those at programming is the layer's drift factor, and the
  periphery divides the layer's digital sums by it. Each measurement is one counted read of every tile.
"""

from __future__ import annotations

import math

import numpy as np

from ...ledger import FLOAT_BYTES, Ledger
from ...mapping.mapper import Mapping
from ...nn.layers import activate
from .. import _kernels
from ..accounting import stage_events
from ..contract import Execution, LayerTrace
from ..converters import LayerConverters, input_cycles, make_converters
from ..held import HeldState
from .registry import Executor, register_executor


class _Tally:
    """Data-dependent events of one execution."""

    def __init__(self, levels: int):
        self.dac = 0
        self.reads = np.zeros(levels, dtype=np.int64)


@register_executor
class AnalogExecutor(Executor):
    """DAC -> per-tile crossbar MVM on effective levels -> ADC -> digital shift-add -> activation."""

    name = "analog"
    summary = "crossbar MVMs on the cells' effective levels with DACs, shared ADCs and digital shift-add"

    def __init__(self, mapping: Mapping, *, seed: int = 0, options=None):
        super().__init__(mapping, seed=seed, options=options)
        self._cycles = input_cycles(mapping.profile)
        self._stage_events = stage_events(mapping, self._cycles)
        self._stages = {st.name: dict(st.steps) for st in self._stage_events}
        bounds = mapping.model.input_bounds()
        self.converters: dict[int, LayerConverters] = {
            lt.layer: make_converters(lt, mapping.profile, bounds[lt.layer]) for lt in mapping.tilings}
        dev = mapping.profile.device
        self._read_noise = dev.read_noise_sigma
        self._rng = np.random.default_rng([seed, 0x5EAD])  # read noise: a stream of its own, apart from the memory
        self._reference: dict[int, float] = {}
        self.drift_factors: dict[int, float] = {}  # layer -> measured drift (1: none); sums are divided by it

    def stages(self) -> dict[str, dict[str, int]]:
        return self._stages

    # ---------------------------------------------------------------------------------------------- execution
    def run(self, held: HeldState, x: np.ndarray, *, trace: bool = False) -> Execution:
        traces: list[LayerTrace] | None = [] if trace else None
        tally = _Tally(self.levels)
        logits = self._forward(held, x, observe=None, traces=traces, tally=tally)
        events = self._events(held, x.shape[0], above=-1)
        if x.shape[0]:
            events.add(dac_conversions=tally.dac, wordline_activations=tally.dac)
            events.add_cell_reads(tally.reads)
        return Execution(logits=logits, traces=traces, events=events)

    def backward_events(self, held: HeldState, batch: int, above: int) -> Ledger:
        events = self._events(held, batch, above)
        if batch > 0:
            for st in self._stage_events:
                if st.layer > above:  # transposed reads drive every row
                    per_level = held.row_level_counts(st.layer).sum(axis=0)
                    events.add(dac_conversions=batch * st.dense["dac_conversions"],
                               wordline_activations=batch * st.dense["wordline_activations"])
                    events.add_cell_reads(batch * st.vectors * st.cycles * per_level)
        return events

    def record_reference(self, held: HeldState) -> None:
        self._reference = {lt.layer: self._full_scale_read(held, lt.layer) for lt in self.mapping.tilings}
        self.drift_factors = {}

    def compensate_drift(self, held: HeldState) -> Ledger:
        events = self.new_events()
        for st in self._stage_events:
            lt = self.mapping.tiling_of(st.layer)
            now, then = self._full_scale_read(held, st.layer), self._reference.get(st.layer, 0.0)
            self.drift_factors[st.layer] = now / then if then > 0 and now > 0 else 1.0
            # one read of every tile, every row driven: the dense events of one vector and one read
            per_vector = {k: n // (st.vectors * st.cycles) for k, n in st.dense.items() if k != "cell_reads"}
            events.add(**per_vector, adc_conversions=st.counts["adc_conversions"] // (st.vectors * st.cycles),
                       bitline_reads=st.counts["bitline_reads"] // (st.vectors * st.cycles),
                       sample_holds=st.counts["sample_holds"] // (st.vectors * st.cycles))
            events.add_cell_reads(held.row_level_counts(lt.layer).sum(axis=0))
            events.add_steps(crossbar_read=1, adc=1)
        return events

    def _full_scale_read(self, held: HeldState, index: int) -> float:
        """A layer's total read current with every row driven at full scale (the sum of |slice values| over its
        cells): what a drift measurement reads."""
        lt = self.mapping.tiling_of(index)
        base = float(lt.layout.base)
        return float(sum(base ** s * np.abs(w).sum() for s, w in enumerate(held.slices(index))))

    def calibrate(self, held: HeldState, x: np.ndarray) -> None:
        """Set narrow converters' ranges from the inputs and partial sums seen on ``x``."""
        observed: dict[int, list] = {}
        self._forward(held, x, observe=observed, traces=None, tally=None)
        bounds = self.mapping.model.input_bounds()
        self.converters = {lt.layer: make_converters(lt, self.mapping.profile, bounds[lt.layer], *observed[lt.layer])
                           for lt in self.mapping.tilings}

    def _forward(self, held: HeldState, x: np.ndarray, observe: dict | None, traces: list[LayerTrace] | None,
                 tally: _Tally | None) -> np.ndarray:
        for index, layer in enumerate(self.mapping.model.layers):
            if layer.analog:
                x = self._analog(held, index, layer, x, observe, traces, tally)
            elif traces is not None:
                out, pool_index = layer.forward_indexed(x)
                traces.append(LayerTrace(layer=index, input_shape=x.shape, pool_index=pool_index))
                x = out
            else:
                x = layer.forward(x)
        return x

    def _dac(self, rows: np.ndarray, conv: LayerConverters) -> np.ndarray:
        """Inputs as the DACs drive them: clipped and rounded to the input levels (or exact)."""
        if conv.exact_dac:
            return rows
        xq = np.empty_like(rows)
        _kernels.dac_quantize(np.ascontiguousarray(rows), conv.dac_lo, conv.dac_hi, float(conv.input_steps), xq)
        return xq

    def _analog(self, held: HeldState, index: int, layer, x: np.ndarray, observe: dict | None,
                traces: list[LayerTrace] | None, tally: _Tally | None) -> np.ndarray:
        lt = self.mapping.tiling_of(index)
        conv = self.converters[index]
        rows = layer.rows(x)
        calibrating = observe is not None
        # a calibration pass of parallel inputs sees exact inputs; bit-serial ranges are those of the digits
        xq = rows if calibrating and not conv.bit_serial else self._dac(rows, conv)
        if conv.bit_serial:
            step = (conv.dac_hi - conv.dac_lo) / conv.input_steps
            index_of = np.rint((xq - conv.dac_lo) / step).astype(np.int64)
            mask = 2 ** conv.digit_bits - 1
            drives = [((index_of >> (c * conv.digit_bits)) & mask).astype(np.float64) for c in range(conv.cycles)]
            weights_of_reads = [float(2 ** (c * conv.digit_bits)) for c in range(conv.cycles)]
        else:
            drives, weights_of_reads = [xq], [1.0]
        weights = held.slices(index)
        acc = np.zeros((rows.shape[0], lt.fan_out))
        base = float(lt.layout.base)
        seen = np.zeros((lt.row_blocks, lt.layout.slices, lt.fan_out)) if calibrating else None
        noise = self._read_noise if not calibrating else 0.0
        cells_per_value = lt.layout.cells_per_slice + lt.layout.reference_columns
        # one buffer for every tile's column outputs: a fresh multi-MB array per tile costs page faults that can
        # double the pass's run time, depending on the allocator's history
        partial_buffer = np.empty((rows.shape[0], lt.fan_out))
        for drive, read_weight in zip(drives, weights_of_reads):
            if tally is not None:
                active = drive != 0
                driven = active.sum(axis=0)  # per logical row: vectors that drive it
                tally.dac += int(driven.sum()) * lt.col_blocks
                tally.reads += driven.astype(np.int64) @ held.row_level_counts(index)
            for rb in range(lt.row_blocks):
                r = lt.row_range(rb)
                dr = drive[:, r]
                spread = noise * math.sqrt(cells_per_value) * np.sqrt(np.einsum("ij,ij->i", dr, dr)) if noise else None
                for s, w in enumerate(weights):
                    partial = np.matmul(dr, w[r], out=partial_buffer)
                    if spread is not None:
                        partial += spread[:, None] * self._rng.standard_normal(partial.shape)
                    factor = read_weight * base ** s
                    if seen is not None:
                        if partial.size:
                            np.maximum(seen[rb, s], np.abs(partial).max(axis=0), out=seen[rb, s])
                        acc += factor * partial
                    elif conv.exact_adc:
                        acc += factor * partial
                    else:
                        _kernels.adc_accumulate(partial, acc, conv.adc_step[rb, s], float(conv.adc_qmin),
                                                float(conv.adc_qmax), factor)
        if conv.bit_serial:
            # the digits encode (x - lo) / step: scale back and add the range's offset digitally (lo x column sum)
            acc *= (conv.dac_hi - conv.dac_lo) / conv.input_steps
            if conv.dac_lo:
                acc += conv.dac_lo * self._column_sums(weights, base)
        if lt.layout.offset:
            acc -= lt.layout.offset * xq.sum(axis=1, keepdims=True)
        drift = self.drift_factors.get(index, 1.0)
        if drift != 1.0:
            acc /= drift
        if observe is not None:
            observe[index] = [float(rows.max()) if rows.size else 0.0, seen]
        pre = acc * held.scale(index) + held.bias(index)
        correction = held.correction(index)
        if correction is not None:
            left, right = correction
            pre += (xq @ left) @ right
        out = activate(pre, layer.activation)
        if traces is not None:
            traces.append(LayerTrace(layer=index, input_shape=x.shape, mvm_inputs=xq, pre_activation=pre,
                                     relu_mask=pre > 0 if layer.activation == "relu" else None))
        return out.reshape(x.shape[0], *layer.output_shape(tuple(x.shape[1:])))

    @staticmethod
    def _column_sums(weights: list[np.ndarray], base: float) -> np.ndarray:
        return sum(base ** s * w.sum(axis=0) for s, w in enumerate(weights))

    # ------------------------------------------------------------------------------------------------- events
    def _events(self, held: HeldState, batch: int, above: int) -> Ledger:
        """Closed-form events of ``batch`` samples through every stage after layer ``above`` (-1: the whole forward
        pass), and the digital work of any corrections."""
        events = self.new_events()
        if batch <= 0:
            return events
        stages = [st for st in self._stage_events if st.layer > above]
        if stages:
            totals: dict[str, int] = {}
            for st in stages:
                for k, n in st.counts.items():
                    totals[k] = totals.get(k, 0) + n * batch
            events.add(**totals)
            events.add_pipeline(tuple(st.name for st in stages), samples=batch)
        for st in stages:
            correction = held.correction(st.layer)
            if correction is None:
                continue
            left, right = correction
            vectors = batch * st.vectors
            size = left.size + right.size
            events.add(neuron_updates=vectors * size, aux_bytes_read=FLOAT_BYTES * size)
            events.add_steps(neuron=vectors * left.shape[1])
        return events


__all__ = ["AnalogExecutor"]
