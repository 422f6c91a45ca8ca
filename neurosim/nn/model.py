"""A ternary/low-bit network: an ordered list of layers with a known input shape and range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ModelError
from .layers import MAX_LAYERS, MAX_MODEL_WEIGHTS, MAX_SAMPLE_VALUES, AnalogLayer

#: largest magnitude of an input_range bound (inputs are scaled data; 1e308 overflowed the interval bounds)
MAX_INPUT_MAGNITUDE = 1e12


@dataclass(frozen=True, eq=False)
class Model:
    """A feed-forward ternary or low-bit network.

    Parameters
    ----------
    name, description : str
    input_shape : tuple of int
        Shape of one sample, e.g. ``(28, 28, 1)`` or ``(4,)``.
    input_range : (float, float)
        Range the (normalised) inputs lie in; the chip's first DACs are set to it.
    n_classes : int
    layers : tuple
        :class:`~neurosim.nn.layers.Dense`, :class:`~neurosim.nn.layers.Conv2D`, ``MaxPool2D``, ``Flatten``.

    Raises
    ------
    ModelError
        For a malformed field or a model beyond the limits, checked here whatever built the model: at most
        :data:`~neurosim.nn.layers.MAX_LAYERS` layers, :data:`~neurosim.nn.layers.MAX_MODEL_WEIGHTS` weights (and
        ``MAX_LAYER_WEIGHTS`` per layer), :data:`~neurosim.nn.layers.MAX_SAMPLE_VALUES` values per sample at every
        layer's input and output, and input_range bounds within +-:data:`MAX_INPUT_MAGNITUDE`.
    """

    name: str
    description: str
    input_shape: tuple[int, ...]
    input_range: tuple[float, float]
    n_classes: int
    layers: tuple

    def __post_init__(self) -> None:
        for key in ("name", "description"):
            text = getattr(self, key)
            if not isinstance(text, str) or not _encodable(text):
                raise ModelError(f"model {key} must be a string of Unicode characters (got {text!r:.80})")
        name = self.name if len(self.name) <= 60 else self.name[:57] + "..."  # (for messages)
        shape = tuple(self.input_shape) if isinstance(self.input_shape, (tuple, list, np.ndarray)) else None
        if not shape or not all(_is_int(s) and s >= 1 for s in shape):
            raise ModelError(f"model {name!r}: input_shape must be a non-empty sequence of integers >= 1 "
                             f"(got {self.input_shape!r:.80})")
        object.__setattr__(self, "input_shape", tuple(int(s) for s in shape))
        rng = self.input_range
        if not (isinstance(rng, (tuple, list, np.ndarray)) and len(rng) == 2 and all(_is_real(v) for v in rng)):
            raise ModelError(f"model {name!r}: input_range must be two real numbers (min, max) (got {rng!r:.80})")
        object.__setattr__(self, "input_range", (float(rng[0]), float(rng[1])))
        if not _is_int(self.n_classes) or self.n_classes < 2:
            raise ModelError(f"model {name!r}: n_classes must be an integer >= 2 (got {self.n_classes!r:.80})")
        object.__setattr__(self, "n_classes", int(self.n_classes))
        object.__setattr__(self, "layers", tuple(self.layers))
        lo, hi = self.input_range
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ModelError(f"model {name!r}: input_range must be finite with min < max (got {self.input_range})")
        if max(abs(lo), abs(hi)) > MAX_INPUT_MAGNITUDE:  # interval bounds of later layers would overflow to inf
            raise ModelError(f"model {name!r}: input_range must lie within +-{MAX_INPUT_MAGNITUDE:g} (got "
                             f"{self.input_range}); inputs are scaled data the first DACs convert")
        if len(self.layers) > MAX_LAYERS:
            raise ModelError(f"model {name!r} has {len(self.layers)} layers; at most {MAX_LAYERS}")
        shape = self.input_shape
        self._check_sample_size("input_shape", shape)
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ModelError as exc:
                raise ModelError(f"model {name!r}, layer {i} ({layer.kind}): {exc}") from None
            self._check_sample_size(f"layer {i} ({layer.kind}) output", shape)
        if shape != (self.n_classes,):
            raise ModelError(f"model {name!r}: the last layer outputs {shape}, expected ({self.n_classes},) "
                             "for n_classes")
        if not any(layer.analog for layer in self.layers):
            raise ModelError(f"model {name!r} has no dense or conv2d layer")
        if self.n_weights > MAX_MODEL_WEIGHTS:
            raise ModelError(f"model {name!r} has {self.n_weights} weights; at most {MAX_MODEL_WEIGHTS} (2**28)")

    def _check_sample_size(self, what: str, shape: tuple[int, ...]) -> None:
        # a conv2d with a huge padding describes outputs no memory holds: refuse before any forward pass allocates
        values = math.prod(shape)
        if values > MAX_SAMPLE_VALUES:
            raise ModelError(f"model {self.name!r}: {what} {shape} holds {values} values per sample; at most "
                             f"{MAX_SAMPLE_VALUES} (2**24)")

    # ---------------------------------------------------------------------------------------------- structure
    def analog_layers(self) -> list[tuple[int, AnalogLayer]]:
        """``(index, layer)`` of every layer stored in crossbars, in order."""
        return [(i, layer) for i, layer in enumerate(self.layers) if layer.analog]

    def input_shapes(self) -> list[tuple[int, ...]]:
        """Input shape of every layer (per sample)."""
        shapes, shape = [], self.input_shape
        for layer in self.layers:
            shapes.append(shape)
            shape = layer.output_shape(shape)
        return shapes

    def input_bounds(self) -> list[tuple[float, float]]:
        """Guaranteed (min, max) of every layer's inputs, by interval arithmetic from ``input_range``.

        Loose but certain: a converter set to these bounds can never clip.
        """
        lo, hi = self.input_range
        bounds = []
        for layer in self.layers:
            bounds.append((lo, hi))
            if layer.analog:
                w = layer.weight_matrix().astype(np.float64) * layer.scale
                top = np.maximum(w * lo, w * hi).sum(axis=0) + layer.bias
                bottom = np.minimum(w * lo, w * hi).sum(axis=0) + layer.bias
                lo, hi = float(bottom.min()), float(top.max())
                if layer.activation == "relu":
                    lo, hi = max(lo, 0.0), max(hi, 0.0)
        return bounds

    @property
    def n_weights(self) -> int:
        return sum(layer.codes.size for _, layer in self.analog_layers())

    def with_codes(self, codes_by_layer: dict[int, np.ndarray]) -> Model:
        """A copy with new weight codes for some analog layers (by layer index)."""
        layers = list(self.layers)
        for i, codes in codes_by_layer.items():
            layers[i] = replace(layers[i], codes=np.asarray(codes).reshape(layers[i].codes.shape))
        return replace(self, layers=tuple(layers))

    # ------------------------------------------------------------------------------------------------ compute
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Reference float64 forward pass of the ternary model: logits of shape (N, n_classes)."""
        x = self.check_input(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class of each sample."""
        return np.argmax(self.forward(x), axis=1)

    def check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != self.input_shape:
            if x.ndim >= 1 and int(np.prod(x.shape[1:])) == int(np.prod(self.input_shape)):
                return x.reshape(x.shape[0], *self.input_shape)
            raise ModelError(f"model {self.name!r} expects samples of shape {self.input_shape} "
                             f"(got batch of shape {x.shape})")
        return x

    def summary(self) -> str:
        """One line per layer: kind, shapes, weights."""
        lines = [f"{self.name}: {self.description}"]
        for i, (layer, shape) in enumerate(zip(self.layers, self.input_shapes())):
            out = layer.output_shape(shape)
            extra = ""
            if layer.analog:
                extra = f"  {layer.fan_in}x{layer.fan_out} codes, {layer.weight_bits}-bit, {layer.activation}"
            lines.append(f"  {i}: {layer.kind:<10} {str(shape):>14} -> {str(out):<14}{extra}")
        return "\n".join(lines)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    # (a Python int beyond the float range would overflow float(); such a bound is no input range anyway)
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and not (isinstance(value, int) and abs(value) > 1.7976931348623157e308))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file can hold it
        return False
    return True


def sequential(name: str, input_shape: Sequence[int], n_classes: int, layers: Sequence,
               description: str = "", input_range: tuple[float, float] = (0.0, 1.0)) -> Model:
    """Convenience constructor of a :class:`Model`."""
    return Model(name=name, description=description, input_shape=tuple(input_shape), input_range=input_range,
                 n_classes=n_classes, layers=tuple(layers))
