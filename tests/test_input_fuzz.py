"""Fuzz suite over every file and text a user hands neurosim: profile files, model files (TOML + npz), layer-size
specs and data specs.

Each example builds one input (a mutation of a shipped profile or model written to disk, a corrupted or crafted npz,
a garbage MNIST folder, a random spec) and loads it. Loading must either succeed or raise a
:class:`~neurosim.NeurosimError` subclass whose message names the input (the file, the key or the spec); any other
exception (a traceback for the user) fails the example.

Counts: every attempt is tallied in :data:`COUNTS` (inputs tried, accepted, refused with a NeurosimError, and
tracebacks, which must stay 0); the last test prints them (run with ``-s`` to see them) and writes them as JSON to
``$NEUROSIM_FUZZ_REPORT`` when that is set. ``NEUROSIM_FUZZ_EXAMPLES`` sets the examples per test (default 300,
derandomized: the file runs in about 10 s; a big run: ``NEUROSIM_FUZZ_EXAMPLES=3000``, about a minute).
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
import struct
import tomllib
import traceback
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import neurosim
from neurosim import NeurosimError, ProfileError
from neurosim.data import load_dataset
from neurosim.nn.model_io import load_model, save_model
from neurosim.nn.spec import model_from_spec, parse_spec
from neurosim.profiles import load_profile_file
from neurosim.profiles.loader import profile_errors
from neurosim.profiles.schema import SECTIONS, section_fields

EXAMPLES = int(os.environ.get("NEUROSIM_FUZZ_EXAMPLES", "300"))
# the default CI run is reproducible; a big run asked for through the environment explores new seeds each time
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize="NEUROSIM_FUZZ_EXAMPLES" not in os.environ, suppress_health_check=list(HealthCheck))
PROFILES = neurosim.list_profiles()
SHIPPED_MODELS = ("iris_mlp", "mnist_cnn")  # small (thousands of loads stay fast); dense, conv2d, maxpool, flatten

#: (target, outcome) -> number of inputs; outcome is "accepted", "refused" or "traceback"
COUNTS: collections.Counter = collections.Counter()
TRACEBACKS: list[str] = []


def attempt(target: str, load, names: list[str], ok: str = "accepted"):
    """Run ``load()``; count the outcome (``ok`` when it returns). A NeurosimError must name one of ``names``;
    anything else fails."""
    try:
        result = load()
    except NeurosimError as err:
        COUNTS[target, "refused"] += 1
        event(f"{target}: {type(err).__name__}")
        msg = str(err)
        assert any(name and name in msg for name in names), f"{target}: message names none of {names}: {msg}"
        return err
    except Exception as exc:  # the point: every other exception is a traceback for the user
        COUNTS[target, "traceback"] += 1
        TRACEBACKS.append(f"{target}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        pytest.fail(f"{target}: {type(exc).__name__} instead of a NeurosimError: {exc}")
    COUNTS[target, ok] += 1
    event(f"{target}: {ok}")
    return result


# ------------------------------------------------------------------------------------------------------ values
scalars = st.one_of(st.booleans(), st.integers(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.floats(), st.text(max_size=20),
                    st.sampled_from([0, -1, 0.0, -0.0, 1e300, -1e300, 2 ** 63 - 1, -(2 ** 63), math.nan, math.inf,
                                     "", "0", "nan", "\x00"]),
                    st.sampled_from([300, 5000]).map(lambda n: "é" * n))  # (long text built lazily: short repr)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)
keys = st.one_of(st.text(max_size=12), st.sampled_from(["base", "name", "description", "format", "weights", "layers",
                                                        "type", "é", ""]), st.just(300).map(lambda n: "k" * n))


def deep_array(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def deep_table(depth: int) -> str:
    return "{a = " * depth + "1" + "}" * depth


@st.composite
def text_mutation(draw, text: str) -> bytes:
    """A textual mutation of a TOML file: spliced garbage, truncation, deep nesting, long keys, bad bytes."""
    kind = draw(st.sampled_from(["splice", "truncate", "nest_array", "nest_table", "nest_dotted", "long_key",
                                 "bytes", "line_swap", "duplicate_line", "bom"]))
    event(f"text mutation: {kind}")
    data = text.encode()
    lines = text.splitlines()
    if kind == "splice":
        at = draw(st.integers(0, len(text)))
        return (text[:at] + draw(st.text(max_size=30)) + text[at:]).encode("utf-8", "surrogatepass")
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "nest_array":
        depth = draw(st.one_of(st.integers(1, 40), st.sampled_from([200, 1000, 10_000])))
        return (f"a = {deep_array(depth)}\n" + text).encode()
    if kind == "nest_table":
        depth = draw(st.one_of(st.integers(1, 40), st.sampled_from([200, 1000, 10_000])))
        return (f"a = {deep_table(depth)}\n" + text).encode()
    if kind == "nest_dotted":
        depth = draw(st.one_of(st.integers(1, 40), st.sampled_from([1000, 5000])))
        return (text + "\n[" + ".".join(["t"] * depth) + "]\nx = 1\n").encode()
    if kind == "long_key":
        key = draw(st.sampled_from([("k", 300), ("k", 70_000), ("é", 1000)]).map(lambda c: c[0] * c[1]))
        return (f"{key} = 1\n" + text).encode()
    if kind == "bytes":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    i = draw(st.integers(0, max(len(lines) - 1, 0)))
    if kind == "line_swap" and lines:
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif lines:
        lines.insert(i, lines[i])
    return "\n".join(lines).encode()


def dumps_or_none(raw: dict) -> bytes | None:
    try:
        return tomli_w.dumps(raw).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):  # a value TOML cannot hold (None): not a file a user could write
        return None


# ---------------------------------------------------------------------------------------------- (a) profile files
@st.composite
def profile_file(draw, folder: Path) -> tuple[bytes, str]:
    """Bytes of a mutated shipped profile and a label."""
    name = draw(st.sampled_from(PROFILES))
    profile = neurosim.load_profile(name)
    how = draw(st.sampled_from(["dict"] * 4 + ["text"] * 3 + ["base"] * 2 + ["zero_latency", "stuck"]))
    if how == "text":
        return draw(text_mutation(profile.to_toml())), how
    raw = profile.to_dict()
    if how == "base":
        raw = {"base": draw(st.one_of(st.sampled_from(PROFILES + ["x" * 300, "a/" * 2000, "nope.toml", "",
                                                                   str(folder), "/dev/null", "../" * 50 + "x.toml"]),
                                      st.text(max_size=30), values))}
        for _ in range(draw(st.integers(0, 3))):
            section = draw(st.sampled_from(list(SECTIONS)))
            raw.setdefault(section, {})[draw(st.sampled_from(list(section_fields(section))))] = draw(values)
    elif how == "zero_latency":
        section, key = draw(st.sampled_from([("device", "read_latency_ns"), ("device", "set_latency_ns"),
                                             ("device", "reset_latency_ns"), ("core", "tick_ns"),
                                             ("core", "neuron_update_latency_ns"), ("chip", "clock_mhz"),
                                             ("periphery", "dac_latency_ns")]))
        raw[section][key] = draw(st.sampled_from([0, 0.0, -0.0, 5e-324]))
    elif how == "stuck":
        low = draw(st.floats(0, 1))
        raw["device"]["stuck_at_low_rate"] = low
        raw["device"]["stuck_at_high_rate"] = draw(st.floats(0, 1))
    else:
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["set", "set", "delete", "add", "section"]))
            section = draw(st.sampled_from(list(SECTIONS)))
            fields = list(section_fields(section))
            table = raw.get(section)
            if op == "set" and isinstance(table, dict):
                table[draw(st.sampled_from(fields))] = draw(values)
            elif op == "delete":
                target = table if isinstance(table, dict) and draw(st.booleans()) else raw
                if target:
                    target.pop(draw(st.sampled_from(sorted(target))), None)
            elif op == "add":
                raw[draw(keys)] = draw(values)
            else:
                raw[section] = draw(values)
    data = dumps_or_none(raw)
    return (data if data is not None else profile.to_toml().encode()), how


def check_profile_file(path: Path) -> None:
    names = [str(path), path.name]
    attempt("profile file", lambda: neurosim.load_profile(path), names)
    result = attempt("profile file", lambda: load_profile_file(path), names)
    errors = attempt("profile_errors", lambda: profile_errors(path), names, ok="report")
    assert isinstance(errors, list) and all(isinstance(e, ProfileError) for e in errors), errors
    COUNTS["profile_errors", "errors listed"] += len(errors)
    if isinstance(result, NeurosimError):
        # the full report starts with the error a plain load raises
        assert errors and str(errors[0]) == str(result), (str(errors[0]) if errors else None, str(result))
        for err in errors:
            assert str(path) in str(err) or (err.file and err.file in str(err)), str(err)
    else:
        assert errors == [], [str(e) for e in errors]


@FUZZ
@given(data=st.data())
def test_profile_files_load_or_raise_profile_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("profiles")
    content, how = data.draw(profile_file(folder), label="profile file")
    event(f"profile mutation: {how}")
    path = folder / data.draw(st.sampled_from(["p.toml", "profile with spaces.toml", "é.toml"]))
    path.write_bytes(content)
    check_profile_file(path)


@FUZZ
@given(kind=st.sampled_from(["directory", "missing", "symlink_loop", "long_name", "fifo", "nul", "dangling",
                             "unreadable", "empty"]))
def test_profile_paths_that_are_not_files(tmp_path_factory, kind):
    folder = tmp_path_factory.mktemp("paths")
    path = folder / "p.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "symlink_loop":
        path.symlink_to(path.name)
    elif kind == "long_name":
        path = folder / ("x" * 300 + ".toml")
    elif kind == "fifo":
        os.mkfifo(path)  # reading a pipe would block for ever: refused by its type
    elif kind == "nul":
        path = folder / "a\x00b.toml"
    elif kind == "dangling":
        path.symlink_to("absent.toml")
    elif kind == "unreadable":
        path.write_text("name = 1\n")
        path.chmod(0)  # (root reads it anyway: then it is an invalid profile)
    elif kind == "empty":
        path.write_bytes(b"")
    names = [str(path)[:60], "profile"]
    attempt("profile path", lambda: neurosim.load_profile(path), names)
    attempt("profile path", lambda: load_profile_file(path), names)
    attempt("profile path", lambda: neurosim.load_profile(str(path)), names)
    base_file = folder / "user.toml"
    base_file.write_text(f"base = {json.dumps(str(path))}\n")
    attempt("profile base path", lambda: neurosim.load_profile(base_file), [str(base_file)])


@FUZZ
@given(changes=st.dictionaries(st.one_of(st.sampled_from([f"{s}.{k}" for s in SECTIONS for k in section_fields(s)]),
                                         keys, st.integers(), st.tuples(st.integers())), values, max_size=3),
       settings_=st.lists(st.text(max_size=40), max_size=3))
def test_replace_and_settings_raise_profile_error(changes, settings_):
    profile = neurosim.load_profile("rram_hfo2")
    names = ["<rram_hfo2 + replace>"]
    attempt("Profile.replace", lambda: profile.replace(changes), names)
    attempt("Profile.with_settings", lambda: profile.with_settings(settings_), ["<rram_hfo2 + --set>"])


@FUZZ
@given(name=st.one_of(st.text(max_size=40), st.sampled_from(["a" * 300, "a" * 300 + ".toml", "x/" * 3000, "\x00",
                                                               "rram_hfo2\x00", "~nobody/p.toml"])))
def test_profile_and_model_names(name):
    attempt("profile name", lambda: neurosim.load_profile(name), ["profile", name[:40]])
    attempt("model name", lambda: load_model(name), ["model", name[:40]])


# -------------------------------------------------------------------------------------------------- (b) model files
@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Shipped model name -> (TOML text, npz bytes, arrays) as save_model writes them (weights file "m.npz")."""
    out = {}
    for name in SHIPPED_MODELS:
        path = save_model(load_model(name), tmp_path_factory.mktemp("model_src") / "m.toml")
        out[name] = path.read_text(), path.with_suffix(".npz").read_bytes(), dict(np.load(path.with_suffix(".npz")))
    return out


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def crafted_npy(descr: str, shape: tuple, data: bytes, version: tuple = (1, 0)) -> bytes:
    """A .npy whose header claims ``descr`` and ``shape`` whatever ``data`` holds."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buf, header)
    else:
        np.lib.format.write_array_header_2_0(buf, header)
    return buf.getvalue() + data


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buf.getvalue()


arrays = st.one_of(
    st.builds(lambda shape, dtype: np.zeros(shape, dtype),
              st.lists(st.integers(0, 20), max_size=3).map(tuple),
              st.sampled_from([np.int8, np.int16, np.int64, np.uint8, np.uint64, np.float16, np.float32, np.float64,
                               np.complex64, np.bool_, "U3", "S2", "O"])),
    st.sampled_from([np.full((4, 16), 2 ** 64 - 1, np.uint64), np.full((4, 16), -1, np.int64),
                     np.full((4, 16), 0.5), np.full((4, 16), 1.0), np.full(16, np.nan), np.full(16, np.inf),
                     np.full(16, 1 + 1j), np.ones(16, bool), np.array([object()] * 16, dtype=object),
                     np.zeros((16, 4), np.int8), np.zeros(16, np.longdouble),
                     np.zeros(16, dtype=[("a", "<f8")])]))


@st.composite
def weights_file(draw, npz: bytes, arrays_: dict[str, np.ndarray]) -> tuple[bytes, str]:
    how = draw(st.sampled_from(["truncate", "flip", "replace_array", "drop_array", "extra_array", "huge_header",
                                "garbage", "empty", "npy_not_npz", "pickle", "bad_header", "short_data",
                                "long_data", "header_v2", "non_npy_member", "duplicate", "deflate"]))
    members = {f"{k}.npy": npy_bytes(v) for k, v in arrays_.items()}
    name = draw(st.sampled_from(sorted(members)))
    if how == "truncate":
        return npz[: draw(st.integers(0, len(npz)))], how
    if how == "flip":
        data = bytearray(npz)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        return bytes(data), how
    if how == "replace_array":
        members[name] = npy_bytes(draw(arrays))
    elif how == "drop_array":
        del members[name]
    elif how == "extra_array":
        members[draw(st.sampled_from(["x.npy", "layer9.codes.npy", "layer0.codes", "../evil.npy"]))] = npy_bytes(
            np.zeros(3))
    elif how == "huge_header":
        shape = draw(st.sampled_from([(10 ** 11, 16), (4, 2 ** 40), (2 ** 31, 2 ** 31), (4, 16, 10 ** 9),
                                      (-1, 16), (4, 16)]))
        members[name] = crafted_npy(draw(st.sampled_from(["<i1", "<i8", "<f8", "|b1", "<c16", "|O"])), shape,
                                    b"\x00" * draw(st.integers(0, 64)))
    elif how == "garbage":
        return draw(st.binary(max_size=200)), how
    elif how == "empty":
        return b"", how
    elif how == "npy_not_npz":
        return npy_bytes(arrays_[name.removesuffix(".npy")]), how
    elif how == "pickle":
        members[name] = npy_bytes(np.array([{"a": 1}] * 16, dtype=object))
    elif how == "bad_header":
        members[name] = b"\x93NUMPY\x01\x00" + struct.pack("<H", 40) + draw(
            st.sampled_from([b"{'descr': '<i1', 'shape': ((((((((((((((", b"not a dict at all!!!!!!!!!!!!!!!!!!!!!!!!",
                             b"{'descr': 'zz', 'fortran_order': False, 'shape': (4,)}"]))[:40].ljust(40)
    elif how in ("short_data", "long_data"):
        good = members[name]
        members[name] = good[:-3] if how == "short_data" else good + b"\x00" * 5
    elif how == "header_v2":
        members[name] = crafted_npy("<i1" if "codes" in name else "<f8", arrays_[name[:-4]].shape,
                                    arrays_[name[:-4]].tobytes(), version=(2, 0))
    elif how == "non_npy_member":
        members["readme.txt"] = b"hello"
    elif how == "duplicate":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            for member, content in members.items():
                archive.writestr(member, content)
            with pytest.warns(UserWarning):
                archive.writestr(name, members[name])
        return buf.getvalue(), how
    return zip_of(members, zipfile.ZIP_DEFLATED if how == "deflate" else zipfile.ZIP_STORED), how


@st.composite
def model_toml(draw, text: str) -> tuple[bytes, str]:
    how = draw(st.sampled_from(["dict", "dict", "layers", "layers", "text", "text", "huge_geometry"]))
    if how == "text":
        return draw(text_mutation(text)), how
    raw = tomllib.loads(text)
    if how == "dict":
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                raw[draw(st.sampled_from(sorted(raw)))] = draw(values)
            else:
                raw.pop(draw(st.sampled_from(sorted(raw))), None) if draw(st.booleans()) else raw.update(
                    {draw(keys): draw(values)})
    elif how == "layers":
        layer = draw(st.sampled_from(raw["layers"]))
        op = draw(st.sampled_from(["set", "delete", "add", "duplicate", "type"]))
        if op == "set":
            layer[draw(st.sampled_from(sorted(layer)))] = draw(values)
        elif op == "delete":
            layer.pop(draw(st.sampled_from(sorted(layer))))
        elif op == "add":
            layer[draw(keys)] = draw(values)
        elif op == "duplicate":
            raw["layers"].append(dict(layer))
        else:
            layer["type"] = draw(st.sampled_from(["conv2d", "maxpool2d", "flatten", "dense", "DENSE", ""]))
    else:
        layer = draw(st.sampled_from([t for t in raw["layers"] if len(t) > 1] or raw["layers"]))
        keys_ = sorted(set(layer) & {"in_features", "out_features", "kernel", "in_channels", "out_channels",
                                     "stride", "padding", "size"}) or ["in_features"]
        layer[draw(st.sampled_from(keys_))] = draw(
            st.sampled_from([10 ** 11, 2 ** 31, 2 ** 26 + 1, 2 ** 20, 2 ** 63 - 1, 0, -5, 100_000]))
        if draw(st.booleans()):
            raw["input_shape"] = [draw(st.sampled_from([10 ** 9, 2 ** 31, 2 ** 24 + 1]))]
    data = dumps_or_none(raw)
    return (data if data is not None else text.encode()), how


@FUZZ
@given(data=st.data())
def test_model_files_load_or_raise_model_error(tmp_path_factory, model_files, data):
    text, npz, arrays_ = model_files[data.draw(st.sampled_from(SHIPPED_MODELS), label="model")]
    folder = tmp_path_factory.mktemp("models")
    path = folder / "m.toml"
    if data.draw(st.booleans(), label="mutate the TOML"):
        content, how = data.draw(model_toml(text), label="model TOML")
        event(f"model TOML mutation: {how}")
        path.write_bytes(content)
        (folder / "m.npz").write_bytes(npz)
    else:
        content, how = data.draw(weights_file(npz, arrays_), label="weights file")
        event(f"weights mutation: {how}")
        path.write_text(text)
        (folder / "m.npz").write_bytes(content)
    attempt("model file", lambda: load_model(path), [str(path)])


@FUZZ
@given(kind=st.sampled_from(["directory", "symlink_loop", "long_name", "fifo", "missing", "weights_dir",
                             "weights_fifo", "weights_loop", "weights_long", "weights_nul", "weights_abs"]))
def test_model_paths_that_are_not_files(tmp_path_factory, model_files, kind):
    text, npz, _ = model_files["iris_mlp"]
    folder = tmp_path_factory.mktemp("model_paths")
    path = folder / "m.toml"
    weights = folder / "m.npz"
    if kind.startswith("weights"):
        path.write_text(text)
        if kind == "weights_dir":
            weights.mkdir()
        elif kind == "weights_fifo":
            os.mkfifo(weights)
        elif kind == "weights_loop":
            weights.symlink_to(weights.name)
        else:
            target = {"weights_long": "w" * 300 + ".npz", "weights_nul": "a\x00.npz", "weights_abs": "/dev/zero"}[kind]
            path.write_text(text.replace('weights = "m.npz"', f"weights = {json.dumps(target)}"))
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink_loop":
        path.symlink_to(path.name)
    elif kind == "long_name":
        path = folder / ("m" * 300 + ".toml")
    elif kind == "fifo":
        os.mkfifo(path)
    attempt("model path", lambda: load_model(path), [str(path)[:60]])


# ------------------------------------------------------------------------------------ (c) layer-size and data specs
spec_texts = st.one_of(
    st.lists(st.integers(0, 2 ** 40).map(str), min_size=1, max_size=6).map("-".join),
    st.lists(st.sampled_from(["0", "1", "4", "3", "99999999999", "1" * 20, "1" * 5000, "٣", "７", "", " 4", "4\n"]),
             min_size=1, max_size=5).map("-".join),
    st.text(alphabet="0123456789-", max_size=30),
    st.text(max_size=20),
    st.just("-".join(["1"] * 2000)))


@FUZZ
@given(spec=spec_texts)
def test_layer_size_specs(spec):
    names = ["model spec", spec[:30]]
    attempt("layer-size spec", lambda: parse_spec(spec), names)
    attempt("model from spec", lambda: model_from_spec(spec, (4,), 3), names)


def idx(array: np.ndarray, *, magic: bytes | None = None, dims: tuple | None = None) -> bytes:
    array = np.asarray(array, np.uint8)
    dims = array.shape if dims is None else dims
    head = magic if magic is not None else bytes([0, 0, 8, len(dims)])
    return head + struct.pack(f">{len(dims)}I", *dims) + array.tobytes()


@st.composite
def mnist_file(draw, kind: str, count: int) -> bytes | None:
    """One MNIST file (images or labels) of ``count`` items, perhaps damaged."""
    images = kind == "images"
    good = (np.zeros((count, 2, 3), np.uint8) if images else (np.arange(count) % 10).astype(np.uint8))
    how = draw(st.sampled_from(["good", "good", "good", "absent", "truncated", "magic", "dims", "huge_dims", "labels",
                                "garbage", "gzip", "gzip_truncated", "trailing", "zero_dims", "empty"]))
    event(f"mnist {kind}: {how}")
    if how == "good":
        data = idx(good)
    elif how == "absent":
        return None
    elif how == "truncated":
        full = idx(good)
        data = full[: draw(st.integers(0, len(full) - 1))]
    elif how == "magic":
        data = idx(good, magic=draw(st.sampled_from([b"\x00\x00\x0d\x03", b"\x01\x02\x08\x03", b"\x00\x00\x08\x00",
                                                     b"\x00\x00\x08\xff", b"PK\x03\x04"])))
    elif how == "dims":
        data = idx(good.reshape(-1) if images else good.reshape(count, 1, 1))
    elif how == "huge_dims":
        data = idx(good, dims=(draw(st.sampled_from([2 ** 32 - 1, 10 ** 9, count + 1])),) + good.shape[1:])
    elif how == "labels":
        data = idx(np.full(good.shape, 200, np.uint8))
    elif how == "garbage":
        data = draw(st.binary(max_size=64))
    elif how == "gzip":
        import gzip

        data = gzip.compress(idx(good))
    elif how == "gzip_truncated":
        import gzip

        full = gzip.compress(idx(good))
        data = full[: draw(st.integers(2, len(full) - 1))]
    elif how == "trailing":
        data = idx(good) + b"\x00"
    elif how == "zero_dims":
        data = idx(np.zeros((count, 0, 3), np.uint8) if images else np.zeros(0, np.uint8))
    else:
        data = b""
    return data


@FUZZ
@given(data=st.data())
def test_mnist_folders_load_or_raise_data_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("mnist")
    for prefix in ("train", "t10k"):
        n_images = data.draw(st.sampled_from([0, 1, 5, 12]), label=f"{prefix} images")
        n_labels = data.draw(st.sampled_from([n_images, n_images, n_images + 1]), label=f"{prefix} labels")
        for kind, stem, count in (("images", "images-idx3-ubyte", n_images), ("labels", "labels-idx1-ubyte", n_labels)):
            content = data.draw(mnist_file(kind, count), label=f"{prefix} {kind}")
            if content is not None:
                suffix = data.draw(st.sampled_from(["", ".gz"]), label="suffix")
                (folder / f"{prefix}-{stem}{suffix}").write_bytes(content)
    if data.draw(st.booleans(), label="odd entry"):
        odd = folder / data.draw(st.sampled_from(["t10k-images-idx3-ubyte", "train-labels-idx1-ubyte.gz"]))
        if odd.exists():
            odd.unlink()
        kind = data.draw(st.sampled_from(["dir", "loop", "fifo"]), label="odd kind")
        if kind == "dir":
            odd.mkdir()
        elif kind == "loop":
            odd.symlink_to(odd.name)
        else:
            os.mkfifo(odd)
    spec = f"mnist:{folder}"
    attempt("mnist folder", lambda: load_dataset(spec), [str(folder)])


@FUZZ
@given(spec=st.one_of(st.text(max_size=30), st.sampled_from(
    ["mnist:", "mnist:" + "x" * 300, "mnist:" + "x/" * 3000, "mnist:\x00", "mnist:~nosuchuser_zz/mnist", "mnist:/dev",
     "mnist:/dev/null", "mnist:/proc/self", "MNIST", "iris ", "a" * 10_000])).map(
    lambda s: s if s.startswith(("mnist", "MNIST", "iris", "a")) else "mnist:" + s))
def test_data_specs_load_or_raise_data_error(spec):
    attempt("data spec", lambda: load_dataset(spec), ["data set", "MNIST", "mnist", spec[:30]])


# ------------------------------------------------------------------------------------------------------ the counts
def test_zz_fuzz_counts_no_tracebacks():
    """Report the counts (``-s`` shows them) and insist on zero tracebacks."""
    by_outcome = collections.Counter()
    for (target, outcome), n in COUNTS.items():
        if target != "profile_errors":  # (a second look at the profile files counted above)
            by_outcome[outcome] += n
    tried = sum(by_outcome.values())
    report = {"examples_per_test": EXAMPLES, "inputs_tried": tried, "accepted": by_outcome["accepted"],
              "errors_raised": by_outcome["refused"], "tracebacks": by_outcome["traceback"],
              "by_target": {f"{target}: {outcome}": n for (target, outcome), n in sorted(COUNTS.items())}}
    print("\nneurosim input fuzz:", json.dumps(report, indent=1))
    if os.environ.get("NEUROSIM_FUZZ_REPORT"):
        Path(os.environ["NEUROSIM_FUZZ_REPORT"]).write_text(json.dumps(report, indent=1))
    assert by_outcome["traceback"] == 0, "\n\n".join(TRACEBACKS[:5])
