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
from .. import _kernels, _parallel
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
        # drawn ahead on another core while the chip works (the same sequence; see PrefetchedNormals)
        self._noise = _parallel.PrefetchedNormals(self._rng)
        self._reference: dict[int, float] = {}
        self._buffers: dict[tuple, np.ndarray] = {}  # reused work arrays (see _scratch)
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
        layers = self.mapping.model.layers
        last_analog = max(i for i, layer in enumerate(layers) if layer.analog)
        for index, layer in enumerate(layers):
            if layer.analog:
                x = self._analog(held, index, layer, x, observe, traces, tally, keep=index >= last_analog)
            elif traces is not None:
                out, pool_index = layer.forward_indexed(x)
                traces.append(LayerTrace(layer=index, input_shape=x.shape, pool_index=pool_index))
                x = out
            else:
                x = layer.forward(x)
        return x

    def _scratch(self, key: tuple, shape: tuple[int, ...]) -> np.ndarray:
        """A reused work array of ``shape`` (contents undefined). A forward pass that allocated its multi-MB
        intermediates afresh each call paid for a fresh page on every first touch: ~5,400 minor page faults per
        MNIST pass, which tripled its run time, depending on the allocator's history."""
        size = math.prod(shape)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[key] = np.empty(size)
        return buffer[:size].reshape(shape)

    def _analog(self, held: HeldState, index: int, layer, x: np.ndarray, observe: dict | None,
                traces: list[LayerTrace] | None, tally: _Tally | None, keep: bool) -> np.ndarray:
        """One analog layer. ``keep``: the output leaves the pass (the last analog layer), so it is not a
        reused work array; anything a trace keeps is not one either."""
        lt = self.mapping.tiling_of(index)
        conv = self.converters[index]
        rows = np.ascontiguousarray(layer.rows(x))
        n = rows.shape[0]
        calibrating = observe is not None
        fresh = traces is not None or calibrating
        # a calibration pass of parallel inputs sees exact inputs; bit-serial ranges are those of the digits
        exact_inputs = conv.exact_dac or (calibrating and not conv.bit_serial)
        xq = rows if exact_inputs else (np.empty_like(rows) if fresh else self._scratch(("xq", index), rows.shape))
        # calibration keeps running maxima across row chunks: one chunk; otherwise one per core for large batches
        ranges = [(0, n)] if calibrating else _parallel.chunks(n)
        if not exact_inputs:
            _parallel.run_chunks(lambda _, lo, hi: _kernels.dac_quantize(
                rows[lo:hi], conv.dac_lo, conv.dac_hi, float(conv.input_steps), xq[lo:hi]), ranges)
        if conv.bit_serial:
            step = (conv.dac_hi - conv.dac_lo) / conv.input_steps
            index_of = np.rint((xq - conv.dac_lo) / step).astype(np.int64)
            mask = 2 ** conv.digit_bits - 1
            drives = [((index_of >> (c * conv.digit_bits)) & mask).astype(np.float64) for c in range(conv.cycles)]
            weights_of_reads = [float(2 ** (c * conv.digit_bits)) for c in range(conv.cycles)]
        else:
            drives, weights_of_reads = [xq], [1.0]
        weights = held.slices(index)
        acc = np.zeros((n, lt.fan_out)) if fresh or keep else self._scratch(("acc", index), (n, lt.fan_out))
        if not (fresh or keep):
            acc.fill(0.0)
        seen = np.zeros((lt.row_blocks, lt.layout.slices, lt.fan_out)) if calibrating else None
        noise = self._read_noise if not calibrating else 0.0
        driven = np.zeros((len(ranges), len(drives), lt.fan_in), dtype=np.int64)  # vectors driving each row
        blocks = [(c, rb, s) for c in range(len(drives)) for rb in range(lt.row_blocks) for s in range(len(weights))]
        mvm = _TileReads(self, lt, conv, drives, weights_of_reads, weights, acc, seen, driven, noise)
        if noise:
            # read noise: drawn here, block by block in a single thread's order (same seed, same numbers, however
            # many threads convert it); each block's conversions then run in parallel. (Drawing the next block on
            # a background thread while this one converts made a training epoch 13 % slower: the hand-offs cost
            # more than the overlap saved.)
            draws = self._scratch(("noise", index), (n, lt.fan_out))
            for block in blocks:
                self._noise.fill(draws, ahead=len(ranges) == 1)
                _parallel.run_chunks(lambda i, lo, hi, block=block: mvm.run(i, lo, hi, [block], draws), ranges)
        else:
            _parallel.run_chunks(lambda i, lo, hi: mvm.run(i, lo, hi, blocks, None), ranges)
        if tally is not None and n:
            per_row = driven.sum(axis=0)  # (cycles, fan_in)
            tally.dac += int(per_row.sum()) * lt.col_blocks
            counts = held.row_level_counts(index)
            for c in range(len(drives)):
                tally.reads += per_row[c] @ counts
        if conv.bit_serial:
            # the digits encode (x - lo) / step: scale back and add the range's offset digitally (lo x column sum)
            acc *= (conv.dac_hi - conv.dac_lo) / conv.input_steps
            if conv.dac_lo:
                acc += conv.dac_lo * self._column_sums(weights, base=float(lt.layout.base))
        if lt.layout.offset:
            acc -= lt.layout.offset * xq.sum(axis=1, keepdims=True)
        drift = self.drift_factors.get(index, 1.0)
        if drift != 1.0:
            acc /= drift
        if observe is not None:
            observe[index] = [float(rows.max()) if rows.size else 0.0, seen]
        if fresh:
            pre = acc * held.scale(index) + held.bias(index)
        else:  # the same two roundings, in place
            acc *= held.scale(index)
            acc += held.bias(index)
            pre = acc
        correction = held.correction(index)
        if correction is not None:
            left, right = correction
            pre += (xq @ left) @ right
        if fresh or layer.activation != "relu":
            out = activate(pre, layer.activation)
        else:
            out = np.maximum(pre, 0.0, out=pre)
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


class _TileReads:
    """The crossbar reads of one analog layer for a range of rows: per (input cycle, row block, slice) an MVM on
    the tile's effective values, a read-noise fluctuation where the profile has one, ADC conversion and digital
    shift-add into ``acc``; and, per cycle, the vectors that drive each row (the data-dependent events).

    Runs on row chunks in parallel (:mod:`neurosim.chip._parallel`): each chunk writes only its rows of ``acc``
    and its own row of ``driven``, and has its own work arrays."""

    def __init__(self, executor: AnalogExecutor, lt, conv: LayerConverters, drives: list[np.ndarray],
                 weights_of_reads: list[float], weights: list[np.ndarray], acc: np.ndarray, seen: np.ndarray | None,
                 driven: np.ndarray, noise: float):
        self.executor, self.lt, self.conv = executor, lt, conv
        self.drives, self.weights_of_reads, self.weights = drives, weights_of_reads, weights
        self.acc, self.seen, self.driven = acc, seen, driven
        self.spread_scale = noise * math.sqrt(lt.layout.cells_per_slice + lt.layout.reference_columns)
        self.base = float(lt.layout.base)

    def run(self, chunk: int, lo: int, hi: int, blocks: list[tuple[int, int, int]], draws: np.ndarray | None
            ) -> None:
        lt, conv = self.lt, self.conv
        acc = self.acc[lo:hi]
        partial = self.executor._scratch(("partial", chunk), (hi - lo, lt.fan_out))
        for c, rb, s in blocks:
            drive = self.drives[c][lo:hi]
            if rb == 0 and s == 0:
                _kernels.count_driven(drive, self.driven[chunk, c])
            r = lt.row_range(rb)
            dr = drive[:, r]
            np.matmul(dr, self.weights[s][r], out=partial)
            factor = self.weights_of_reads[c] * self.base ** s
            if draws is not None:
                spread = self.spread_scale * np.sqrt(np.einsum("ij,ij->i", dr, dr))
                noise = draws[lo:hi]
                if conv.exact_adc:
                    noise *= spread[:, None]
                    partial += noise
                else:  # noise, conversion and shift-add in one pass
                    _kernels.adc_accumulate_noisy(partial, noise, spread, acc, conv.adc_step[rb, s],
                                                  float(conv.adc_qmin), float(conv.adc_qmax), factor)
                    continue
            if self.seen is not None:
                if partial.size:
                    np.maximum(self.seen[rb, s], np.abs(partial).max(axis=0), out=self.seen[rb, s])
                acc += factor * partial
            elif conv.exact_adc:
                if factor != 1.0:
                    partial *= factor
                acc += partial
            else:
                _kernels.adc_accumulate(partial, acc, conv.adc_step[rb, s], float(conv.adc_qmin),
                                        float(conv.adc_qmax), factor)


__all__ = ["AnalogExecutor"]
