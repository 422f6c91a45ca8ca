"""Event counts and serial steps of one inference that the mapping decides alone (closed form, exact).

Per MVM vector (one sample of a dense layer, one output pixel of a convolution) and per crossbar read (one, or one
per input digit when inputs go in bit-serially), every tile of the layer reads its used columns (one bit line and
one sample-and-hold each) and converts ``weights x slices`` column outputs with its shared ADCs
(``columns_per_adc`` columns per ADC, converted one after another); the digital neurons shift-add one partial sum per
row block, slice and read, then activate; the layer reads its inputs from and writes its outputs to the cores'
activation buffers (``ceil(input_bits / 8)`` bytes per value); NoC traffic per inference comes from the placement.
What depends on the data (driven rows: DAC conversions, word lines, cell reads by level) is counted by the executor
from the actual inputs; :attr:`StageEvents.dense` gives it for inputs that drive every row (the transposed reads of
error back-propagation are counted so).

Time: tiles of a layer work in parallel; a layer is a pipeline stage; samples stream through the stages, so a batch
of B samples takes the sum of the stages' times plus (B - 1) times the slowest stage's time. The stages' per-sample
steps are declared in the ledger and the batches counted as pipeline runs; which stage is slowest is decided when
the ledger is priced (:meth:`neurosim.ledger.Ledger.serial_steps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..mapping.mapper import Mapping


@dataclass(frozen=True)
class StageEvents:
    """Events of one analog layer (with the digital layers after it) for one sample."""

    layer: int
    vectors: int
    cycles: int
    counts: dict[str, int]
    dense: dict[str, int]
    steps: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The stage's name in the ledger (the analog layer's index)."""
        return str(self.layer)


def stage_events(mapping: Mapping, cycles: int = 1) -> list[StageEvents]:
    """Per-sample events of every pipeline stage (one per analog layer); ``cycles`` crossbar reads per input."""
    model, profile, placement = mapping.model, mapping.profile, mapping.placement
    cols, per_adc = profile.crossbar.cols, profile.periphery.columns_per_adc
    adcs_per_tile = -(-cols // per_adc)
    value_bytes = -(-profile.periphery.input_bits // 8)
    shapes = model.input_shapes()
    analog_positions = [lt.layer for lt in mapping.tilings]
    stages = []
    for n, lt in enumerate(mapping.tilings):
        layer = model.layers[lt.layer]
        vectors = layer.vectors_per_sample(shapes[lt.layer])
        slices = lt.layout.slices
        dac = sum(t.rows_used for t in lt.tiles)
        bitlines = sum(t.cols_used for t in lt.tiles)
        reads = sum(t.rows_used * t.cols_used for t in lt.tiles)
        adc = sum(t.weights_used * slices for t in lt.tiles)
        accumulate = lt.fan_out * (lt.row_blocks * slices * cycles + 1)
        adc_serial = max(-(-(t.weights_used * slices) // adcs_per_tile) for t in lt.tiles)
        # digital layers up to the next analog layer run in the neurons of this stage
        end = analog_positions[n + 1] if n + 1 < len(analog_positions) else len(model.layers)
        digital = sum(model.layers[i].neuron_ops(shapes[i]) for i in range(lt.layer + 1, end))
        transfers = [t for t in placement.transfers if t.layer == lt.layer]
        noc = sum(t.flits * placement.hops(t.src, t.dst) for t in transfers)
        noc_steps = max((placement.hops(t.src, t.dst) + t.flits - 1 for t in transfers
                         if placement.hops(t.src, t.dst) > 0), default=0)
        reads_per_vector = vectors * cycles
        counts = {"adc_conversions": reads_per_vector * adc, "bitline_reads": reads_per_vector * bitlines,
                  "sample_holds": reads_per_vector * bitlines,
                  "neuron_updates": vectors * accumulate + digital, "noc_flit_hops": noc,
                  "buffer_bytes_read": int(np.prod(shapes[lt.layer])) * value_bytes,
                  "buffer_bytes_written": int(np.prod(layer.output_shape(shapes[lt.layer]))) * value_bytes,
                  "macs": vectors * lt.fan_in * lt.fan_out}
        dense = {"dac_conversions": reads_per_vector * dac, "wordline_activations": reads_per_vector * dac,
                 "cell_reads": reads_per_vector * reads}
        steps = {"dac": reads_per_vector, "crossbar_read": reads_per_vector, "adc": reads_per_vector * adc_serial,
                 "neuron": vectors * (lt.row_blocks * slices * cycles + 1) + (1 if digital else 0),
                 "noc_hop": noc_steps}
        stages.append(StageEvents(layer=lt.layer, vectors=vectors, cycles=cycles, counts=counts, dense=dense,
                                  steps=steps))
    return stages
