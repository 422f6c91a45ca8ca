"""Model files: an architecture TOML plus a weights ``.npz`` (loaded with ``allow_pickle=False``).

Format ``neurosim.model/1``::

    format = "neurosim.model/1"
    name = "mnist_mlp"
    description = "..."
    input_shape = [28, 28, 1]
    input_range = [0.0, 1.0]
    n_classes = 10
    weights = "mnist_mlp.npz"          # relative to this file

    [[layers]]
    type = "flatten"

    [[layers]]
    type = "dense"                     # keys: in_features, out_features, weight_bits, scale, activation
    ...

The npz holds ``layer{i}.codes`` (integers) and ``layer{i}.bias`` (floats) for every dense/conv2d layer ``i``, and
nothing else. Shipped models live in ``models/`` (installed as package data ``neurosim.shipped_models``).

Loading checks a file completely before trusting it, in this order: the TOML (read under the limits of
:mod:`neurosim._toml`; every key's type and range; the layer geometry against the size limits of
:mod:`neurosim.nn.layers`, so a header claiming 10^11 weights is refused before anything is allocated), then each
array's ``.npy`` header inside the npz (dtype, shape against the TOML's geometry, stored size), and only then the
array data (codes within the range of ``weight_bits``, finite biases). Errors name the model file, the weights file,
the key or array, the constraint and the value.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._toml import dumps, file_problem, os_reason, read_toml
from ..errors import ModelError
from .layers import LAYER_KINDS, MAX_LAYER_WEIGHTS, MAX_LAYERS, MAX_MODEL_WEIGHTS
from .model import Model

FORMAT = "neurosim.model/1"
_TOP_KEYS = {"format", "name", "description", "input_shape", "input_range", "n_classes", "weights", "layers"}
_WEIGHT_KEYS = {"weight_bits", "scale", "activation"}  # every analog layer's
_LAYER_KEYS = {kind: {"type", *cls.FILE_KEYS} | (_WEIGHT_KEYS if cls.analog else set())
               for kind, cls in LAYER_KINDS.items()}
#: geometry values above this are refused from a file (no layer is that wide; it also keeps products exact)
_MAX_GEOMETRY = 2 ** 31
#: the .npy header of one array (numpy writes ~128 bytes)
_MAX_NPY_HEADER = 4096


def _shipped_folder() -> Path:
    try:
        return Path(str(resources.files("neurosim.shipped_models")))
    except ModuleNotFoundError:  # imported straight from a source checkout
        return Path(__file__).resolve().parents[2] / "models"


def list_models() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.stem for p in _shipped_folder().glob("*.toml"))


def save_model(model: Model, path: str | Path) -> Path:
    """Write ``model`` as ``path`` (TOML) and a ``.npz`` of the same stem beside it; returns the TOML path.

    Raises
    ------
    ModelError
        When a file cannot be written (naming it and the reason).
    """
    path = Path(path)
    if path.suffix != ".toml":
        path = path.with_suffix(".toml")
    weights_path = path.with_suffix(".npz")
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, layer in enumerate(model.layers):
        table: dict[str, Any] = {"type": layer.kind}
        table.update({key: int(value) for key, value in layer.file_geometry().items()})
        if layer.analog:
            table.update(weight_bits=int(layer.weight_bits), scale=float(layer.scale), activation=layer.activation)
            arrays[f"layer{i}.codes"] = np.asarray(layer.codes)
            arrays[f"layer{i}.bias"] = np.asarray(layer.bias)
        layers.append(table)
    top = {"format": FORMAT, "name": model.name, "description": model.description,
           "input_shape": [int(s) for s in model.input_shape], "input_range": [float(v) for v in model.input_range],
           "n_classes": int(model.n_classes), "weights": weights_path.name}
    # one [[layers]] table per layer, as the format documents (tomli-w alone would inline an array of small tables)
    text = dumps(top) + "".join(f"\n[[layers]]\n{dumps(table)}" for table in layers)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(weights_path, **arrays)
        path.write_text(text, encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot write the model: {os_reason(exc)}") from None
    return path


def load_model(name_or_path: str | Path | Model) -> Model:
    """Load a shipped model by name (``"mnist_mlp"``) or a model TOML file by path.

    Raises
    ------
    ModelError
        Naming the file, the key, the constraint and the value.
    """
    if isinstance(name_or_path, Model):
        return name_or_path
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text:
        return _load_file(Path(text))
    # a name is looked up among the shipped names, never built into a path first (a 300-character name is an
    # unknown model, not an OSError)
    if text not in list_models():
        raise ModelError(f"unknown model {_shown(text)}; shipped models are: {', '.join(list_models())} "
                         "(or give the path of a model .toml file)")
    return _load_file(_shipped_folder() / f"{text}.toml")


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) or len(value) < 20 else f"<{type(value).__name__} " \
        f"of {len(value)} items>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _err(where: Path, key: str, constraint: str, value: Any) -> ModelError:
    return ModelError(f"{where}: key {key!r} must be {constraint} (got {_shown(value)})")


def _int(raw: dict, key: str, where: Path, prefix: str, lo: int = 1, hi: int = _MAX_GEOMETRY) -> int:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _err(where, prefix + key, f"an integer in [{lo}, {hi}]", v)
    return v


def _is_number(v: Any) -> bool:
    # TOML has no complex numbers; a boolean is never a number; an integer beyond the float range is no bound
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, int) and abs(v) > 2 ** 1023)


def _load_file(path: Path) -> Model:
    raw = read_toml(path, "model file", lambda message: ModelError(f"{path}: {message}"))
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ModelError(f"{path}: unknown key {_shown(unknown[0])}; valid keys: {', '.join(sorted(_TOP_KEYS))}")
    for key in sorted(_TOP_KEYS):
        if key not in raw:
            raise ModelError(f"{path}: missing key {key!r}")
    if raw["format"] != FORMAT:
        raise _err(path, "format", repr(FORMAT), raw["format"])
    for key in ("name", "description", "weights"):
        if not isinstance(raw[key], str):
            raise _err(path, key, "a string", raw[key])
    if not raw["weights"]:
        raise _err(path, "weights", "the name of the .npz file beside the model file", raw["weights"])
    shape = raw["input_shape"]
    if not (isinstance(shape, list) and 1 <= len(shape) <= 8
            and all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= _MAX_GEOMETRY for s in shape)):
        raise _err(path, "input_shape", f"a list of 1 to 8 integers in [1, {_MAX_GEOMETRY}]", shape)
    rng = raw["input_range"]
    if not (isinstance(rng, list) and len(rng) == 2 and all(_is_number(v) for v in rng)):
        raise _err(path, "input_range", "[min, max] (two numbers)", rng)
    n_classes = _int(raw, "n_classes", path, "", lo=2)
    if not isinstance(raw["layers"], list) or not raw["layers"]:
        raise _err(path, "layers", "a non-empty array of [[layers]] tables", raw["layers"])
    if len(raw["layers"]) > MAX_LAYERS:
        raise _err(path, "layers", f"at most {MAX_LAYERS} [[layers]] tables", raw["layers"])
    specs = [_layer_spec(i, spec, path) for i, spec in enumerate(raw["layers"])]
    total = sum(math.prod(codes_shape) for _, _, codes_shape in specs if codes_shape is not None)
    if total > MAX_MODEL_WEIGHTS:
        raise ModelError(f"{path}: the layers declare {total} weights in all; at most {MAX_MODEL_WEIGHTS} (2**28)")
    wanted = {}
    for i, (_, _, codes_shape) in enumerate(specs):
        if codes_shape is not None:
            wanted[f"layer{i}.codes"] = codes_shape
            wanted[f"layer{i}.bias"] = (codes_shape[-1],)
    weights_path = path.parent / raw["weights"]
    arrays = _load_weights(weights_path, path, wanted)
    layers = [_build_layer(i, spec, geometry, arrays, path, weights_path)
              for i, (spec, geometry, _) in enumerate(specs)]
    try:
        return Model(name=raw["name"], description=raw["description"], input_shape=tuple(shape),
                     input_range=(rng[0], rng[1]), n_classes=n_classes, layers=tuple(layers))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def _layer_spec(i: int, spec: Any, path: Path) -> tuple[dict, dict[str, int], tuple[int, ...] | None]:
    """One [[layers]] table checked (keys, geometry, the size its codes would have): ``(table, geometry, codes
    shape or None for a digital layer)``."""
    prefix = f"layers[{i}]."
    kind = spec.get("type") if isinstance(spec, dict) else None
    if not isinstance(kind, str) or kind not in _LAYER_KEYS:
        raise _err(path, prefix + "type", f"one of {', '.join(_LAYER_KEYS)}", kind if isinstance(spec, dict) else spec)
    unknown = sorted(set(spec) - _LAYER_KEYS[kind])
    if unknown:
        raise ModelError(f"{path}: unknown key {prefix + unknown[0]!r:.100} for a {kind} layer; valid: "
                         f"{', '.join(sorted(_LAYER_KEYS[kind]))}")
    missing = sorted(_LAYER_KEYS[kind] - set(spec))
    if missing:
        raise ModelError(f"{path}: missing key {prefix + missing[0]!r}")
    cls = LAYER_KINDS[kind]
    geometry = {key: _int(spec, key, path, prefix, lo=lo) for key, lo in cls.FILE_KEYS.items()}
    if not cls.analog:
        return spec, geometry, None
    codes_shape = tuple(int(n) for n in cls.codes_shape(geometry))
    weights = math.prod(codes_shape)
    if weights > MAX_LAYER_WEIGHTS:
        raise ModelError(f"{path}: layers[{i}] ({kind}, codes of shape {codes_shape}) declares {weights} weights; "
                         f"at most {MAX_LAYER_WEIGHTS} (2**26) per layer")
    return spec, geometry, codes_shape


def _load_weights(weights_path: Path, where: Path, wanted: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The arrays ``wanted`` (name -> shape the TOML declares) from the npz, each checked in its ``.npy`` header
    (dtype, shape, stored size) before its data is read."""
    label = f"{where}: weights file {weights_path}"
    problem = file_problem(weights_path)
    if problem == "not found":
        raise ModelError(f"{where}: weights file not found: {weights_path}")
    if problem is not None:
        raise ModelError(f"{label}: {problem}")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(weights_path) as archive:
            members = archive.infolist()
            names = [m.filename for m in members]
            if len(set(names)) != len(names):
                raise ModelError(f"{label}: holds an array twice; a .npz holds each array once")
            for member in members:
                name = member.filename[:-4] if member.filename.endswith(".npy") else None
                if name not in wanted:
                    raise ModelError(f"{label}: holds {member.filename!r:.80}, which no layer of the model file uses; "
                                     f"expected only: {', '.join(sorted(wanted)) or '(no arrays)'}")
            for name, shape in wanted.items():
                if f"{name}.npy" not in names:
                    raise ModelError(f"{where}: weights file lacks array {name!r} ({weights_path})")
                arrays[name] = _read_member(archive, f"{name}.npy", name, shape, label)
    except ModelError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError, zlib.error, struct.error, UnicodeDecodeError, OverflowError) as exc:
        # (RuntimeError: an encrypted member; NotImplementedError: a compression numpy never writes)
        raise ModelError(f"{label} is not a valid .npz (a zip archive of .npy arrays, without pickles): "
                         f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return arrays


def _read_member(archive: zipfile.ZipFile, member: str, name: str, shape: tuple[int, ...], label: str) -> np.ndarray:
    codes = name.endswith(".codes")
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ModelError(f"{label}: array {name!r} has .npy format version {version}; expected 1.0 or 2.0")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        try:
            stored_shape, _, dtype = read_header(f, max_header_size=_MAX_NPY_HEADER)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
            raise
        except Exception as exc:  # numpy parses a garbled header with ast and tokenize: any error is possible
            raise ModelError(f"{label}: array {name!r} has a malformed .npy header: {type(exc).__name__}: "
                             f"{str(exc)[:120]}") from None
        header_bytes = f.tell()
    # the header is checked before the data is read: numpy would allocate whatever shape a header claims
    allowed = "iu" if codes else "iuf"
    if dtype.hasobject or dtype.names is not None or dtype.kind not in allowed or dtype.itemsize > 8:
        what = "integers of at most 64 bits" if codes else "real numbers (integers or floats of at most 64 bits)"
        raise ModelError(f"{label}: array {name!r} must hold {what} (got dtype {dtype})")
    if tuple(stored_shape) != shape:
        raise ModelError(f"{label}: array {name!r} has shape {tuple(stored_shape)}, the model file says {shape}")
    expected = header_bytes + math.prod(shape) * dtype.itemsize
    if archive.getinfo(member).file_size != expected:
        raise ModelError(f"{label}: array {name!r} holds {archive.getinfo(member).file_size - header_bytes} data "
                         f"bytes, its header ({dtype}, shape {shape}) needs {expected - header_bytes} (truncated or "
                         f"garbled)")
    with archive.open(member) as f:
        array = np.lib.format.read_array(f, allow_pickle=False, max_header_size=_MAX_NPY_HEADER)
    return _checked_values(array, name, label)


def _checked_values(array: np.ndarray, name: str, label: str) -> np.ndarray:
    if name.endswith(".bias") and array.size:
        finite = np.isfinite(array)
        if not finite.all():
            bad = int(np.flatnonzero(~finite.ravel())[0])
            raise ModelError(f"{label}: array {name!r} must hold finite numbers (value {bad} is "
                             f"{array.ravel()[bad]})")
    return array


def _build_layer(i: int, spec: dict, geometry: dict[str, int], arrays: dict[str, np.ndarray], path: Path,
                 weights_path: Path) -> Any:
    prefix = f"layers[{i}]."
    cls = LAYER_KINDS[spec["type"]]
    if not cls.analog:
        return cls.from_file(geometry)
    codes, bias = arrays[f"layer{i}.codes"], arrays[f"layer{i}.bias"]
    scale = spec["scale"]
    if not _is_number(scale) or not math.isfinite(scale) or scale <= 0:
        raise _err(path, prefix + "scale", "a finite number > 0", scale)
    if not isinstance(spec["activation"], str):
        raise _err(path, prefix + "activation", "a string", spec["activation"])
    common = dict(codes=codes, scale=float(scale), bias=bias,
                  weight_bits=_int(spec, "weight_bits", path, prefix, lo=2, hi=16), activation=spec["activation"])
    try:
        return cls.from_file(geometry, **common)
    except ModelError as exc:
        raise ModelError(f"{path}: layers[{i}]: {exc} (arrays layer{i}.codes and layer{i}.bias of weights file "
                         f"{weights_path})") from None
