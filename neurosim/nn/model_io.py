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

The npz holds ``layer{i}.codes`` (integers) and ``layer{i}.bias`` (floats) for every dense/conv2d layer ``i``.
Shipped models live in ``models/`` (installed as package data ``neurosim.shipped_models``).
"""

from __future__ import annotations

import tomllib
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._toml import toml_value
from ..errors import ModelError
from .layers import LAYER_KINDS
from .model import Model

FORMAT = "neurosim.model/1"
_TOP_KEYS = {"format", "name", "description", "input_shape", "input_range", "n_classes", "weights", "layers"}
_WEIGHT_KEYS = {"weight_bits", "scale", "activation"}  # every analog layer's
_LAYER_KEYS = {kind: {"type", *cls.FILE_KEYS} | (_WEIGHT_KEYS if cls.analog else set())
               for kind, cls in LAYER_KINDS.items()}


def _shipped_folder() -> Path:
    try:
        return Path(str(resources.files("neurosim.shipped_models")))
    except ModuleNotFoundError:  # imported straight from a source checkout
        return Path(__file__).resolve().parents[2] / "models"


def list_models() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.stem for p in _shipped_folder().glob("*.toml"))


def save_model(model: Model, path: str | Path) -> Path:
    """Write ``model`` as ``path`` (TOML) and a ``.npz`` of the same stem beside it; returns the TOML path."""
    path = Path(path)
    if path.suffix != ".toml":
        path = path.with_suffix(".toml")
    weights_path = path.with_suffix(".npz")
    arrays: dict[str, np.ndarray] = {}
    lines = [f'format = "{FORMAT}"', f"name = {toml_value(model.name)}",
             f"description = {toml_value(model.description)}",
             f"input_shape = {list(model.input_shape)}", f"input_range = {list(model.input_range)}",
             f"n_classes = {model.n_classes}", f"weights = {toml_value(weights_path.name)}"]
    for i, layer in enumerate(model.layers):
        lines += ["", "[[layers]]", f'type = "{layer.kind}"']
        lines += [f"{key} = {value}" for key, value in layer.file_geometry().items()]
        if layer.analog:
            lines += [f"weight_bits = {layer.weight_bits}", f"scale = {layer.scale!r}",
                      f'activation = "{layer.activation}"']
            arrays[f"layer{i}.codes"] = np.asarray(layer.codes)
            arrays[f"layer{i}.bias"] = np.asarray(layer.bias)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(weights_path, **arrays)
    path.write_text("\n".join(lines) + "\n")
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
        path = Path(text)
    else:
        path = _shipped_folder() / f"{text}.toml"
        if not path.is_file():
            raise ModelError(f"unknown model {text!r}; shipped models are: {', '.join(list_models())} "
                             "(or give the path of a model .toml file)")
    return _load_file(path)


def _err(where: Path, key: str, constraint: str, value: Any) -> ModelError:
    return ModelError(f"{where}: key {key!r} must be {constraint} (got {value!r})")


def _int(raw: dict, key: str, where: Path, prefix: str, lo: int = 1) -> int:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise _err(where, prefix + key, f"an integer >= {lo}", v)
    return v


def _load_file(path: Path) -> Model:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{path}: not a valid TOML model file: {exc}") from None
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ModelError(f"{path}: unknown key {sorted(unknown)[0]!r}; valid keys: {', '.join(sorted(_TOP_KEYS))}")
    for key in _TOP_KEYS:
        if key not in raw:
            raise ModelError(f"{path}: missing key {key!r}")
    if raw["format"] != FORMAT:
        raise _err(path, "format", repr(FORMAT), raw["format"])
    for key in ("name", "description", "weights"):
        if not isinstance(raw[key], str):
            raise _err(path, key, "a string", raw[key])
    shape = raw["input_shape"]
    if not (isinstance(shape, list) and shape and all(isinstance(s, int) and s > 0 for s in shape)):
        raise _err(path, "input_shape", "a list of positive integers", shape)
    rng = raw["input_range"]
    if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, (int, float)) for v in rng)):
        raise _err(path, "input_range", "[min, max]", rng)
    n_classes = _int(raw, "n_classes", path, "", lo=2)
    arrays = _load_weights(path.parent / raw["weights"], path)
    if not isinstance(raw["layers"], list) or not raw["layers"]:
        raise _err(path, "layers", "a non-empty array of [[layers]] tables", raw["layers"])
    layers = [_build_layer(i, spec, arrays, path) for i, spec in enumerate(raw["layers"])]
    try:
        return Model(name=raw["name"], description=raw["description"], input_shape=tuple(shape),
                     input_range=(rng[0], rng[1]), n_classes=n_classes, layers=tuple(layers))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def _load_weights(weights_path: Path, where: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise ModelError(f"{where}: weights file not found: {weights_path}") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{where}: weights file {weights_path} is not a valid .npz without pickles: {exc}") from None


def _build_layer(i: int, spec: Any, arrays: dict[str, np.ndarray], path: Path) -> Any:
    prefix = f"layers[{i}]."
    if not isinstance(spec, dict) or spec.get("type") not in _LAYER_KEYS:
        raise _err(path, prefix + "type", f"one of {', '.join(_LAYER_KEYS)}",
                   spec.get("type") if isinstance(spec, dict) else spec)
    kind = spec["type"]
    unknown = set(spec) - _LAYER_KEYS[kind]
    if unknown:
        raise ModelError(f"{path}: unknown key {prefix + sorted(unknown)[0]!r} for a {kind} layer; valid: "
                         f"{', '.join(sorted(_LAYER_KEYS[kind]))}")
    missing = _LAYER_KEYS[kind] - set(spec)
    if missing:
        raise ModelError(f"{path}: missing key {prefix + sorted(missing)[0]!r}")
    cls = LAYER_KINDS[kind]
    geometry = {key: _int(spec, key, path, prefix, lo=lo) for key, lo in cls.FILE_KEYS.items()}
    if not cls.analog:
        return cls.from_file(geometry)
    for key in (f"layer{i}.codes", f"layer{i}.bias"):
        if key not in arrays:
            raise ModelError(f"{path}: weights file lacks array {key!r}")
    codes, bias = arrays[f"layer{i}.codes"], arrays[f"layer{i}.bias"]
    scale = spec["scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise _err(path, prefix + "scale", "a number > 0", scale)
    common = dict(codes=codes, scale=float(scale), bias=bias,
                  weight_bits=_int(spec, "weight_bits", path, prefix, lo=2), activation=spec["activation"])
    try:
        expected = cls.codes_shape(geometry)
        if codes.shape != expected:
            raise ModelError(f"array layer{i}.codes has shape {codes.shape}, the TOML says {expected}")
        return cls.from_file(geometry, **common)
    except ModelError as exc:
        raise ModelError(f"{path}: layers[{i}]: {exc}") from None
