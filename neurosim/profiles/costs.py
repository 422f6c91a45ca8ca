"""Per-action costs of a profile: derived from component attributes by the models of
:mod:`neurosim.profiles.components`, unless the profile pins them.

:class:`Costs` is what the ledger's price table reads (``costs.adc_energy_j``...). Every figure carries its
provenance: ``"derived (model: inputs)"`` or ``"pinned"`` (a value the profile file states, which no model
overrides), or ``"attribute"`` (a profile value used as it is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from . import components as cm

#: capacity of a core's lookup-table memory (the integer-only executor's product tables)
LUT_MEMORY_BYTES = 1024.0


@dataclass(frozen=True)
class Costs:
    """Energy (J), latency (s), static power (W) and area (m^2) per action or component, in SI units."""

    # cells
    set_energy_j: float
    reset_energy_j: float
    read_energy_j: float  # one cell read at the highest level
    read_off_fraction: float  # a cell at the lowest level reads this fraction of read_energy_j (1 / on_off_ratio)
    set_latency_s: float
    reset_latency_s: float
    read_latency_s: float
    # crossbar wires
    wordline_energy_j: float  # charging one word line of a tile (one driven row)
    bitline_energy_j: float  # charging one bit line of a tile (one column read)
    wire_segment_ohm: float  # wire resistance between neighbouring cells
    # periphery
    dac_energy_j: float
    dac_latency_s: float
    adc_energy_j: float
    adc_latency_s: float
    sample_hold_energy_j: float
    # cores, NoC, buffers
    neuron_update_energy_j: float
    neuron_update_latency_s: float
    # spiking and lookup-table execution
    tick_s: float
    synaptic_event_energy_j: float
    neuron_tick_energy_j: float
    active_neuron_tick_energy_j: float
    spike_energy_j: float
    int_add_energy_j: float
    lut_read_energy_per_byte_j: float
    noc_energy_per_flit_hop_j: float
    noc_latency_per_flit_hop_s: float
    clock_period_s: float
    buffer_read_energy_per_byte_j: float
    buffer_write_energy_per_byte_j: float
    aux_read_energy_per_byte_j: float
    aux_write_energy_per_byte_j: float
    offchip_energy_per_byte_j: float  # spilled trainer state, per byte moved either way
    # static power
    core_leakage_w: float  # one core: logic and its activation buffer
    aux_leakage_w_per_byte: float
    # areas
    cell_area_m2: float
    adc_area_m2: float
    dac_area_m2: float
    sample_hold_area_m2: float
    shift_add_area_m2: float
    neuron_area_m2: float
    core_buffer_area_m2: float
    router_area_m2: float
    aux_area_m2_per_byte: float
    tile_area_m2: float
    core_area_m2: float
    chip_area_m2: float
    provenance: dict[str, str] = field(compare=False, repr=False)

    def rows(self) -> list[tuple[str, float, str]]:
        """``(name, SI value, provenance)`` of every figure, for display."""
        return [(name, getattr(self, name), self.provenance.get(name, "attribute"))
                for name in self.__dataclass_fields__ if name != "provenance"]


def _g(x: float) -> str:
    return f"{x:.4g}"


def derive_costs(sections: dict[str, Any]) -> Costs:
    """The costs of a profile's validated sections (``device``, ``crossbar``, ``periphery``, ``core``, ``chip``,
    ``aux_memory``), pins winning over models."""
    dev, xbar, peri = sections["device"], sections["crossbar"], sections["periphery"]
    core, chip, aux = sections["core"], sections["chip"], sections["aux_memory"]
    prov: dict[str, str] = {}
    out: dict[str, float] = {}

    def put(name: str, pin: float | None, derive, how: str) -> None:
        if pin is not None:
            out[name], prov[name] = float(pin), "pinned"
        else:
            out[name], prov[name] = float(derive()), f"derived ({how})"

    # cells
    out.update(set_energy_j=dev.set_energy_j, reset_energy_j=dev.reset_energy_j, set_latency_s=dev.set_latency_s,
               reset_latency_s=dev.reset_latency_s, read_latency_s=dev.read_latency_s,
               read_off_fraction=1.0 / dev.on_off_ratio)
    put("read_energy_j", dev.read_energy_j,
        lambda: cm.cell_read_energy(dev.read_voltage_v, dev.on_conductance_siemens, dev.read_latency_s),
        f"V^2 G t: {_g(dev.read_voltage_v)} V, {_g(dev.on_conductance_siemens * 1e6)} uS, "
        f"{_g(dev.read_latency_s * 1e9)} ns")
    prov["read_off_fraction"] = f"derived (1 / on_off_ratio {_g(dev.on_off_ratio)})"
    # wires
    pitch = cm.cell_pitch(xbar.cell_area_f2, chip.feature_size_m)
    how = (f"C V^2: {_g(xbar.wire_capacitance_f_per_m * 1e9)} fF/um x {{n}} cells x {_g(pitch * 1e9)} nm pitch, "
           f"{_g(dev.read_voltage_v)} V")
    put("wordline_energy_j", None, lambda: cm.line_energy(xbar.cols, pitch, xbar.wire_capacitance_f_per_m,
                                                          dev.read_voltage_v), how.format(n=xbar.cols))
    put("bitline_energy_j", None, lambda: cm.line_energy(xbar.rows, pitch, xbar.wire_capacitance_f_per_m,
                                                         dev.read_voltage_v), how.format(n=xbar.rows))
    out["wire_segment_ohm"] = xbar.wire_segment_ohm
    # periphery
    put("dac_energy_j", peri.dac_energy_j, lambda: cm.dac_energy(peri.dac_bits, peri.dac_energy_per_step_j),
        f"{peri.dac_bits}-bit DAC: 2^bits - 1 steps x {_g(peri.dac_energy_per_step_j * 1e15)} fJ")
    out["dac_latency_s"] = peri.dac_latency_s
    step = {"sar": "x 2^bits", "flash": "x (2^bits - 1)", "digital": "x bits"}[peri.adc_type]
    put("adc_energy_j", peri.adc_energy_j, lambda: cm.adc_energy(peri.adc_type, peri.adc_bits,
                                                                 peri.adc_energy_per_step_j),
        f"{peri.adc_type} {peri.adc_bits}-bit: {_g(peri.adc_energy_per_step_j * 1e15)} fJ {step}")
    cycles = {"sar": "bits + 1 cycles", "flash": "1 cycle", "digital": "ceil(bits / 8) cycles"}[peri.adc_type]
    put("adc_latency_s", peri.adc_latency_s, lambda: cm.adc_latency(peri.adc_type, peri.adc_bits, peri.adc_clock_hz),
        f"{peri.adc_type} {peri.adc_bits}-bit: {cycles} at {_g(peri.adc_clock_hz / 1e6)} MHz")
    out["sample_hold_energy_j"] = peri.sample_hold_energy_j
    # cores, NoC, buffers
    out["neuron_update_energy_j"] = core.neuron_update_energy_j
    put("neuron_update_latency_s", core.neuron_update_latency_s, lambda: chip.clock_period_s,
        f"one cycle at {_g(chip.clock_hz / 1e6)} MHz")
    put("noc_energy_per_flit_hop_j", chip.noc_energy_per_flit_hop_j,
        lambda: cm.router_energy_per_flit_hop(chip.router_energy_per_bit_j, chip.flit_bits),
        f"{_g(chip.router_energy_per_bit_j * 1e15)} fJ/bit x {chip.flit_bits}-bit flits")
    out.update(noc_latency_per_flit_hop_s=chip.noc_latency_per_flit_hop_s, clock_period_s=chip.clock_period_s)
    ref = f"{_g(aux.energy_per_byte_j * 1e15)} fJ/B at 64 KiB x sqrt(capacity / 64 KiB)"
    put("buffer_read_energy_per_byte_j", None, lambda: cm.buffer_energy_per_byte(core.buffer_bytes,
                                                                                aux.energy_per_byte_j),
        f"{_g(core.buffer_bytes / 1024)} KiB {aux.technology}: {ref}")
    put("buffer_write_energy_per_byte_j", None, lambda: out["buffer_read_energy_per_byte_j"] * aux.write_read_ratio,
        f"read x {_g(aux.write_read_ratio)}")
    put("aux_read_energy_per_byte_j", aux.read_energy_per_byte_j,
        lambda: cm.buffer_energy_per_byte(aux.capacity_bytes, aux.energy_per_byte_j),
        f"{_g(aux.capacity_bytes / 1024)} KiB {aux.technology}: {ref}")
    put("aux_write_energy_per_byte_j", aux.write_energy_per_byte_j,
        lambda: out["aux_read_energy_per_byte_j"] * aux.write_read_ratio, f"read x {_g(aux.write_read_ratio)}")
    # spiking and lookup-table execution
    put("tick_s", core.tick_s, lambda: core.neurons * out["neuron_update_latency_s"],
        f"{core.neurons} neurons x {_g(out['neuron_update_latency_s'] * 1e9)} ns, one after another")
    put("int_add_energy_j", core.int_add_energy_j, lambda: cm.integer_add_energy(chip.feature_size_m),
        f"32-bit add: 0.1 pJ at 45 nm x {_g(chip.feature_size_m * 1e9)} nm / 45 nm")
    put("synaptic_event_energy_j", core.synaptic_event_energy_j,
        lambda: xbar.cells_per_weight * out["read_energy_j"] + out["int_add_energy_j"],
        f"{xbar.cells_per_weight} cell reads at the on-level + one integer addition")
    put("neuron_tick_energy_j", core.neuron_tick_energy_j, lambda: core.neuron_update_energy_j, "one neuron update")
    put("active_neuron_tick_energy_j", core.active_neuron_tick_energy_j, lambda: core.neuron_update_energy_j,
        "one neuron update")
    put("spike_energy_j", core.spike_energy_j, lambda: out["buffer_write_energy_per_byte_j"],
        "one byte written to the core's buffer")
    # lookup tables are small (an activation level x a weight code): a 1 KiB table memory beside the neurons
    put("lut_read_energy_per_byte_j", None, lambda: cm.buffer_energy_per_byte(LUT_MEMORY_BYTES, aux.energy_per_byte_j),
        f"1 KiB {aux.technology} table memory: {ref}")
    out["offchip_energy_per_byte_j"] = aux.off_chip_energy_per_byte_j
    # static power
    put("core_leakage_w", None, lambda: core.leakage_w + core.buffer_bytes * aux.leakage_w_per_byte,
        f"logic {_g(core.leakage_w * 1e6)} uW + buffer {_g(core.buffer_bytes / 1024)} KiB x "
        f"{_g(aux.leakage_w_per_byte * 1024 * 1e9)} nW/KiB")
    out["aux_leakage_w_per_byte"] = aux.leakage_w_per_byte
    # areas
    put("cell_area_m2", None, lambda: xbar.cell_area_f2 * chip.feature_size_m ** 2,
        f"{_g(xbar.cell_area_f2)} F^2 at F = {_g(chip.feature_size_m * 1e9)} nm")
    put("adc_area_m2", None, lambda: cm.adc_area(peri.adc_type, peri.adc_bits, peri.adc_area_per_step_m2),
        f"{peri.adc_type} {peri.adc_bits}-bit: {_g(peri.adc_area_per_step_m2 * 1e12)} um2 {step}")
    put("dac_area_m2", None, lambda: cm.dac_area(peri.dac_bits, peri.dac_area_per_step_m2),
        f"{peri.dac_bits}-bit DAC: 2^bits - 1 steps x {_g(peri.dac_area_per_step_m2 * 1e12)} um2")
    out.update(sample_hold_area_m2=peri.sample_hold_area_m2, shift_add_area_m2=peri.shift_add_area_m2,
               neuron_area_m2=core.neuron_area_m2, router_area_m2=chip.router_area_m2,
               aux_area_m2_per_byte=aux.area_m2_per_byte)
    put("core_buffer_area_m2", None, lambda: core.buffer_bytes * aux.area_m2_per_byte,
        f"{_g(core.buffer_bytes / 1024)} KiB x {_g(aux.area_m2_per_byte * 1024 * 1e12)} um2/KiB")
    adcs = math.ceil(xbar.cols / peri.columns_per_adc)
    put("tile_area_m2", None, lambda: (xbar.rows * xbar.cols * out["cell_area_m2"] + adcs * out["adc_area_m2"]
                                       + xbar.rows * out["dac_area_m2"] + xbar.cols * peri.sample_hold_area_m2
                                       + adcs * peri.shift_add_area_m2),
        f"{xbar.rows}x{xbar.cols} cells + {adcs} ADCs + {xbar.rows} DACs + {xbar.cols} S&H + {adcs} shift-add")
    put("core_area_m2", None, lambda: (core.crossbars_per_core * out["tile_area_m2"]
                                       + core.neurons * core.neuron_area_m2 + out["core_buffer_area_m2"]
                                       + chip.router_area_m2),
        f"{core.crossbars_per_core} tiles + {core.neurons} neurons + buffer + router")
    put("chip_area_m2", None, lambda: (chip.mesh_rows * chip.mesh_cols * out["core_area_m2"]
                                       + aux.capacity_bytes * aux.area_m2_per_byte),
        f"{chip.mesh_rows}x{chip.mesh_cols} cores + {_g(aux.capacity_bytes / 1024)} KiB aux memory")
    for name in out:
        prov.setdefault(name, "attribute")
    return Costs(provenance=prov, **out)




@dataclass(frozen=True)
class ComponentFigure:
    """One component kind of a core at full activity: how many, its power (W) and its area (m^2) in all."""

    count: int
    power_w: float
    area_m2: float


def core_breakdown(profile: Any) -> dict[str, ComponentFigure]:
    """Power and area of one core's components at full activity, from the profile's costs: the operating point
    accelerator papers tabulate (ISAAC's Table I, for one).

    Full activity: every crossbar reads every read cycle (``device.read_latency``) with every row driven and its
    cells spread evenly over the levels; inputs of ``input_bits`` go in ``ceil(input_bits / dac_bits)`` reads each;
    every column is sampled and converted once per read and its conversion shift-added; the activation buffer
    supplies each crossbar's inputs once per input vector and takes its outputs (``ceil(input_bits / 8)`` bytes a
    value); the outputs leave the core over one router hop. Leakage is the core's static power.
    """
    c, xbar, peri, core = profile.costs, profile.crossbar, profile.periphery, profile.core
    n = core.crossbars_per_core
    rows, cols = xbar.rows, xbar.cols
    cycles = 1 if peri.exact or peri.input_bits <= peri.dac_bits else -(-peri.input_bits // peri.dac_bits)
    period = c.read_latency_s
    adcs = math.ceil(cols / peri.columns_per_adc)
    mean_level = c.read_off_fraction + (1.0 - c.read_off_fraction) * 0.5  # levels spread evenly: the mean conductance
    array_read = rows * cols * c.read_energy_j * mean_level + rows * c.wordline_energy_j + cols * c.bitline_energy_j
    value_bytes = -(-peri.input_bits // 8)
    vector_time = cycles * period
    weights = cols  # one value out per column: the most a crossbar can produce
    read_bytes, written_bytes = n * rows * value_bytes / vector_time, n * weights * value_bytes / vector_time
    return {
        "crossbars": ComponentFigure(n, n * array_read / period, n * rows * cols * c.cell_area_m2),
        "dac": ComponentFigure(n * rows, n * rows * c.dac_energy_j / period, n * rows * c.dac_area_m2),
        "sample_hold": ComponentFigure(n * cols, n * cols * c.sample_hold_energy_j / period,
                                       n * cols * c.sample_hold_area_m2),
        "adc": ComponentFigure(n * adcs, n * cols * c.adc_energy_j / period, n * adcs * c.adc_area_m2),
        "shift_add": ComponentFigure(n * adcs, n * cols * c.neuron_update_energy_j / period,
                                     n * adcs * c.shift_add_area_m2),
        "buffer": ComponentFigure(1, read_bytes * c.buffer_read_energy_per_byte_j
                                  + written_bytes * c.buffer_write_energy_per_byte_j, c.core_buffer_area_m2),
        "router": ComponentFigure(1, written_bytes * 8 * c.noc_energy_per_flit_hop_j / profile.chip.flit_bits,
                                  c.router_area_m2),
        "neurons": ComponentFigure(core.neurons, 0.0, core.neurons * c.neuron_area_m2),
        "leakage": ComponentFigure(1, c.core_leakage_w, 0.0),
    }


__all__ = ["Costs", "ComponentFigure", "derive_costs", "core_breakdown"]
