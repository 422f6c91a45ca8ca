"""The ``lut`` executor: integer-only inference by product lookup tables (ALGORITHMS.md section 5).

Kernels against their numpy twins, the claim that the integer path holds no float and no multiplication (checked on
the data and on the numba kernels' typed IR), accuracy against the reference model, the events it counts and their
pricing, the executor contract, and the deployable memory.
"""

from __future__ import annotations

import io
import math
import operator
import time
from dataclasses import fields, replace

import numba as nb
import numpy as np
import pytest
import test_executors as contract  # the conformance test every registered executor passes (run below for "lut")
from conftest import MNIST_SAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st
from numba.core import ir, types

import neurosim
import neurosim.chip.executors.lut as lut  # registers "lut"
from neurosim.chip import _lut_kernels, _lut_twins
from neurosim.data import load_dataset
from neurosim.errors import ExecutorError
from neurosim.nn import Dense, Flatten
from neurosim.nn.model import Model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset(MNIST_SAMPLE)


def _lut_chip(model, calibration=None, profile="ideal", **options):
    return neurosim.Chip(profile, model, executor="lut", executor_options=options, calibration=calibration)


def _accuracy(chip, x, y) -> float:
    return float(np.mean(chip.predict(x, count=False) == y))


# ------------------------------------------------------------------------------------------ kernels and twins
def _sparse_rows(codes: np.ndarray, top: int):
    nonzero = codes != 0
    row_ptr = np.concatenate([[0], np.cumsum(nonzero.sum(axis=1))]).astype(np.int64)
    rows, cols = np.nonzero(nonzero)
    return row_ptr, cols.astype(np.int64), (codes[rows, cols] + top).astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 6), fan_in=st.integers(1, 12), fan_out=st.integers(1, 9), levels=st.integers(2, 256),
       top=st.integers(1, 7), seed=st.integers(0, 2 ** 32 - 1))
def test_accumulate_kernel_equals_twin(n, fan_in, fan_out, levels, top, seed):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, levels, (n, fan_in)).astype(np.uint8)
    indices[rng.random(indices.shape) < 0.4] = 0  # zero activations are skipped
    codes = rng.integers(-top, top + 1, (fan_in, fan_out))
    table = rng.integers(-2 ** 31, 2 ** 31, (levels, 2 * top + 1))
    bias = rng.integers(-2 ** 31, 2 ** 31, fan_out)
    args = (indices, *_sparse_rows(codes, top), table, bias)
    out_kernel, out_twin = (np.full((n, fan_out), -7, dtype=np.int64) for _ in range(2))
    done_kernel = _lut_kernels.lut_accumulate(*args, out_kernel)
    done_twin = _lut_twins.lut_accumulate_numpy(*args, out_twin)
    np.testing.assert_array_equal(out_kernel, out_twin)
    lookups = int(((indices != 0).astype(np.int64) @ (codes != 0).sum(axis=1)).sum())
    assert done_kernel == done_twin == lookups
    # with a real table (index 0 and code 0 give 0) the skipped terms change nothing: the plain definition
    table[0] = 0
    table[:, top] = 0
    _lut_kernels.lut_accumulate(indices, *args[1:4], table, bias, out_kernel)
    np.testing.assert_array_equal(out_kernel, bias + table[indices[:, :, None], (codes + top)[None]].sum(axis=1))


@settings(max_examples=60, deadline=None)
@given(levels=st.integers(2, 256), shape=st.tuples(st.integers(0, 5), st.integers(1, 7)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_quantize_kernel_equals_twin_and_searchsorted(levels, shape, seed):
    rng = np.random.default_rng(seed)
    depth = (levels - 1).bit_length()
    thresholds = np.sort(rng.integers(-1000, 1000, levels - 1))
    padded = np.full((1 << depth) - 1, lut.NEVER, dtype=np.int64)
    padded[: levels - 1] = thresholds
    sums = rng.integers(-1200, 1200, shape)
    sums.flat[: min(sums.size, thresholds.size)] = thresholds[: sums.size]  # values on a threshold go up
    out_kernel, out_twin = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    _lut_kernels.lut_quantize(sums, padded, depth, out_kernel)
    _lut_twins.lut_quantize_numpy(sums, padded, depth, out_twin)
    np.testing.assert_array_equal(out_kernel, out_twin)
    np.testing.assert_array_equal(out_kernel, np.searchsorted(thresholds, sums, side="right"))


@pytest.mark.parametrize("model_name", ["digits_mlp", "mnist_cnn"])
def test_kernels_equal_twins_on_a_real_model(model_name, digits, mnist):
    data = digits if model_name == "digits_mlp" else mnist
    chip = _lut_chip(model_name, data.x_train[:200])
    program = chip.executor.program(chip.held)
    indices = chip.executor.sensor(program, chip.model.check_input(data.x_test[:40]))
    by_kernel = lut.integer_forward(program, chip.model.layers, indices, keep=True)
    by_twin = lut.integer_forward(program, chip.model.layers, indices, twin=True, keep=True)
    np.testing.assert_array_equal(by_kernel.sums, by_twin.sums)
    assert by_kernel.lookups == by_twin.lookups and all(v > 0 for v in by_kernel.lookups.values())
    for a, b in zip(by_kernel.records, by_twin.records):
        for name in ("rows", "sums", "pool_index"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


# --------------------------------------------------------------------------------- no float, no multiplication
class FloatOrMultiply(AssertionError):
    """An operation the integer path must not hold."""


#: ufuncs an integer adder-and-comparator datapath has; every other one (multiply, divide, power, rint, ...) fails
INTEGER_UFUNCS = {np.add, np.subtract, np.negative, np.positive, np.absolute, np.maximum, np.minimum, np.equal,
                  np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal, np.bitwise_and, np.bitwise_or,
                  np.bitwise_xor, np.invert, np.left_shift, np.right_shift, np.logical_and, np.logical_or,
                  np.logical_not, np.logical_xor}
#: array functions that multiply (whatever the dtype)
MULTIPLYING_FUNCTIONS = {np.dot, np.vdot, np.inner, np.outer, np.matmul, np.tensordot, np.einsum, np.kron,
                         np.convolve, np.correlate, np.cross, np.prod, np.cumprod, np.mean, np.average, np.std,
                         np.var, np.percentile, np.quantile, np.median, np.interp}


def _integer_dtype(dtype) -> bool:
    return np.dtype(dtype).kind in "iub"


def _check(value, what: str) -> None:
    if isinstance(value, (float, complex, np.floating, np.complexfloating)):
        raise FloatOrMultiply(f"{what}: the float value {value!r}")
    if isinstance(value, np.ndarray) and not _integer_dtype(value.dtype):
        raise FloatOrMultiply(f"{what}: an array of dtype {value.dtype}")


def _leaves(obj):
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _leaves(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _leaves(item)
    else:
        yield obj


class Checked(np.ndarray):
    """An integer array that refuses, wherever it flows, any ufunc but integer add/subtract/compare/max/bit
    operations, any multiplying array function, any float operand or result, any float written into it and any
    float view of it; the results of what it allows are Checked again (see ``test_the_integer_path_...``)."""

    def __array_finalize__(self, obj):
        if not _integer_dtype(self.dtype):
            raise FloatOrMultiply(f"an array of dtype {self.dtype} in the integer path")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc not in INTEGER_UFUNCS:
            raise FloatOrMultiply(f"numpy.{ufunc.__name__} in the integer path")
        for value in _leaves((inputs, kwargs.get("out", ()))):
            _check(value, f"{ufunc.__name__}.{method}")
        if kwargs.get("dtype") is not None and not _integer_dtype(kwargs["dtype"]):
            raise FloatOrMultiply(f"{ufunc.__name__} asked for dtype {kwargs['dtype']}")
        inputs = tuple(v.view(np.ndarray) if isinstance(v, Checked) else v for v in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(v.view(np.ndarray) if isinstance(v, Checked) else v for v in kwargs["out"])
        return _checked(getattr(ufunc, method)(*inputs, **kwargs), ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        if func in MULTIPLYING_FUNCTIONS:
            raise FloatOrMultiply(f"numpy.{func.__name__} in the integer path")
        for value in _leaves((args, kwargs)):
            _check(value, func.__name__)
        return _checked(super().__array_function__(func, types, args, kwargs), func.__name__)

    def __setitem__(self, key, value):
        _check(np.asarray(value) if isinstance(value, (list, tuple)) else value, "assignment")
        super().__setitem__(key, value)

    def view(self, *args, **kwargs):
        out = super().view(*args, **kwargs)
        if isinstance(out, np.ndarray):
            _check(out, "view")
        return out


def _checked(result, what: str):
    if isinstance(result, tuple):
        return tuple(_checked(r, what) for r in result)
    _check(result, what)
    if isinstance(result, np.ndarray) and not isinstance(result, Checked):
        return result.view(Checked)
    return result


def checked(a) -> Checked:
    a = np.asarray(a)
    _check(a, "input")
    return a.view(Checked)


class CheckedLayer:
    """A model layer whose outputs (MVM rows, pooling, reshapes) are Checked: the layer's own operations run on
    Checked inputs, and a result that left numpy's dispatch (``sliding_window_view`` makes plain views) is
    checked and wrapped again."""

    def __init__(self, layer):
        self._layer = layer

    def __getattr__(self, name):
        return getattr(self._layer, name)

    def rows(self, x):
        return checked(self._layer.rows(x))

    def forward(self, x):
        return checked(self._layer.forward(x))

    def forward_indexed(self, x):
        out, index = self._layer.forward_indexed(x)
        return checked(out), index


def _checked_program(program: lut.LutProgram) -> lut.LutProgram:
    def arrays_checked(obj):
        return replace(obj, **{f.name: checked(getattr(obj, f.name)) for f in fields(obj)
                               if isinstance(getattr(obj, f.name), np.ndarray)})

    return replace(arrays_checked(program), layers={i: arrays_checked(lp) for i, lp in program.layers.items()})


def test_the_checking_array_catches_floats_and_multiplications():
    a = checked(np.arange(6, dtype=np.int64).reshape(2, 3))
    forbidden = [lambda: a * 2, lambda: 2 * a, lambda: a / 2, lambda: a // 2, lambda: a ** 2, lambda: a % 3,
                 lambda: a @ a.T, lambda: np.dot(a, a.T), lambda: np.einsum("ij,kj->ik", a, a),
                 lambda: np.multiply(a, a), lambda: a.astype(np.float64), lambda: a.view(np.float64),
                 lambda: a + 0.5, lambda: a.mean(), lambda: a.sum(dtype=np.float64), lambda: a.prod(),
                 lambda: np.rint(a), lambda: np.ldexp(a, 2), lambda: a.__setitem__(0, np.full(3, 0.5))]
    for operation in forbidden:
        with pytest.raises(FloatOrMultiply):
            operation()
    allowed = [a + 1, a - a, a.sum(axis=0), np.where(a > 2, a, 0), np.maximum(a, 1), a[[1, 0]][:, [2, 0]],
               np.pad(a, 1), a | 4, a >> 1, np.count_nonzero(a, axis=0), np.diff(a[0]), a.reshape(3, 2).max(axis=1)]
    assert all(isinstance(r, Checked) and _integer_dtype(r.dtype) for r in allowed)


def test_the_integer_path_holds_no_float_and_no_multiplication(digits, mnist, monkeypatch):
    """Every array of the integer path (input indices, tables, code rows, integer biases, thresholds, and every
    layer's MVM rows and pooled maps) is wrapped in ``Checked``, an ndarray subclass whose ``__array_ufunc__`` and
    ``__array_function__`` let through only integer additions, subtractions, comparisons, max/min and bit
    operations on integer operands, and whose results are ``Checked`` again. ``*``, ``/``, ``//``, ``**``, ``@``,
    ``np.dot`` and company, and any float operand or result, raise. Patching ``np.multiply`` and friends would not
    catch an ndarray's ``*`` (its dunder methods cannot be patched); the subclass does, because every operator on
    it goes through ``__array_ufunc__``. What it cannot see is code that deliberately leaves numpy's dispatch (a
    plain copy made with ``np.array(x, dtype=float)``) and computes beside it: its result must then come back
    through a Checked array, as an operand (its dtype is checked) or written into one (``__setitem__`` checks it),
    and the end result must be a Checked integer array equal to the kernels'. The twins run here: the numba kernels
    are checked on their typed IR below."""
    for name, data in (("digits_mlp", digits), ("mnist_cnn", mnist)):
        chip = _lut_chip(name, data.x_train[:100])
        program = chip.executor.program(chip.held)
        indices = chip.executor.sensor(program, chip.model.check_input(data.x_test[:12]))
        layers = [CheckedLayer(layer) for layer in chip.model.layers]
        done = lut.integer_forward(_checked_program(program), layers, checked(indices), twin=True)
        assert isinstance(done.sums, Checked) and done.sums.dtype == np.int64
        reference = lut.integer_forward(program, chip.model.layers, indices)
        np.testing.assert_array_equal(done.sums.view(np.ndarray), reference.sums)

    # and it would catch a twin that cheated: a float matrix product of one-hot products
    def dishonest(indices, row_ptr, nz_col, nz_code, table, bias, out):
        dense = np.zeros((indices.shape[1], out.shape[1]))
        dense[np.repeat(np.arange(indices.shape[1]), np.diff(row_ptr)), nz_col] = nz_code - (table.shape[1] >> 1)
        out[...] = np.rint((indices * table[1, -1]) @ dense) + bias
        return 0

    monkeypatch.setattr(_lut_twins, "lut_accumulate_numpy", dishonest)
    with pytest.raises(FloatOrMultiply):
        lut.integer_forward(_checked_program(program), layers, checked(indices), twin=True)


FORBIDDEN_BINOPS = {operator.mul, operator.imul, operator.truediv, operator.itruediv, operator.floordiv,
                    operator.ifloordiv, operator.pow, operator.ipow, operator.matmul, operator.imatmul, operator.mod,
                    operator.imod}


@pytest.mark.parametrize("kernel", [_lut_kernels.lut_accumulate, _lut_kernels.lut_quantize],
                         ids=["lut_accumulate", "lut_quantize"])
def test_the_kernels_typed_ir_has_no_multiplication_and_no_float(kernel, digits):
    """The kernels are compiled for the signatures a real model's run gives them; a cached kernel keeps only the
    text of its typed IR, so the same Python function is compiled afresh (no cache) for those signatures and its
    typed IR walked: no multiplying or dividing binary operation, and no variable, call argument or result of a
    float type. The annotated text of the cached kernel is checked too."""
    chip = _lut_chip("digits_mlp", digits.x_train[:50])
    chip.forward(digits.x_test[:5], count=False)
    assert kernel.signatures
    fresh = nb.njit(nogil=True)(kernel.py_func)
    for signature in kernel.signatures:
        fresh.compile(signature)
    for annotation in (overload.type_annotation for overload in fresh.overloads.values()):
        binops = {expr.fn for block in annotation.blocks.values() for stmt in block.body
                  if isinstance(stmt, ir.Assign) and isinstance(expr := stmt.value, ir.Expr)
                  and expr.op in ("binop", "inplace_binop")}
        assert binops and not binops & FORBIDDEN_BINOPS, binops
        assert operator.add in binops or operator.iadd in binops or operator.or_ in binops or operator.ior in binops
        typed = list(annotation.typemap.values())
        for sig in annotation.calltypes.values():
            if sig is not None:
                typed += [*sig.args, sig.return_type]
        floats = [t for t in typed if isinstance(t, types.Float) or isinstance(getattr(t, "dtype", None), types.Float)]
        assert not floats and len(typed) > 10
    text = io.StringIO()
    kernel.inspect_types(file=text)
    typed_lines = [line for line in text.getvalue().splitlines() if line.startswith("#   ") and "::" in line]
    assert typed_lines
    for line in typed_lines:
        assert "float" not in line, line
        assert not any(f" {op} " in line for op in ("*", "/", "//", "**", "@", "%")), line
        assert not any(f"function {fn}>" in line for fn in ("imul", "itruediv", "ifloordiv", "ipow")), line


# ---------------------------------------------------------------------------------------------------- accuracy
def test_mnist_mlp_at_32_levels_matches_the_reference(mnist):
    model = neurosim.load_model("mnist_mlp")
    x, y = np.concatenate([mnist.x_train, mnist.x_test]), np.concatenate([mnist.y_train, mnist.y_test])
    reference = float(np.mean(model.predict(x) == y))
    chip = _lut_chip(model, mnist.x_train, activation_levels=32)
    accuracy = _accuracy(chip, x, y)
    assert abs(accuracy - reference) <= 0.01  # measured: 0.990 vs 0.988 on these 500 images
    # two levels (binary activations) lose clearly
    assert _accuracy(_lut_chip(model, mnist.x_train, activation_levels=2), x, y) < reference - 0.05


def test_digits_mlp_accuracy_by_activation_levels(digits):
    model = neurosim.load_model("digits_mlp")
    reference = float(np.mean(model.predict(digits.x_test) == digits.y_test))
    acc = {a: _accuracy(_lut_chip(model, digits.x_train, activation_levels=a), digits.x_test, digits.y_test)
           for a in (2, 4, 8, 16, 32)}
    # measured: 2: 0.842, 4: 0.947, 8: 0.969, 16: 0.973, 32: 0.971 (reference 0.969)
    assert abs(acc[32] - reference) <= 0.01 and abs(acc[16] - reference) <= 0.01
    assert acc[2] < acc[4] - 0.05 and acc[4] < acc[32] - 0.015 and acc[8] >= acc[4]


def test_without_calibration_the_guaranteed_bounds_are_used(digits):
    model = neurosim.load_model("digits_mlp")
    chip = _lut_chip(model)
    assert chip.executor.ranges == {1: model.input_bounds()[2]}
    assert _accuracy(chip, digits.x_test, digits.y_test) > 0.9  # looser ranges, coarser steps: measured 0.969
    chip.calibrate(digits.x_train)
    assert chip.executor.ranges[1][1] < model.input_bounds()[2][1]


def test_the_logits_are_the_float_ones_to_the_activation_grid(digits):
    """Exact inputs (digits have 17 grey levels, which 33 input levels hold), a hidden range that clips nothing
    (calibrated at the 100th percentile on the inputs themselves): the integer logits divided by 2**s are the float
    model's within half a hidden step per unit times the last layer's weights (the fixed-point rounding of 32-bit
    entries adds next to nothing)."""
    model = neurosim.load_model("digits_mlp")
    x = digits.x_test
    chip = _lut_chip(model, x, activation_levels=33, entry_bits=32, percentile=100.0)
    step = chip.executor.ranges[1][1] / 32
    last = model.layers[2]
    bound = 0.5 * step * np.abs(last.codes.astype(np.int64)).sum(axis=0).max() * last.scale
    error = np.abs(chip.forward(x, count=False) - model.forward(x)).max()
    assert 0 < error <= bound + 1e-6
    assert np.mean(chip.predict(x, count=False) == model.predict(x)) > 0.98


def test_a_four_bit_network_and_what_the_chip_holds(digits):
    """Codes beyond ternary (a 7-code table), and the held codes rather than the model's: stuck cells show up."""
    rng = np.random.default_rng(0)
    layers = (Flatten(), Dense(codes=rng.integers(-7, 8, (64, 24)).astype(np.int8), scale=0.02,
                               bias=rng.normal(0, 0.1, 24), weight_bits=4),
              Dense(codes=rng.integers(-7, 8, (24, 10)).astype(np.int8), scale=0.05, bias=np.zeros(10),
                    weight_bits=4, activation="none"))
    model = Model(name="four_bit", description="", input_shape=(8, 8, 1), input_range=(0.0, 1.0), n_classes=10,
                  layers=layers)
    # bit-sliced 4-bit weights on 16 x 8 crossbars: several row and column blocks per layer
    profile = neurosim.load_profile("ideal").replace({"crossbar.weight_encoding": "bit_slice",
                                                      "crossbar.cells_per_weight": 4, "crossbar.rows": 16,
                                                      "crossbar.cols": 8})
    chip = _lut_chip(model, digits.x_train, profile=profile, activation_levels=256, entry_bits=32)
    assert all(lt.row_blocks > 1 and lt.col_blocks > 1 for lt in chip.mapping.tilings)
    program = chip.executor.program(chip.held)
    assert program.layers[1].table.shape == (256, 15)
    x = digits.x_test[:100]
    ref = model.forward(x)
    assert np.abs(chip.forward(x, count=False) - ref).max() < 0.02 * np.abs(ref).max()
    # the chip holds other codes: the executor computes with them (the tables are rebuilt)
    flipped = -np.asarray(model.layers[2].codes)
    chip.program_codes({2: flipped})
    held_model = model.with_codes({2: flipped})
    assert np.abs(chip.forward(x, count=False) - held_model.forward(x)).max() < 0.02 * np.abs(ref).max()
    assert chip.executor.program(chip.held) is not program


def test_shift_rule_fills_the_entry_bits_and_keeps_sums_in_32_bits(digits):
    for bits in (8, 16, 32):
        chip = _lut_chip("digits_mlp", digits.x_train, entry_bits=bits)
        for index, lp in chip.executor.program(chip.held).layers.items():
            codes = chip.held.codes(index).reshape(lp.row_ptr.size - 1, -1)
            top = (lp.table.shape[1] - 1) // 2
            largest = int(np.abs(lp.table).max())
            worst = int((np.abs(lp.table[-1][codes + top]).sum(axis=0) + np.abs(lp.bias)).max())
            assert largest <= 2 ** (bits - 1) - 1 and worst <= 2 ** 31 - 1
            if lp.thresholds is not None:
                assert np.all((lp.thresholds == lut.NEVER) | (np.abs(lp.thresholds) <= 2 ** 31 - 1))
            # the largest such shift: one more would break a bound (doubling, give or take the rounding)
            peak = 0 if lp.thresholds is None else int(lp.thresholds[lp.thresholds < lut.NEVER].max())
            assert (2 * largest + 1 > 2 ** (bits - 1) - 1 or 2 * worst + codes.shape[0] + 1 > 2 ** 31 - 1
                    or 2 * peak + 1 > 2 ** 31 - 1)


# ------------------------------------------------------------------------------------------- events and prices
@pytest.mark.parametrize("tiny", [False, True], ids=["one_tile", "tiles_16x8"])
def test_events_are_what_the_integer_path_did(digits, tiny):
    model = neurosim.load_model("digits_mlp")
    profile = neurosim.load_profile("ideal")
    if tiny:
        profile = profile.replace({"crossbar.rows": 16, "crossbar.cols": 8})
    chip = _lut_chip(model, digits.x_train, profile=profile)
    before = chip.ledger.copy()
    x = digits.x_test[:60]
    chip.forward(x)
    events = chip.ledger - before
    ex = chip.executor
    program = ex.program(chip.held)
    done = lut.integer_forward(program, model.layers, ex.sensor(program, model.check_input(x)), keep=True)
    lookups = reads = wordlines = 0
    for index, record in enumerate(done.records):
        if record.rows is None:
            continue
        active = (record.rows != 0).astype(np.int64)
        lookups += int((active @ (chip.held.codes(index) != 0).sum(axis=1)).sum())
        reads += int((active @ chip.held.row_level_counts(index).sum(axis=1)).sum())
        wordlines += int(active.sum()) * chip.mapping.tiling_of(index).col_blocks
    counts = events.counts
    assert counts["lut_lookups"] == lookups > 0
    assert counts["lut_bytes_read"] == 2 * lookups  # 16-bit entries
    # additions: one per lookup, then 5 comparisons per hidden output (32 levels: a 5-step search)
    assert counts["int_adds"] == lookups + 60 * 64 * 5
    assert int(events.cell_reads.sum()) == reads and counts["wordline_activations"] == wordlines
    assert counts["macs"] == 60 * (64 * 64 + 64 * 10)
    assert counts["buffer_bytes_read"] == 60 * (64 + 64) and counts["buffer_bytes_written"] == 60 * (64 + 4 * 10)
    for absent in ("dac_conversions", "adc_conversions", "neuron_updates", "sample_holds"):
        assert counts[absent] == 0
    assert events.pipelines == {("1", "2"): (1, 60)} and events.writes_total == 0
    report = chip.report()
    energy = report.energy_per_inference_j
    assert energy["lut"] > 0 and energy["neuron"] > 0 and energy["read"] > 0
    assert energy["dac"] == energy["adc"] == 0.0
    assert energy["neuron"] == pytest.approx(counts["int_adds"] / 60 * chip.profile.costs.int_add_energy_j)
    assert report.latency_s > 0 and report.tops_per_w > 0


def test_zero_inputs_skip_lookups_and_reads(digits):
    chip = _lut_chip("digits_mlp", digits.x_train)
    before = chip.ledger.copy()
    chip.forward(np.zeros((5, 8, 8, 1)))
    events = chip.ledger - before
    # nothing enters the first layer, so only the hidden layer's outputs (from its biases) can drive the second
    hidden = chip.executor.program(chip.held).layers[1]
    assert events.counts["lut_lookups"] <= 5 * int(np.count_nonzero(chip.held.codes(2)))
    assert events.counts["int_adds"] == events.counts["lut_lookups"] + 5 * 64 * hidden.depth


def test_repricing_is_exact(digits):
    profile = neurosim.load_profile("ideal")
    costs = profile.costs
    whatif = profile.replace({"core.int_add_energy_pj": 3e12 * costs.int_add_energy_j,
                              "aux_memory.energy_per_byte_fj": 2 * profile.aux_memory.energy_per_byte_j * 1e15,
                              "chip.clock_mhz": 2 * profile.chip.clock_hz * 1e-6})
    assert whatif.costs.buffer_read_energy_per_byte_j == pytest.approx(2 * costs.buffer_read_energy_per_byte_j)
    reports = []
    for p in (profile, whatif):
        chip = _lut_chip("digits_mlp", digits.x_train, profile=p)
        chip.predict(digits.x_test[:50])
        chip.predict(digits.x_test[50:51])
        reports.append(chip.report())
    original, simulated = reports
    repriced = original.reprice(whatif)
    assert repriced.to_dict() == simulated.to_dict()
    before, after = original.energy_per_inference_j, repriced.energy_per_inference_j
    assert after["neuron"] == pytest.approx(3 * before["neuron"])
    assert after["lut"] == pytest.approx(2 * before["lut"]) and after["buffer"] == pytest.approx(2 * before["buffer"])
    assert after["read"] == before["read"] and after["noc"] == before["noc"]
    assert repriced.latency_s < original.latency_s


# ---------------------------------------------------------------------------------------- contract and options
def test_lut_passes_the_executor_contract(digits):
    """The conformance test of tests/test_executors.py, run here too: that module is collected before this one
    registers "lut" when the whole suite runs (until the executors package imports it)."""
    contract.test_executor_contract("lut", digits)


def test_traces_name_every_layer_and_dequantise_the_inputs(digits):
    chip = _lut_chip("digits_mlp", digits.x_train)
    logits, traces = chip.trace(digits.x_test[:4], count=False)
    assert [t.layer for t in traces] == [0, 1, 2] and all(t.input_shape[0] == 4 for t in traces)
    hidden = traces[2]
    step = chip.executor.ranges[1][1] / 31
    levels = hidden.mvm_inputs / step
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-9)
    np.testing.assert_array_equal(logits, traces[2].pre_activation)
    np.testing.assert_array_equal(traces[1].relu_mask, traces[1].pre_activation > 0)
    with pytest.raises(ExecutorError, match="lut"):
        chip.count_backward(4, above=0)


@pytest.mark.parametrize("options, words", [({"activation_levels": 1}, ["activation_levels", "[2, 256]"]),
                                            ({"activation_levels": 300}, ["activation_levels"]),
                                            ({"activation_levels": 8.0}, ["activation_levels", "float"]),
                                            ({"percentile": 50}, ["percentile", "(50, 100]"]),
                                            ({"entry_bits": 33}, ["entry_bits", "[8, 32]"]),
                                            ({"entry_bit": 16}, ["entry_bit", "entry_bits"])])
def test_bad_options_are_named(options, words):
    with pytest.raises(ExecutorError) as info:
        _lut_chip("digits_mlp", **options)
    for word in words:
        assert word in str(info.value)


# ------------------------------------------------------------------------------------------- deployable memory
def test_deployable_integer_model_is_under_a_third_of_float32():
    chip = _lut_chip("mnist_mlp", activation_levels=32)
    sizes = chip.executor.deployable_bytes()
    codes = math.ceil((784 * 256 + 256 * 10) * 2 / 8)
    tables = 2 * 31 * 2 * 2  # two layers, 31 non-zero levels x 2 non-zero codes, 2 bytes each
    assert sizes == {"integer": codes + tables + 31 * 4 + (256 + 10) * 4,
                     "float32": 4 * (784 * 256 + 256 * 10 + 256 + 10)}
    assert sizes["integer"] < sizes["float32"] / 3


def test_timing_of_the_kernel_and_the_twin(mnist):
    """Not a benchmark: the kernel must beat its twin on 500 MNIST images (both timed after a warm-up run)."""
    chip = _lut_chip("mnist_mlp", mnist.x_train)
    program = chip.executor.program(chip.held)
    indices = chip.executor.sensor(program, chip.model.check_input(np.concatenate([mnist.x_train, mnist.x_test])))
    seconds = {}
    for twin in (False, True):
        lut.integer_forward(program, chip.model.layers, indices[:10], twin=twin)
        start = time.perf_counter()
        lut.integer_forward(program, chip.model.layers, indices, twin=twin)
        seconds[twin] = time.perf_counter() - start
    assert seconds[False] < seconds[True]


def test_a_hidden_layer_without_relu_gets_a_signed_grid(digits):
    """A hidden output without a ReLU is quantised over [low, high] percentiles (its grid's offset folded into the
    next layer's integer bias); at fine levels the logits follow the float model's."""
    rng = np.random.default_rng(3)
    layers = (Flatten(), Dense(codes=rng.integers(-1, 2, (64, 16)).astype(np.int8), scale=0.1,
                               bias=rng.normal(0, 0.2, 16), activation="none"),
              Dense(codes=rng.integers(-1, 2, (16, 12)).astype(np.int8), scale=0.1, bias=rng.normal(0, 0.1, 12)),
              Dense(codes=rng.integers(-1, 2, (12, 10)).astype(np.int8), scale=0.1, bias=np.zeros(10),
                    activation="none"))
    model = Model(name="signed", description="", input_shape=(8, 8, 1), input_range=(0.0, 1.0), n_classes=10,
                  layers=layers)
    x = digits.x_test[:200]
    chip = _lut_chip(model, x, activation_levels=256, entry_bits=32, percentile=100.0)
    low, high = chip.executor.ranges[1]
    assert low < 0 < high
    reference = model.forward(x)
    assert np.abs(chip.forward(x, count=False) - reference).max() < 0.01 * np.abs(reference).max()


def test_a_padded_convolution_needs_a_grid_from_zero():
    from neurosim.nn import Conv2D

    rng = np.random.default_rng(0)
    conv = Conv2D(codes=rng.integers(-1, 2, (3, 3, 1, 2)).astype(np.int8), scale=0.5, bias=np.zeros(2), padding=1)
    dense = Dense(codes=rng.integers(-1, 2, (32, 3)).astype(np.int8), scale=0.5, bias=np.zeros(3), activation="none")
    for lo, ok in ((0.0, True), (-1.0, False)):
        model = Model(name="padded", description="", input_shape=(4, 4, 1), input_range=(lo, 1.0), n_classes=3,
                      layers=(conv, Flatten(), dense))
        if ok:
            _lut_chip(model).forward(rng.random((3, 4, 4, 1)), count=False)
        else:
            with pytest.raises(ExecutorError, match="layer 0 pads"):
                _lut_chip(model)


def test_an_empty_batch(digits):
    chip = _lut_chip("digits_mlp", digits.x_train)
    before = chip.ledger.copy()
    assert chip.forward(np.zeros((0, 64))).shape == (0, 10)
    assert chip.ledger == before


def test_stage_steps_follow_the_stated_rule():
    """digits_mlp on ideal: each layer on one 128 x 128 tile (64 rows used) of one core of 1024 neurons; on 16 x 8
    tiles: 4 row blocks of 16 rows, 16 (then 3) column blocks, spread over the cores the tiles occupy."""
    chip = _lut_chip("digits_mlp")
    stages = chip.executor.stages()
    noc = {name: steps["noc_hop"] for name, steps in neurosim.Chip("ideal", "digits_mlp").executor.stages().items()}
    assert stages == {"1": {"crossbar_read": 64, "clock": 64 + 5, "noc_hop": noc["1"]},
                      "2": {"crossbar_read": 64, "clock": 64, "noc_hop": noc["2"]}}
    tiny = _lut_chip("digits_mlp", profile=neurosim.load_profile("ideal").replace({"crossbar.rows": 16,
                                                                                   "crossbar.cols": 8}))
    for name, steps in tiny.executor.stages().items():
        lt = tiny.mapping.tiling_of(int(name))
        neurons = 1024 * len({int(tiny.mapping.placement.tile_core[t.index]) for t in lt.tiles})
        assert neurons >= 4 * 64 and lt.row_blocks == 4
        assert steps["crossbar_read"] == 16 and steps["clock"] == 16 + 3 + (5 if name == "1" else 0)
