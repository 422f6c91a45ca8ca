"""Event counts and serial steps of one inference, derived once from the mapping (closed form, exact).

Per MVM vector (one sample of a dense layer, one output pixel of a convolution), every tile of the layer:
converts its used rows with its DACs, reads its used cells, converts ``weights x slices`` column outputs with its
shared ADCs (``columns_per_adc`` columns per ADC, converted one after another), and the digital neurons accumulate
one partial sum per row block and slice, then activate. NoC traffic per inference comes from the placement.

Time: tiles of a layer work in parallel; a layer is a pipeline stage; samples stream through the stages, so a batch
of B samples takes the sum of the stages' times plus (B - 1) times the slowest stage's time. The stages' per-sample
steps are declared in the ledger and the batches counted as pipeline runs; which stage is slowest is decided when
the ledger is priced (:meth:`neurosim.ledger.Ledger.serial_steps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mapping.mapper import Mapping


@dataclass(frozen=True)
class StageEvents:
    """Events of one analog layer (with the digital layers after it) for one sample."""

    layer: int
    vectors: int
    counts: dict[str, int]
    steps: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The stage's name in the ledger (the analog layer's index)."""
        return str(self.layer)


def stage_events(mapping: Mapping) -> list[StageEvents]:
    """Per-sample events of every pipeline stage (one per analog layer)."""
    model, profile, placement = mapping.model, mapping.profile, mapping.placement
    cols, per_adc = profile.crossbar.cols, profile.periphery.columns_per_adc
    adcs_per_tile = -(-cols // per_adc)
    shapes = model.input_shapes()
    analog_positions = [lt.layer for lt in mapping.tilings]
    stages = []
    for n, lt in enumerate(mapping.tilings):
        layer = model.layers[lt.layer]
        vectors = layer.vectors_per_sample(shapes[lt.layer])
        slices = lt.layout.slices
        dac = sum(t.rows_used for t in lt.tiles)
        reads = sum(t.rows_used * t.cols_used for t in lt.tiles)
        adc = sum(t.weights_used * slices for t in lt.tiles)
        accumulate = lt.fan_out * (lt.row_blocks * slices + 1)
        adc_serial = max(-(-(t.weights_used * slices) // adcs_per_tile) for t in lt.tiles)
        # digital layers up to the next analog layer run in the neurons of this stage
        end = analog_positions[n + 1] if n + 1 < len(analog_positions) else len(model.layers)
        digital = sum(model.layers[i].neuron_ops(shapes[i]) for i in range(lt.layer + 1, end))
        transfers = [t for t in placement.transfers if t.layer == lt.layer]
        noc = sum(t.flits * placement.hops(t.src, t.dst) for t in transfers)
        noc_steps = max((placement.hops(t.src, t.dst) + t.flits - 1 for t in transfers
                         if placement.hops(t.src, t.dst) > 0), default=0)
        counts = {"dac_conversions": vectors * dac, "cell_reads": vectors * reads,
                  "adc_conversions": vectors * adc, "neuron_updates": vectors * accumulate + digital,
                  "noc_flit_hops": noc}
        steps = {"dac": vectors, "crossbar_read": vectors, "adc": vectors * adc_serial,
                 "neuron": vectors * (lt.row_blocks * slices + 1) + (1 if digital else 0), "noc_hop": noc_steps}
        stages.append(StageEvents(layer=lt.layer, vectors=vectors, counts=counts, steps=steps))
    return stages
