"""The simulated chip (neurosim.chip): exact inference on the ideal profile, event accounting, writes through the
memory's door, converters, reports, determinism and the numba kernels' numpy twins."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
from conftest import MNIST_SAMPLE

import neurosim
from neurosim import Chip, WriteRequestError, load_profile
from neurosim.chip import _kernels, _twins
from neurosim.data import load_dataset
from neurosim.nn import Conv2D, Dense, Flatten, MaxPool2D, quantize_symmetric, sequential, ternarize_twn

N_MNIST = 300


# --------------------------------------------------------------------------------------------- fixtures
@functools.cache
def _data(name: str):
    return load_dataset(name)


@functools.cache
def _model(name: str):
    return neurosim.load_model(name)


def _x_test(model_name: str) -> np.ndarray:
    data = {"digits_mlp": "digits", "iris_mlp": "iris", "mnist_mlp": MNIST_SAMPLE,
            "mnist_cnn": MNIST_SAMPLE}[model_name]
    x = _data(data).x_test
    return x[:N_MNIST] if data == MNIST_SAMPLE else x


@functools.cache
def _random_cnn():
    """A small random ternary CNN: strided padded conv, conv, max-pool, flatten, dense."""
    rng = np.random.default_rng(1234)
    c1, s1 = ternarize_twn(rng.standard_normal((3, 3, 2, 5)))
    c2, s2 = ternarize_twn(rng.standard_normal((3, 3, 5, 8)))
    c3, s3 = ternarize_twn(rng.standard_normal((2 * 2 * 8, 4)))
    return sequential("random_cnn", (12, 12, 2), 4, [
        Conv2D(codes=c1, scale=s1, bias=0.1 * rng.standard_normal(5), stride=2, padding=1),
        Conv2D(codes=c2, scale=s2, bias=0.1 * rng.standard_normal(8), stride=1, padding=1),
        MaxPool2D(3), Flatten(),
        Dense(codes=c3, scale=s3, bias=0.1 * rng.standard_normal(4), activation="none")])


@functools.cache
def _random_cnn_inputs():
    return np.random.default_rng(99).random((60, 12, 12, 2))


@functools.cache
def _four_bit_mlp():
    rng = np.random.default_rng(7)
    q1, t1 = quantize_symmetric(rng.standard_normal((64, 32)), 4)
    q2, t2 = quantize_symmetric(rng.standard_normal((32, 10)), 4)
    return sequential("four_bit_mlp", (8, 8, 1), 10, [
        Flatten(), Dense(codes=q1, scale=t1, bias=0.05 * rng.standard_normal(32), weight_bits=4),
        Dense(codes=q2, scale=t2, bias=np.zeros(10), weight_bits=4, activation="none")])


def _bit_slice_ideal():
    return load_profile("ideal").replace({"crossbar.weight_encoding": "bit_slice", "crossbar.cells_per_weight": 4})


def _reference_column_ideal():
    return load_profile("ideal").replace({"device.levels": 4, "crossbar.weight_encoding": "reference_column",
                                          "crossbar.cells_per_weight": 1})


def _tiny(profile):
    return profile.replace({"crossbar.rows": 16, "crossbar.cols": 8})


def _assert_exact(chip: Chip, model, x):
    """Same predictions as the reference model, logits equal up to the 32-bit converters' rounding (relative to
    the logits' scale: the converters' guaranteed ranges grow with the layers' interval bounds)."""
    logits = chip.forward(x)
    reference = model.forward(x)
    assert logits.shape == reference.shape == (len(x), model.n_classes)
    np.testing.assert_array_equal(chip.predict(x), model.predict(x))
    np.testing.assert_allclose(logits, reference, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(reference).max())))


# -------------------------------------------------------------------------------- exact on the ideal chip
@pytest.mark.parametrize("model_name", ["digits_mlp", "iris_mlp", "mnist_mlp", "mnist_cnn"])
def test_ideal_chip_equals_reference_model(model_name):
    model = _model(model_name)
    x = _x_test(model_name)
    chip = Chip("ideal", model)
    np.testing.assert_array_equal(chip.predict(x), model.predict(x))
    np.testing.assert_allclose(chip.forward(x), model.forward(x), rtol=1e-6, atol=1e-6)


def test_ideal_chip_accepts_a_model_name():
    chip = Chip("ideal", "iris_mlp")
    x = _x_test("iris_mlp")
    np.testing.assert_array_equal(chip.predict(x), _model("iris_mlp").predict(x))


def test_ideal_chip_on_random_strided_cnn():
    model = _random_cnn()
    chip = Chip("ideal", model)
    assert [lt.layer for lt in chip.mapping.tilings] == [0, 1, 4]
    _assert_exact(chip, model, _random_cnn_inputs())


def test_ideal_chip_on_four_bit_bit_slice_weights():
    model = _four_bit_mlp()
    chip = Chip(_bit_slice_ideal(), model)
    lt = chip.mapping.tilings[0]
    assert (lt.layout.slices, lt.layout.offset, lt.max_code) == (4, 7, 7)
    _assert_exact(chip, model, _x_test("digits_mlp"))
    for index, layer in model.analog_layers():
        np.testing.assert_array_equal(chip.stored_codes(index), layer.codes)


def test_ideal_chip_on_reference_column_cells():
    model = _model("digits_mlp")
    chip = Chip(_reference_column_ideal(), model)
    assert chip.mapping.tilings[0].ref_index is not None
    _assert_exact(chip, model, _x_test("digits_mlp"))


@pytest.mark.parametrize("variant,model_key", [
    ("differential_pair", "digits_mlp"), ("differential_pair", "random_cnn"),
    ("bit_slice", "digits_mlp"), ("bit_slice", "random_cnn"), ("bit_slice", "four_bit_mlp"),
    ("reference_column", "digits_mlp"), ("reference_column", "random_cnn"),
])
def test_ideal_chip_exact_on_tiny_crossbars(variant, model_key):
    """16 x 8 crossbars: layers are cut into several row blocks and several column blocks."""
    profile = {"differential_pair": load_profile("ideal"), "bit_slice": _bit_slice_ideal(),
               "reference_column": _reference_column_ideal()}[variant]
    model, x = {"digits_mlp": (_model("digits_mlp"), _x_test("digits_mlp")),
                "random_cnn": (_random_cnn(), _random_cnn_inputs()),
                "four_bit_mlp": (_four_bit_mlp(), _x_test("digits_mlp"))}[model_key]
    chip = Chip(_tiny(profile), model)
    assert any(lt.row_blocks > 1 and lt.col_blocks > 1 for lt in chip.mapping.tilings)
    assert chip.mapping.n_tiles > len(chip.mapping.tilings)
    _assert_exact(chip, model, x)


def test_ideal_chip_with_calibration_stays_exact():
    """Wide (32-bit) converters ignore calibration: the ideal chip stays exact."""
    model = _model("digits_mlp")
    chip = Chip("ideal", model, calibration=_data("digits").x_train[:200])
    _assert_exact(chip, model, _x_test("digits_mlp"))


def test_forward_accepts_flat_inputs():
    model = _model("digits_mlp")
    x = _x_test("digits_mlp")[:20]
    chip = Chip("ideal", model)
    np.testing.assert_array_equal(chip.forward(x.reshape(20, -1), count=False), chip.forward(x, count=False))


# ------------------------------------------------------------------------------------------- accounting
def _vectors(model, layer_index: int) -> int:
    """MVM vectors per sample: 1 for a dense layer, output pixels for a convolution."""
    layer = model.layers[layer_index]
    if layer.kind == "dense":
        return 1
    out = layer.output_shape(model.input_shapes()[layer_index])
    return out[0] * out[1]


def _expected_counts(chip: Chip, x: np.ndarray) -> dict[str, object]:
    """Events of one forward pass of ``x``, worked out independently: closed form from the tiles, and from the
    DAC-quantised inputs (an uncounted trace) the driven rows and the stored levels of the cells they read."""
    model, batch = chip.model, x.shape[0]
    _, traces = chip.trace(x, count=False)
    stored = chip.memory.stored_levels
    levels = chip.profile.device.levels
    adc = bitlines = dac = 0
    reads = np.zeros(levels, dtype=np.int64)
    for lt in chip.mapping.tilings:
        v = _vectors(model, lt.layer)
        adc += v * sum(t.weights_used * lt.layout.slices for t in lt.tiles)
        bitlines += v * sum(t.cols_used for t in lt.tiles)
        driven = traces[lt.layer].mvm_inputs != 0  # (vectors, fan_in): a zero input drives no row
        dac += int(driven.sum()) * lt.col_blocks
        for row in range(lt.fan_in):
            n = int(driven[:, row].sum())
            if n:
                cells = stored[lt.cell_index[row]].ravel()
                if lt.ref_index is not None:
                    cells = np.concatenate([cells, stored[lt.ref_index[row]]])
                reads += n * np.bincount(cells, minlength=levels)
    return {"adc_conversions": batch * adc, "bitline_reads": batch * bitlines, "sample_holds": batch * bitlines,
            "dac_conversions": dac, "wordline_activations": dac,
            "noc_flit_hops": batch * chip.mapping.placement.flit_hops,
            "macs": batch * sum(_vectors(model, lt.layer) * lt.fan_in * lt.fan_out for lt in chip.mapping.tilings),
            "cell_reads": reads}


_ACCOUNTING_CASES = {
    "digits_mlp-ideal": lambda: (Chip("ideal", _model("digits_mlp")), _x_test("digits_mlp")),
    "mnist_mlp-rram": lambda: (Chip("rram_hfo2", _model("mnist_mlp")), _x_test("mnist_mlp")),
    "random_cnn-tiny": lambda: (Chip(_tiny(load_profile("ideal")), _random_cnn()), _random_cnn_inputs()),
    "four_bit-bit_slice": lambda: (Chip(_bit_slice_ideal(), _four_bit_mlp()), _x_test("digits_mlp")),
    "digits_mlp-pcm": lambda: (Chip("pcm", _model("digits_mlp")), _x_test("digits_mlp")),
}


@pytest.mark.parametrize("case", sorted(_ACCOUNTING_CASES))
def test_event_counts_match_the_mapping_and_the_data(case):
    twin, x = _ACCOUNTING_CASES[case]()  # the same chip (same seed: same read-noise draws) to trace the inputs
    chip, _ = _ACCOUNTING_CASES[case]()
    batch = 13
    expected = _expected_counts(twin, x[:batch])
    before = chip.ledger.copy()
    chip.forward(x[:batch])
    counted = chip.ledger - before
    for key, n in expected.items():
        if key == "cell_reads":
            np.testing.assert_array_equal(counted.cell_reads, n)
        else:
            assert counted.counts[key] == n, key
    assert counted.counts["neuron_updates"] > 0 and counted.reads_total > 0
    assert counted.writes_total == 0 and counted.counts["write_verify_reads"] == 0  # inference writes nothing
    assert chip.inferences == batch
    if case == "mnist_mlp-rram":
        assert expected["noc_flit_hops"] > 0  # a multi-core mapping really moves flits


def test_event_counts_add_up_sample_by_sample():
    """Counts of a batch are the sums of its samples' counts (the data-dependent ones included)."""
    x = _x_test("mnist_cnn")[:6]
    quiet = load_profile("rram_hfo2").replace({"device.read_noise_sigma": 0.0})  # the same draws whatever the batch
    together = Chip(quiet, _model("mnist_cnn"))
    apart = Chip(quiet, _model("mnist_cnn"))
    together.forward(x)
    for i in range(len(x)):
        apart.forward(x[i: i + 1])
    a, b = together.ledger - together.programming_ledger, apart.ledger - apart.programming_ledger
    assert a.counts == b.counts
    np.testing.assert_array_equal(a.cell_reads, b.cell_reads)
    assert a.counts["adc_conversions"] > 0 and a.counts["noc_flit_hops"] > 0


def test_zero_inputs_cost_less_than_real_ones():
    x = _x_test("mnist_mlp")[:50]
    costs = []
    for batch in (np.zeros_like(x), x):
        chip = Chip("rram_hfo2", _model("mnist_mlp"))
        chip.forward(batch)
        costs.append(chip.report())
    zero, real = costs
    assert zero.total_energy_per_inference_j < real.total_energy_per_inference_j
    assert zero.energy_per_inference_j["read"] < real.energy_per_inference_j["read"]
    assert zero.energy_per_inference_j["dac"] < real.energy_per_inference_j["dac"]
    assert zero.energy_per_inference_j["adc"] == real.energy_per_inference_j["adc"]  # every column still converts


def test_two_forward_calls_add_up():
    x = _x_test("digits_mlp")
    a = Chip("ideal", _model("digits_mlp"))
    a.forward(x[:5])
    a.forward(x[5:12])
    b = Chip("ideal", _model("digits_mlp"))
    b.forward(x[:12])
    da, db = a.ledger - a.programming_ledger, b.ledger - b.programming_ledger
    assert da.counts == db.counts and np.array_equal(da.cell_reads, db.cell_reads)
    assert a.inferences == b.inferences == 12


def test_count_false_counts_nothing():
    quiet, counted = Chip("rram_hfo2", _model("mnist_mlp")), Chip("rram_hfo2", _model("mnist_mlp"))
    before = quiet.ledger.copy()
    logits = quiet.forward(_x_test("mnist_mlp")[:20], count=False)
    assert quiet.ledger == before
    assert quiet.inferences == 0
    # the same chip counting gives the same logits (read noise included: same seed, same draws)
    np.testing.assert_array_equal(logits, counted.forward(_x_test("mnist_mlp")[:20]))
    assert counted.ledger != before


@pytest.mark.parametrize("variant", ["ideal", "bit_slice", "reference_column"])
def test_initial_programming_counted_every_cell_change(variant):
    """Cells start at level 0; on a fault-free profile every cell holding another level was written exactly once,
    and the programming ledger counted exactly those writes."""
    profile = {"ideal": load_profile("ideal"), "bit_slice": _bit_slice_ideal(),
               "reference_column": _reference_column_ideal()}[variant]
    model = _four_bit_mlp() if variant == "bit_slice" else _model("digits_mlp")
    chip = Chip(profile, model)
    stored = chip.memory.stored_levels
    changed = np.count_nonzero(stored)
    assert changed > 0
    assert chip.programming_ledger.writes_total == changed
    np.testing.assert_array_equal(chip.memory.write_counts, (stored != 0).astype(np.int64))
    # the transition matrix agrees: only 0 -> level events
    cw = chip.programming_ledger.cell_writes
    assert cw[0, 1:].sum() == changed and cw.sum() == changed
    assert chip.memory.summary().writes_total == changed


# --------------------------------------------------------------------------------- writes through the door
def _flip(chip: Chip, layer: int, old: int, new: int):
    """Change one weight of ``layer`` from ``old`` to ``new``; return (result, (i, j), new codes, cells before)."""
    codes = np.array(chip.model.layers[layer].codes, dtype=np.int64)
    i, j = (int(v) for v in np.argwhere(codes == old)[0])
    codes[i, j] = new
    before = chip.memory.stored_levels.copy()
    return chip.program_codes({layer: codes}), (i, j), codes, before


@pytest.mark.parametrize("old,new,cells", [(1, -1, 2), (-1, 1, 2), (1, 0, 1), (0, -1, 1), (0, 1, 1), (-1, 0, 1)])
def test_flipping_one_ternary_weight_writes_its_cells_only(old, new, cells):
    chip = Chip("ideal", _model("digits_mlp"))
    ledger_before = chip.ledger.copy()
    result, (i, j), codes, before = _flip(chip, 2, old, new)
    assert result.written == cells
    lt = chip.mapping.tiling_of(2)
    changed = np.flatnonzero(before != chip.memory.stored_levels)
    assert changed.size == cells
    assert set(changed.tolist()) <= set(lt.cell_index[i, j].ravel().tolist())
    assert sorted(result.written_cells.tolist()) == changed.tolist()
    assert (chip.ledger - ledger_before).writes_total == cells
    np.testing.assert_array_equal(chip.stored_codes(2), codes)
    np.testing.assert_array_equal(chip.stored_codes(1), chip.model.layers[1].codes)  # other layer untouched


def test_rewriting_the_same_codes_writes_nothing():
    chip = Chip("ideal", _model("digits_mlp"))
    digest = chip.memory.state_digest()
    result = chip.program_codes({i: layer.codes for i, layer in chip.model.analog_layers()})
    assert result.written == 0
    assert result.requested == sum(lt.cell_index.size for lt in chip.mapping.tilings)
    np.testing.assert_array_equal(chip.memory.stored_levels, Chip("ideal", _model("digits_mlp")).memory.stored_levels)
    assert chip.memory.state_digest() == digest  # no level, wear counter or noise offset changed


@pytest.mark.parametrize("profile_key", ["ideal", "bit_slice", "reference_column"])
def test_new_codes_change_only_their_cells_and_are_used_by_forward(profile_key):
    profile = {"ideal": load_profile("ideal"), "bit_slice": _bit_slice_ideal(),
               "reference_column": _reference_column_ideal()}[profile_key]
    model = _four_bit_mlp() if profile_key == "bit_slice" else _model("digits_mlp")
    chip = Chip(profile, model)
    rng = np.random.default_rng(5)
    new_codes = {}
    changed_cells = set()
    for index, layer in model.analog_layers():
        lt = chip.mapping.tiling_of(index)
        codes = np.array(layer.codes, dtype=np.int64)
        mask = rng.random(codes.shape) < 0.1
        codes[mask] = rng.integers(-lt.max_code, lt.max_code + 1, size=int(mask.sum()))
        new_codes[index] = codes
        diff = codes != np.asarray(layer.codes)
        changed_cells |= set(lt.cell_index[diff].ravel().tolist())
    before = chip.memory.stored_levels.copy()
    result = chip.program_codes(new_codes)
    changed = np.flatnonzero(before != chip.memory.stored_levels)
    assert result.written == changed.size > 0
    assert set(changed.tolist()) <= changed_cells  # no cell of an unchanged weight (nor a reference) moved
    for index, codes in new_codes.items():
        np.testing.assert_array_equal(chip.stored_codes(index), codes)
    x = _x_test("digits_mlp")
    _assert_exact(chip, model.with_codes(new_codes), x)


def test_forward_after_program_codes_on_the_cnn():
    model = _random_cnn()
    chip = Chip("ideal", model)
    x = _random_cnn_inputs()
    chip.forward(x[:2])  # fill the weight cache before the write
    codes = -np.asarray(model.layers[1].codes, dtype=np.int64)  # weights as (k, k, c_in, c_out)
    chip.program_codes({1: codes})
    np.testing.assert_array_equal(chip.stored_codes(1), codes)
    _assert_exact(chip, model.with_codes({1: codes}), x)


def test_conv_codes_as_a_weight_matrix_are_accepted():
    model = _random_cnn()
    chip = Chip("ideal", model)
    codes = -np.asarray(model.layers[0].codes, dtype=np.int64)
    chip.program_codes({0: codes.reshape(-1, codes.shape[-1])})
    np.testing.assert_array_equal(chip.stored_codes(0), codes)


@pytest.mark.parametrize("bad", ["too_big", "too_small", "wrong_shape", "flatten_layer", "missing_layer",
                                 "uint8_wrap"])
def test_bad_write_requests_raise_and_write_nothing(bad):
    model = _model("digits_mlp")
    chip = Chip("ideal", model)
    codes = np.array(model.layers[2].codes, dtype=np.int64)
    request = {
        "too_big": {2: np.where(codes == 1, 2, codes)},
        "too_small": {2: np.where(codes == -1, -2, codes)},
        "wrong_shape": {2: codes[:, :9]},
        "flatten_layer": {0: codes},
        "missing_layer": {7: codes},
        "uint8_wrap": {2: np.full(codes.shape, 255, dtype=np.uint8)},
    }[bad]
    digest = chip.memory.state_digest()
    ledger = chip.ledger.copy()
    with pytest.raises(WriteRequestError):
        chip.program_codes(request)
    assert chip.memory.state_digest() == digest
    assert chip.ledger == ledger


def test_a_bad_layer_in_a_request_rejects_the_whole_request():
    model = _model("digits_mlp")
    chip = Chip("ideal", model)
    digest = chip.memory.state_digest()
    good = -np.asarray(model.layers[1].codes, dtype=np.int64)
    with pytest.raises(WriteRequestError):
        chip.program_codes({1: good, 2: np.full(model.layers[2].codes.shape, 3)})
    assert chip.memory.state_digest() == digest


@pytest.mark.parametrize("index", [0, 3, -1])
def test_stored_codes_of_a_non_analog_layer_raise(index):
    chip = Chip("ideal", _model("digits_mlp"))
    with pytest.raises(WriteRequestError):
        chip.stored_codes(index)


def test_transposed_codes_are_rejected():
    model = _model("digits_mlp")
    chip = Chip("ideal", model)
    codes = np.asarray(model.layers[2].codes, dtype=np.int64)  # (64, 10)
    with pytest.raises(WriteRequestError):
        chip.program_codes({2: codes.T.copy()})  # (10, 64): same size, wrong shape
    np.testing.assert_array_equal(chip.stored_codes(2), codes)  # (what a rejected request must leave)


@pytest.mark.parametrize("codes", [0.7, 1.0, np.nan])
def test_non_integer_codes_are_rejected(codes):
    """Float codes are refused (not truncated: 0.7 would silently become 0), even integral-valued ones."""
    model = _model("digits_mlp")
    chip = Chip("ideal", model)
    digest = chip.memory.state_digest()
    with pytest.raises(WriteRequestError):
        chip.program_codes({2: np.full(model.layers[2].codes.shape, codes)})
    assert chip.memory.state_digest() == digest


# ------------------------------------------------------------------------------------------- converters
def _accuracy(chip: Chip, data) -> float:
    return float(np.mean(chip.predict(data.x_test) == data.y_test))


def test_narrow_adcs_lose_accuracy_and_calibration_recovers_it():
    digits = _data("digits")
    model = _model("digits_mlp")
    ideal = _accuracy(Chip("ideal", model), digits)
    narrow = load_profile("rram_hfo2").replace({"periphery.adc_bits": 4})
    for seed in (0, 1):
        plain = _accuracy(Chip(narrow, model, seed=seed), digits)
        calibrated = _accuracy(Chip(narrow, model, seed=seed, calibration=digits.x_train[:200]), digits)
        assert plain < ideal - 0.05
        assert calibrated >= plain
        assert calibrated > 0.9


def test_calibrated_ranges_are_within_the_guaranteed_ones():
    digits = _data("digits")
    model = _model("digits_mlp")
    narrow = load_profile("rram_hfo2").replace({"periphery.adc_bits": 4, "periphery.dac_bits": 6})
    plain = Chip(narrow, model)
    calibrated = Chip(narrow, model, calibration=digits.x_train[:200])
    tighter = False
    for lt in plain.mapping.tilings:
        g, c = plain.executor.converters[lt.layer], calibrated.executor.converters[lt.layer]
        assert not g.calibrated and c.calibrated
        assert c.adc_step.shape == g.adc_step.shape == (lt.row_blocks, lt.layout.slices, lt.fan_out)
        assert np.all(c.adc_step > 0)
        assert np.all(c.adc_step <= g.adc_step)
        assert c.dac_lo == g.dac_lo and c.dac_hi <= g.dac_hi
        assert (c.adc_qmin, c.adc_qmax) == (g.adc_qmin, g.adc_qmax) == (-8, 7)
        tighter |= bool(np.any(c.adc_step < g.adc_step))
    assert tighter


def test_exact_converters_keep_the_guaranteed_ranges_after_calibration():
    model = _model("digits_mlp")
    plain = Chip("ideal", model)
    calibrated = Chip("ideal", model, calibration=_data("digits").x_train[:100])
    for lt in plain.mapping.tilings:
        g, c = plain.executor.converters[lt.layer], calibrated.executor.converters[lt.layer]
        np.testing.assert_array_equal(c.adc_step, g.adc_step)
        assert (c.dac_lo, c.dac_hi) == (g.dac_lo, g.dac_hi)


def test_calibration_is_not_counted_as_inference():
    chip = Chip("rram_hfo2", _model("digits_mlp"))
    before = chip.ledger.copy()
    chip.calibrate(_data("digits").x_train[:50])
    assert chip.ledger == before and chip.inferences == 0


def test_calibration_needs_samples():
    chip = Chip("rram_hfo2", _model("digits_mlp"))
    with pytest.raises(neurosim.ModelError):
        chip.calibrate(np.zeros((0, 8, 8, 1)))


# ------------------------------------------------------------------------------------------------ report
def test_inference_report():
    model = _model("mnist_mlp")
    chip = Chip("rram_hfo2", model)
    x = _x_test("mnist_mlp")[:40]
    chip.forward(x)
    report = chip.report()
    e = report.energy_per_inference_j
    for cat in ("read", "adc", "dac", "neuron", "noc"):
        assert e[cat] > 0, cat
    assert e["write"] == 0 and e["write_verify"] == 0
    assert math.isclose(report.total_energy_per_inference_j, math.fsum(e.values()), rel_tol=1e-12)
    assert report.samples == 40
    assert report.latency_s > 0 and report.time_s > 0
    assert report.latency_s <= report.time_s
    assert math.isclose(report.power_w, report.total_energy_per_inference_j * report.samples / report.time_s,
                        rel_tol=1e-9)
    assert math.isclose(report.throughput_per_s, report.samples / report.time_s, rel_tol=1e-12)
    # energies per inference are the priced counts over the samples
    prof = chip.profile
    events = chip.ledger - chip.programming_ledger
    counts = events.counts
    assert math.isclose(e["adc"], counts["adc_conversions"] * prof.costs.adc_energy_j / 40, rel_tol=1e-12)
    off = 1 / prof.device.on_off_ratio
    on_equivalents = events.cell_reads[0] * off + events.cell_reads[1]  # binary cells: off and on
    assert math.isclose(e["read"], on_equivalents * prof.costs.read_energy_j / 40, rel_tol=1e-12)
    assert e["leakage"] == pytest.approx(prof.costs.core_leakage_w * chip.mapping.placement.n_cores
                                         * report.time_s / 40, rel=1e-12)
    d = report.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["samples"] == 40
    assert d["mapping"]["model"] == "mnist_mlp"
    assert "mnist_mlp" in report.format() and "rram_hfo2" in report.format()


def test_report_per_inference_energy_follows_the_data_and_the_pipeline():
    """Per inference: the closed-form categories do not depend on the batch; reads, DACs and wires follow the data
    (the same samples cost the same); leakage falls when a longer batch keeps the pipeline full."""
    x = _x_test("digits_mlp")
    quiet = load_profile("rram_hfo2").replace({"device.read_noise_sigma": 0.0})
    reports = {}
    for name, batches in (("one batch of 50", [x[:50]]), ("ten batches of 5", [x[i: i + 5] for i in range(0, 50, 5)])):
        chip = Chip(quiet, _model("digits_mlp"))
        for b in batches:
            chip.forward(b)
        reports[name] = chip.report().energy_per_inference_j
    one, ten = reports["one batch of 50"], reports["ten batches of 5"]
    for cat in ("adc", "sample_hold", "neuron", "noc", "buffer", "read", "dac", "wire"):
        assert math.isclose(one[cat], ten[cat], rel_tol=1e-12), cat
    assert one["leakage"] < ten["leakage"]


def test_report_excludes_writes_even_after_program_codes():
    model = _model("digits_mlp")
    chip = Chip("rram_hfo2", model)
    x = _x_test("digits_mlp")[:30]
    chip.forward(x)
    before = chip.report()
    codes = -np.asarray(model.layers[2].codes, dtype=np.int64)
    result = chip.program_codes({2: codes})
    assert result.written > 0
    assert chip.ledger.writes_total > chip.programming_ledger.writes_total
    after = chip.report()
    assert after.energy_per_inference_j["write"] == 0.0
    assert after.energy_per_inference_j["write_verify"] == 0.0
    assert after.energy_per_inference_j == before.energy_per_inference_j
    assert after.time_s == before.time_s
    json.dumps(after.to_dict())


def test_report_before_any_inference():
    chip = Chip("rram_hfo2", _model("iris_mlp"))
    report = chip.report()
    assert report.samples == 0
    assert report.total_energy_per_inference_j == 0.0
    assert report.power_w == 0.0
    assert report.latency_s > 0  # a property of the pipeline, known before running
    json.dumps(report.to_dict())


# ----------------------------------------------------------------------------------------- determinism
def test_same_seed_same_logits_on_a_noisy_profile():
    model = _model("digits_mlp")
    x = _x_test("digits_mlp")
    a = Chip("rram_hfo2", model, seed=11)
    b = Chip("rram_hfo2", model, seed=11)
    assert a.memory.state_digest() == b.memory.state_digest()
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    assert a.ledger == b.ledger


def test_different_seed_different_memory():
    model = _model("digits_mlp")
    x = _x_test("digits_mlp")
    a = Chip("rram_hfo2", model, seed=11)
    b = Chip("rram_hfo2", model, seed=12)
    assert a.memory.state_digest() != b.memory.state_digest()
    assert not np.array_equal(a.forward(x), b.forward(x))  # noise and faults differ


def test_noisy_chip_differs_from_the_reference_but_stays_accurate():
    model = _model("digits_mlp")
    digits = _data("digits")
    chip = Chip("rram_hfo2", model, calibration=digits.x_train[:200])
    assert not np.allclose(chip.forward(digits.x_test), model.forward(digits.x_test), rtol=1e-6, atol=1e-6)
    assert _accuracy(chip, digits) > 0.9


# --------------------------------------------------------------------------------------- kernel twins
def _dac_case(seed: int, shape, lo: float, hi: float, steps: int):
    rng = np.random.default_rng(seed)
    span = hi - lo
    x = rng.uniform(lo - 0.5 * span, hi + 0.5 * span, size=shape)  # a good share is clipped on both sides
    x.flat[:4] = [lo, hi, lo - 1e9, hi + 1e9]
    return x


@pytest.mark.parametrize("seed,shape,lo,hi,steps", [
    (0, (50, 17), 0.0, 1.0, 255),
    (1, (3, 4, 5), -2.5, 3.0, 15),
    (2, (200,), 0.0, 40.0, 1),
    (3, (10, 10), -1.0, 1.0, 2 ** 32 - 1),
    (4, (2, 2), 0.0, 1.0, 7),
])
def test_dac_quantize_matches_numpy_twin(seed, shape, lo, hi, steps):
    x = _dac_case(seed, shape, lo, hi, steps)
    got = np.empty_like(x)
    want = np.empty_like(x)
    _kernels.dac_quantize(x, lo, hi, float(steps), got)
    _twins.dac_quantize_numpy(x, lo, hi, float(steps), want)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got.min() >= lo - 1e-12 and got.max() <= hi + 1e-12
    # every output is one of the steps + 1 levels
    k = (got - lo) / ((hi - lo) / steps)
    np.testing.assert_allclose(k, np.rint(k), atol=1e-6 * max(1, steps / 1e6))
    assert got.flat[2] == lo and math.isclose(got.flat[3], hi, rel_tol=1e-12)


@pytest.mark.parametrize("seed,rows,cols,qbits,factor", [
    (0, 30, 12, 8, 1.0),
    (1, 7, 5, 4, 4.0),
    (2, 1, 40, 2, 0.5),
    (3, 64, 3, 32, 16.0),
])
def test_adc_accumulate_matches_numpy_twin(seed, rows, cols, qbits, factor):
    rng = np.random.default_rng(seed)
    qmax, qmin = 2 ** (qbits - 1) - 1, -(2 ** (qbits - 1))
    step = rng.uniform(0.01, 0.5, size=cols)
    partial = rng.normal(0.0, 1.0, size=(rows, cols)) * step * qmax * 1.5  # ~1/3 of the values clip
    partial[0, 0] = (qmax + 100) * step[0]
    partial[-1, -1] = (qmin - 100) * step[-1]
    acc0 = rng.normal(size=(rows, cols))
    got, want = acc0.copy(), acc0.copy()
    _kernels.adc_accumulate(partial, got, step, float(qmin), float(qmax), factor)
    _twins.adc_accumulate_numpy(partial, want, step, float(qmin), float(qmax), factor)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    added = (got - acc0) / factor
    assert np.all(added <= qmax * step + 1e-9) and np.all(added >= qmin * step - 1e-9)
    assert math.isclose(added[0, 0], qmax * step[0], rel_tol=1e-9)
    assert math.isclose(added[-1, -1], qmin * step[-1], rel_tol=1e-9)
    clipped = (np.abs(partial / step) > qmax + 0.5)
    assert clipped.any() and (~clipped).any()


@pytest.mark.parametrize("seed,rows,cols,qbits,factor", [(0, 30, 12, 8, 1.0), (1, 7, 5, 4, 4.0), (2, 1, 40, 2, 0.5)])
def test_adc_accumulate_noisy_matches_numpy_twin_bit_for_bit(seed, rows, cols, qbits, factor):
    rng = np.random.default_rng(seed)
    qmax, qmin = 2 ** (qbits - 1) - 1, -(2 ** (qbits - 1))
    step = rng.uniform(0.01, 0.5, size=cols)
    partial = rng.normal(0.0, 1.0, size=(rows, cols)) * step * qmax * 1.5
    noise, spread = rng.standard_normal((rows, cols)), rng.uniform(0.0, 3.0, rows)
    acc0 = rng.normal(size=(rows, cols))
    got, want = acc0.copy(), acc0.copy()
    _kernels.adc_accumulate_noisy(partial, noise, spread, got, step, float(qmin), float(qmax), factor)
    _twins.adc_accumulate_noisy_numpy(partial, noise, spread, want, step, float(qmin), float(qmax), factor)
    np.testing.assert_array_equal(got, want)  # the executor's numbers must not depend on which one ran
