"""The ``analog`` executor: the network as the crossbars compute it.

Per analog layer: inputs through DACs (clipped to the converter's range and rounded to ``2**dac_bits`` levels), an
MVM per tile and slice on the cells' *effective* levels (stuck cells, programming noise, drift), ADC quantisation
per column (shared ADCs, calibrated or guaranteed ranges, see :mod:`neurosim.chip.converters`), digital shift-add
of slices and row blocks, removal of an encoding's offset, ``scale x acc + bias``, any digital low-rank correction
``(x @ left) @ right``, activation. Digital layers (pooling, flatten) run in the cores' neurons.

Events per sample come in closed form from the mapping (:mod:`neurosim.chip.accounting`); a correction costs
``k (fan_in + fan_out)`` neuron updates per MVM vector, one read of its factors from aux memory per batch and ``k``
serial neuron steps per vector. Error back-propagation (on-chip training) reads the layers above the lowest
trained one transposed, at the cost of their forward MVMs.
"""

from __future__ import annotations

import numpy as np

from ...ledger import FLOAT_BYTES, Ledger
from ...mapping.mapper import Mapping
from ...nn.layers import activate
from .. import _kernels
from ..accounting import stage_events
from ..contract import Execution, LayerTrace
from ..converters import LayerConverters, make_converters
from ..held import HeldState
from .registry import Executor, register_executor


@register_executor
class AnalogExecutor(Executor):
    """DAC -> per-tile crossbar MVM on effective levels -> ADC -> digital shift-add -> activation."""

    name = "analog"
    summary = "crossbar MVMs on the cells' effective levels with DACs, shared ADCs and digital shift-add"

    def __init__(self, mapping: Mapping):
        super().__init__(mapping)
        self._stage_events = stage_events(mapping)
        self._stages = {st.name: dict(st.steps) for st in self._stage_events}
        bounds = mapping.model.input_bounds()
        self.converters: dict[int, LayerConverters] = {
            lt.layer: make_converters(lt, mapping.profile, bounds[lt.layer]) for lt in mapping.tilings}

    def stages(self) -> dict[str, dict[str, int]]:
        return self._stages

    # ---------------------------------------------------------------------------------------------- execution
    def run(self, held: HeldState, x: np.ndarray, *, trace: bool = False) -> Execution:
        traces: list[LayerTrace] | None = [] if trace else None
        logits = self._forward(held, x, observe=None, traces=traces)
        return Execution(logits=logits, traces=traces, events=self._events(held, x.shape[0], above=-1))

    def backward_events(self, held: HeldState, batch: int, above: int) -> Ledger:
        return self._events(held, batch, above)

    def calibrate(self, held: HeldState, x: np.ndarray) -> None:
        """Set narrow converters' ranges from the inputs and partial sums seen on ``x``."""
        observed: dict[int, list] = {}
        self._forward(held, x, observe=observed, traces=None)
        bounds = self.mapping.model.input_bounds()
        self.converters = {lt.layer: make_converters(lt, self.mapping.profile, bounds[lt.layer], *observed[lt.layer])
                           for lt in self.mapping.tilings}

    def _forward(self, held: HeldState, x: np.ndarray, observe: dict | None,
                 traces: list[LayerTrace] | None) -> np.ndarray:
        for index, layer in enumerate(self.mapping.model.layers):
            if layer.analog:
                x = self._analog(held, index, layer, x, observe, traces)
            elif traces is not None:
                out, pool_index = layer.forward_indexed(x)
                traces.append(LayerTrace(layer=index, input_shape=x.shape, pool_index=pool_index))
                x = out
            else:
                x = layer.forward(x)
        return x

    def _analog(self, held: HeldState, index: int, layer, x: np.ndarray, observe: dict | None,
                traces: list[LayerTrace] | None) -> np.ndarray:
        lt = self.mapping.tiling_of(index)
        conv = self.converters[index]
        rows = layer.rows(x)
        if observe is not None:  # calibration pass: exact inputs, record ranges
            xq = rows
        else:
            xq = np.empty_like(rows)
            _kernels.dac_quantize(np.ascontiguousarray(rows), conv.dac_lo, conv.dac_hi, float(conv.dac_steps), xq)
        weights = held.slices(index)
        acc = np.zeros((rows.shape[0], lt.fan_out))
        base = float(lt.layout.base)
        seen = np.zeros((lt.row_blocks, lt.layout.slices, lt.fan_out)) if observe is not None else None
        for rb in range(lt.row_blocks):
            r = lt.row_range(rb)
            xr = xq[:, r]
            for s, w in enumerate(weights):
                partial = xr @ w[r]
                if seen is not None:
                    seen[rb, s] = np.abs(partial).max(axis=0) if partial.size else 0.0
                    acc += base ** s * partial
                else:
                    _kernels.adc_accumulate(partial, acc, conv.adc_step[rb, s], float(conv.adc_qmin),
                                            float(conv.adc_qmax), base ** s)
        if lt.layout.offset:
            acc -= lt.layout.offset * xq.sum(axis=1, keepdims=True)
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

    # ------------------------------------------------------------------------------------------------- events
    def _events(self, held: HeldState, batch: int, above: int) -> Ledger:
        """Events of ``batch`` samples through every stage after layer ``above`` (-1: the whole forward pass)."""
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
