"""Models from a short spec such as ``"784-128-10"``: a fresh, seeded ternary MLP for on-chip training."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..errors import ModelError
from .layers import MAX_LAYER_WEIGHTS, MAX_LAYERS, MAX_MODEL_WEIGHTS, MAX_SAMPLE_VALUES, Dense, Flatten
from .model import Model
from .quantize import quantize_symmetric

_SPEC = re.compile(r"[0-9]+(-[0-9]+)+")  # ASCII digits only: int() would also read '٧٨٤' or '７８４'
_MAX_DIGITS = 12  # a size of more digits is far beyond the limits (and int() refuses texts of over 4300 digits)


def is_spec(text: str) -> bool:
    """Whether ``text`` looks like a layer-size spec (``"784-128-10"``) rather than a model name or path."""
    return bool(_SPEC.fullmatch(str(text)))


def _shown(spec: str) -> str:
    text = repr(spec)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_spec(spec: str) -> list[int]:
    """Layer sizes of a spec (``"784-128-10"`` -> ``[784, 128, 10]``): the one parser of layer-size specs.

    Sizes are checked against the limits of :mod:`neurosim.nn.layers` before any weight exists: at most
    ``MAX_LAYERS`` layers, ``MAX_LAYER_WEIGHTS`` (2**26) weights in one layer (``fan_in x fan_out``) and
    ``MAX_MODEL_WEIGHTS`` (2**28) in all.

    Raises
    ------
    ModelError
        When the text is not sizes joined by '-', a size is below 1, or the network exceeds a limit (naming the
        spec, the layer, the limit and the value).
    """
    if not is_spec(spec):
        raise ModelError(f"model spec must look like '784-128-10' (layer sizes joined by '-'), got {_shown(spec)}")
    parts = str(spec).split("-")
    if len(parts) - 1 > MAX_LAYERS:
        raise ModelError(f"model spec {_shown(spec)}: {len(parts) - 1} layers; at most {MAX_LAYERS}")
    long = [p for p in parts if len(p.lstrip("0")) > _MAX_DIGITS]
    if long:
        raise ModelError(f"model spec {_shown(spec)}: layer size {_shown(long[0])} is too large (at most "
                         f"{MAX_LAYER_WEIGHTS} weights per layer)")
    sizes = [int(p) for p in parts]
    if min(sizes) < 1:
        raise ModelError(f"model spec {_shown(spec)}: every layer needs at least one unit")
    wide = [n for n in sizes if n > MAX_SAMPLE_VALUES]
    if wide:
        raise ModelError(f"model spec {_shown(spec)}: a layer of {wide[0]} units; at most {MAX_SAMPLE_VALUES} (2**24)")
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if fan_in * fan_out > MAX_LAYER_WEIGHTS:
            raise ModelError(f"model spec {_shown(spec)}: layer {i + 1} ({fan_in} x {fan_out}) has "
                             f"{fan_in * fan_out} weights; at most {MAX_LAYER_WEIGHTS} (2**26) per layer")
    total = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if total > MAX_MODEL_WEIGHTS:
        raise ModelError(f"model spec {_shown(spec)} has {total} weights; at most {MAX_MODEL_WEIGHTS} (2**28)")
    return sizes


def architecture_from_spec(spec: str) -> list[dict]:
    """The MLP of a spec as the layer list :func:`~neurosim.nn.host_training.train_on_host` takes: flatten, ReLU
    dense hidden layers, a dense output layer without activation."""
    sizes = parse_spec(spec)
    return [{"type": "flatten"}] + [{"type": "dense", "out_features": n, "activation": "relu"} for n in sizes[1:-1]] + [
        {"type": "dense", "out_features": sizes[-1], "activation": "none"}]


def model_from_spec(spec: str, input_shape: Sequence[int], n_classes: int, *, seed: int = 0,
                    weight_bits: int = 2, input_range: tuple[float, float] = (0.0, 1.0)) -> Model:
    """A fresh MLP ``in-h1-...-out`` with He-initialised weights quantised to ``weight_bits`` (2 = TWN ternary).

    Parameters
    ----------
    spec : str
        Layer sizes; the first must equal the number of input features, the last the number of classes.
    input_shape : sequence of int
        Shape of one sample (the model flattens it first).
    seed : int
        Seeds the initial weights.

    Raises
    ------
    ModelError
        When the spec is malformed or disagrees with the data.
    """
    sizes = parse_spec(spec)
    features = int(np.prod(input_shape))
    if sizes[0] != features:
        raise ModelError(f"model spec {spec!r} starts with {sizes[0]} inputs, the data has {features} features "
                         f"(samples of shape {tuple(input_shape)})")
    if sizes[-1] != n_classes:
        raise ModelError(f"model spec {spec!r} ends with {sizes[-1]} outputs, the data has {n_classes} classes")
    rng = np.random.default_rng(seed)
    layers: list = [Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        codes, scale = quantize_symmetric(rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in), weight_bits)
        last = i == len(sizes) - 2
        layers.append(Dense(codes=codes, scale=scale, bias=np.zeros(fan_out), weight_bits=weight_bits,
                            activation="none" if last else "relu"))
    return Model(name=f"mlp_{spec}", description=f"fresh {weight_bits}-bit MLP {spec} (seed {seed})",
                 input_shape=tuple(input_shape), input_range=input_range, n_classes=n_classes, layers=tuple(layers))
