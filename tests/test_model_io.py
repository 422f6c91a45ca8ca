"""Model files (TOML + npz): round trips, and every malformed file refused with a ModelError naming the file, the key
or array, the constraint and the value; layer-size specs and model sizes checked against the stated limits."""

from __future__ import annotations

import dataclasses
import io
import math
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim import ModelError
from neurosim.nn import Dense, Flatten, load_model, save_model, sequential
from neurosim.nn.layers import MAX_LAYER_WEIGHTS, MAX_LAYERS, MAX_MODEL_WEIGHTS, Conv2D
from neurosim.nn.model_io import list_models
from neurosim.nn.spec import is_spec, model_from_spec, parse_spec

ROUND_TRIP = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def same_model(a, b) -> None:
    assert (a.name, a.description, a.input_shape, a.input_range, a.n_classes) == \
        (b.name, b.description, b.input_shape, b.input_range, b.n_classes)
    assert len(a.layers) == len(b.layers)
    for x, y in zip(a.layers, b.layers):
        assert type(x) is type(y) and x.file_geometry() == y.file_geometry()
        if x.analog:
            assert (x.weight_bits, x.scale, x.activation) == (y.weight_bits, y.scale, y.activation)
            np.testing.assert_array_equal(x.codes, y.codes)
            assert x.bias.tobytes() == y.bias.tobytes()  # bit-exact


@pytest.fixture
def iris(tmp_path) -> Path:
    """The shipped iris model saved to tmp_path/m.toml (+ m.npz)."""
    return save_model(load_model("iris_mlp"), tmp_path / "m.toml")


def rewrite_weights(path: Path, **changes) -> None:
    """Rewrite the model's npz with some arrays replaced (None: removed)."""
    arrays = dict(np.load(path.with_suffix(".npz")))
    arrays.update(changes)
    np.savez(path.with_suffix(".npz"), **{k: v for k, v in arrays.items() if v is not None})


def model_error(path) -> str:
    with pytest.raises(ModelError) as info:
        load_model(path)
    return str(info.value)


# -------------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", list_models())
def test_every_shipped_model_round_trips(tmp_path, name):
    model = load_model(name)
    path = save_model(model, tmp_path / "copy.toml")
    same_model(load_model(path), model)
    text = path.read_text()
    assert text.count("[[layers]]") == len(model.layers)  # readable: one table per layer, as the format documents
    assert tomllib.loads(text)["weights"] == "copy.npz"


texts = st.text(max_size=40)  # any Unicode: quotes, backslashes, control characters, DEL, astral planes
floats = st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False)


@ROUND_TRIP
@given(name=texts, description=texts, scale=floats, lo=st.floats(-1e12, 1e12), width=st.floats(1e-6, 1e12),
       bits=st.integers(2, 16), fan_in=st.integers(1, 6), fan_out=st.integers(2, 5), seed=st.integers(0, 2 ** 32 - 1),
       bias=st.lists(st.floats(-1e300, 1e300), min_size=5, max_size=5))
def test_random_models_round_trip_exactly(tmp_path, name, description, scale, lo, width, bits, fan_in, fan_out, seed,
                                          bias):
    """tomli-w writes any text and float so that the file reads back to the same values (1e+18, 5e-324 included)."""
    top = 2 ** (bits - 1) - 1
    codes = np.random.default_rng(seed).integers(-top, top + 1, (fan_in, fan_out))
    hi = min(lo + width, 1e12)
    if hi <= lo:
        hi = np.nextafter(lo, np.inf)
    model = sequential(name, (fan_in,), fan_out, [
        Dense(codes=codes, scale=scale, bias=np.array(bias[:fan_out]), weight_bits=bits, activation="none")],
        description=description, input_range=(lo, hi))
    same_model(load_model(save_model(model, tmp_path / "r.toml")), model)


def test_save_model_with_unwritable_folder_is_a_model_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ModelError, match="cannot write"):
        save_model(load_model("iris_mlp"), blocker / "m.toml")


# ---------------------------------------------------------------------------------------------- unreadable files
def test_empty_and_garbage_weights_files_name_the_file(iris):
    npz = iris.with_suffix(".npz")
    for content in (b"", b"hello world", b"PK\x03\x04 not really a zip"):
        npz.write_bytes(content)
        msg = model_error(iris)
        assert msg.startswith(f"{iris}: weights file {npz} is not a valid .npz"), msg


def test_a_single_npy_instead_of_an_npz_is_refused(iris):
    np.save(iris.with_suffix(".npy"), np.zeros(3))
    iris.with_suffix(".npy").rename(iris.with_suffix(".npz"))
    assert "is not a valid .npz" in model_error(iris)


@pytest.mark.parametrize("kind", ["directory", "symlink_loop", "fifo"])
def test_model_file_that_is_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "m.toml"
    {"directory": path.mkdir, "symlink_loop": lambda: path.symlink_to("m.toml"),
     "fifo": lambda: __import__("os").mkfifo(path)}[kind]()
    msg = model_error(path)
    assert msg.startswith(f"{path}: cannot read model file: ")


@pytest.mark.parametrize("kind", ["directory", "symlink_loop", "fifo", "missing"])
def test_weights_file_that_is_not_a_regular_file(iris, kind):
    npz = iris.with_suffix(".npz")
    npz.unlink()
    {"directory": npz.mkdir, "symlink_loop": lambda: npz.symlink_to(npz.name),
     "fifo": lambda: __import__("os").mkfifo(npz), "missing": lambda: None}[kind]()
    msg = model_error(iris)
    assert msg.startswith(f"{iris}: weights file") and str(npz) in msg


def test_long_model_names_and_paths(tmp_path):
    assert "unknown model 'aaaa" in model_error("a" * 300)
    long_path = tmp_path / ("m" * 300 + ".toml")
    assert "file name too long" in model_error(long_path)


def test_non_utf8_and_deeply_nested_model_files(tmp_path):
    path = tmp_path / "m.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    assert model_error(path).startswith(f"{path}: not UTF-8 text")
    path.write_text("a = " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert "nested too deeply" in model_error(path)
    path.write_text("[" + ".".join(["t"] * 5000) + "]\n")
    assert "nest more than 16 levels" in model_error(path)


# ------------------------------------------------------------------------------------------ values that mean nothing
@pytest.mark.parametrize("array, value, fragment", [
    ("layer0.codes", np.full((4, 16), 2 ** 64 - 1, np.uint64), "weight codes must lie in [-1, 1]"),  # wraps to -1
    ("layer0.codes", np.full((4, 16), 0.5), "must hold integers"),
    ("layer0.codes", np.ones((4, 16)), "must hold integers"),  # integral floats too: a code is never rounded
    ("layer0.codes", np.ones((4, 16), bool), "must hold integers"),
    ("layer0.bias", np.full(16, 1 + 2j), "must hold real numbers"),
    ("layer0.bias", np.ones(16, bool), "must hold real numbers"),
    ("layer0.bias", np.array(["1"] * 16), "must hold real numbers"),
    ("layer0.bias", np.full(16, np.nan), "must hold finite numbers (value 0 is nan)"),
    ("layer0.bias", np.r_[np.zeros(15), np.inf], "must hold finite numbers (value 15 is inf)"),
    ("layer0.bias", np.zeros(17), "has shape (17,), the model file says (16,)"),
    ("layer0.codes", np.zeros((16, 4), np.int8), "has shape (16, 4), the model file says (4, 16)"),
    ("layer0.bias", None, "lacks array 'layer0.bias'"),
])
def test_bad_arrays_name_file_array_and_constraint(iris, array, value, fragment):
    rewrite_weights(iris, **{array: value})
    msg = model_error(iris)
    assert msg.startswith(f"{iris}: ") and array in msg and fragment in msg, msg


def test_object_arrays_and_unused_arrays_are_refused(iris):
    arrays = dict(np.load(iris.with_suffix(".npz")))
    np.savez(iris.with_suffix(".npz"), **{**arrays, "layer0.bias": np.array([{}] * 16, dtype=object)})
    assert "must hold real numbers" in model_error(iris)  # refused from its header: nothing is unpickled
    np.savez(iris.with_suffix(".npz"), **arrays, stray=np.zeros(3))
    assert "holds 'stray.npy', which no layer of the model file uses" in model_error(iris)


def npy(descr: str, shape: tuple, data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def zip_arrays(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_npy_headers_are_checked_before_anything_is_allocated(iris):
    arrays = dict(np.load(iris.with_suffix(".npz")))
    good = {f"{k}.npy": io.BytesIO() for k in arrays}
    for k, buf in good.items():
        np.save(buf, arrays[k[:-4]])
    members = {k: v.getvalue() for k, v in good.items()}
    # a header claiming 10^11 x 16 codes (1.6 TB): refused from its header, against the model file
    zip_arrays(iris.with_suffix(".npz"), {**members, "layer0.codes.npy": npy("|i1", (10 ** 11, 16))})
    assert "array 'layer0.codes' has shape (100000000000, 16), the model file says (4, 16)" in model_error(iris)
    # the right shape but truncated data
    zip_arrays(iris.with_suffix(".npz"), {**members, "layer0.codes.npy": npy("|i1", (4, 16), b"\x00" * 10)})
    assert "holds 10 data bytes, its header (int8, shape (4, 16)) needs 64" in model_error(iris)
    # a garbled header numpy's parser chokes on (it raised tokenize.TokenError)
    garbled = b"\x93NUMPY\x01\x00" + (40).to_bytes(2, "little") + b"{'descr': '<i1', 'shape': ((((((((((((((("[:40]
    zip_arrays(iris.with_suffix(".npz"), {**members, "layer0.codes.npy": garbled})
    assert "array 'layer0.codes' has a malformed .npy header" in model_error(iris)


def test_toml_geometry_beyond_the_limits_is_refused_before_reading_weights(iris):
    text = iris.read_text()
    iris.write_text(text.replace("in_features = 4\n", "in_features = 99999999999\n", 1))
    msg = model_error(iris)
    assert "key 'layers[0].in_features' must be an integer in [1, 2147483648] (got 99999999999)" in msg
    iris.write_text(text.replace("in_features = 4\n", f"in_features = {2 ** 23}\n", 1))
    assert f"declares {2 ** 27} weights; at most {MAX_LAYER_WEIGHTS} (2**26) per layer" in model_error(iris)


@pytest.mark.parametrize("old, new, fragment", [
    ("n_classes = 3", "n_classes = true", "key 'n_classes' must be an integer"),
    ("input_shape = [\n    4,\n]", "input_shape = [true]", "key 'input_shape' must be a list of 1 to 8 integers"),
    ("input_range = [\n    0.0,\n    1.0,\n]", "input_range = [false, true]", "key 'input_range' must be [min, max]"),
    ("input_range = [\n    0.0,\n    1.0,\n]", "input_range = [0.0, 1e308]", "input_range must lie within +-1e+12"),
    ("input_range = [\n    0.0,\n    1.0,\n]", f"input_range = [0, 1{'0' * 400}]", "key 'input_range' must be"),
    ("weight_bits = 2", "weight_bits = true", "key 'layers[0].weight_bits' must be an integer in [2, 16]"),
    ("weight_bits = 2", "weight_bits = 17", "key 'layers[0].weight_bits' must be an integer in [2, 16]"),
    ('activation = "relu"', "activation = [1]", "key 'layers[0].activation' must be a string"),
    ('type = "dense"', "type = [1, 2]", "key 'layers[0].type' must be one of"),
])
def test_bad_toml_values_name_file_key_constraint_and_value(iris, old, new, fragment):
    text = iris.read_text()
    assert old in text
    iris.write_text(text.replace(old, new, 1))
    msg = model_error(iris)
    assert msg.startswith(f"{iris}: ") and fragment in msg, msg


@pytest.mark.parametrize("scale", ["true", "nan", "inf", "-1.0", "0"])
def test_bad_scale_in_toml(iris, scale):
    text = iris.read_text()
    old = next(line for line in text.splitlines() if line.startswith("scale = "))
    iris.write_text(text.replace(old, f"scale = {scale}", 1))
    assert "key 'layers[0].scale' must be a finite number > 0" in model_error(iris)


# ------------------------------------------------------------------------------------------- models built in code
@pytest.mark.parametrize("changes, fragment", [
    ({"bias": np.full(3, 1j)}, "bias must hold real numbers"),
    ({"bias": np.ones(3, bool)}, "bias must hold real numbers"),
    ({"bias": np.array([0.0, np.nan, 0.0])}, "bias must be finite (value 1 is nan)"),
    ({"scale": True}, "scale must be a finite real number > 0"),
    ({"scale": 1 + 0j}, "scale must be a finite real number > 0"),
    ({"scale": 10 ** 400}, "scale must be a finite real number > 0"),
    ({"codes": np.full((2, 3), 2 ** 64 - 1, np.uint64)}, "must lie in [-1, 1]"),
    ({"codes": np.full((2, 3), -128, np.int8)}, "must lie in [-1, 1]"),
    ({"activation": np.array(["relu"])}, "activation must be one of"),
])
def test_layer_values_that_mean_nothing_are_refused(changes, fragment):
    args = {"codes": np.zeros((2, 3), np.int8), "scale": 1.0, "bias": np.zeros(3), "activation": "none", **changes}
    with pytest.raises(ModelError) as info:
        Dense(**args)
    assert fragment in str(info.value)


def test_layer_accepts_numpy_scalars_for_scale():
    assert Dense(codes=np.zeros((2, 3), np.int8), scale=np.float32(0.5), bias=np.zeros(3)).scale == 0.5


@pytest.mark.parametrize("changes, fragment", [
    ({"n_classes": 3.0}, "n_classes must be an integer >= 2"),
    ({"input_shape": (2.5,)}, "input_shape must be a non-empty sequence of integers"),
    ({"input_shape": (True,)}, "input_shape must be a non-empty sequence of integers"),
    ({"input_range": ("0", "1")}, "input_range must be two real numbers"),
    ({"input_range": (0, 10 ** 400)}, "input_range must be two real numbers"),
    ({"name": 5}, "model name must be a string"),
    ({"description": "\ud800"}, "model description must be a string of Unicode characters"),
])
def test_model_fields_that_mean_nothing_are_refused(changes, fragment):
    model = load_model("iris_mlp")
    with pytest.raises(ModelError) as info:
        dataclasses.replace(model, **changes)
    assert fragment in str(info.value)


def test_conv_output_beyond_the_sample_limit_is_refused_before_any_forward():
    conv = Conv2D(codes=np.zeros((3, 3, 1, 2), np.int8), scale=1.0, bias=np.zeros(2), padding=10 ** 6)
    with pytest.raises(ModelError, match=r"values per sample; at most 16777216 \(2\*\*24\)"):
        sequential("c", (8, 8, 1), 2, [conv, Flatten()])


# ----------------------------------------------------------------------------------------------- layer-size specs
@pytest.mark.parametrize("spec, fragment", [
    ("64-99999999999-10", "a layer of 99999999999 units; at most 16777216"),
    ("64-" + "9" * 5000 + "-10", "is too large"),  # int() refuses over 4300 digits: no ValueError escapes
    ("8192-8193-10", f"layer 1 (8192 x 8193) has 67117056 weights; at most {MAX_LAYER_WEIGHTS} (2**26) per layer"),
    ("-".join(["8000"] * 6), f"has 320000000 weights; at most {MAX_MODEL_WEIGHTS} (2**28)"),
    ("-".join(["1"] * (MAX_LAYERS + 2)), f"{MAX_LAYERS + 1} layers; at most {MAX_LAYERS}"),
    ("64-0-10", "every layer needs at least one unit"),
])
def test_spec_limits_are_checked_before_allocating(spec, fragment):
    with pytest.raises(ModelError) as info:
        parse_spec(spec)
    assert fragment in str(info.value) and "model spec" in str(info.value)
    with pytest.raises(ModelError):
        model_from_spec(spec, (64,), 10)


@pytest.mark.parametrize("text", ["784-128-10\n", "７８４-10", "٧-3", " 4-3", "4-3 ", "4--3", "4"])
def test_non_ascii_digits_and_trailing_newlines_are_not_specs(text):
    assert not is_spec(text)
    with pytest.raises(ModelError, match="model spec must look like"):
        parse_spec(text)


def test_spec_within_limits_builds():
    model = model_from_spec("4-8-3", (4,), 3, seed=1)
    assert [layer.codes.shape for _, layer in model.analog_layers()] == [(4, 8), (8, 3)]
    assert math.isclose(model.layers[1].scale, model.layers[1].scale)
