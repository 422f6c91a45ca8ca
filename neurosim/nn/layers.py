"""Ternary and low-bit layers: integer weight codes, one float scale per layer, a float bias.

An *analog* layer (:class:`Dense`, :class:`Conv2D`) is a matrix of codes that the chip stores in crossbars; its
output is ``activation(scale * (rows @ codes) + bias)`` where ``rows`` are the MVM input vectors (the input itself
for a dense layer, the im2col receptive fields for a convolution). *Digital* layers (:class:`MaxPool2D`,
:class:`Flatten`) run in the cores' digital logic.

What differs between kinds lives in the kinds' methods (MVM rows and their adjoint, vectors per sample, traced
forward and backward of digital layers, digital work): executors, trainers and the mapper call these methods and
never branch on a layer's ``kind``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ModelError
from .grad_ops import col2im, maxpool_backward, maxpool_forward
from .im2col import conv_output_size, im2col
from .quantize import max_code

ACTIVATIONS = ("relu", "none")

# Size limits, checked before anything of that size is allocated (a model file's header, a layer-size spec, an npz
# header): beyond them a simulation would not fit in a workstation's memory anyway (the executors work on float64
# copies of the weights and on im2col rows), and refusing early turns a MemoryError into a message with the limit.
#: weights (codes) in one analog layer: 2**26 = 67,108,864 (512 MiB as float64)
MAX_LAYER_WEIGHTS = 2 ** 26
#: weights in all analog layers of a model: 2**28 = 268,435,456
MAX_MODEL_WEIGHTS = 2 ** 28
#: values one sample holds at any layer's input or output (activations): 2**24 = 16,777,216
MAX_SAMPLE_VALUES = 2 ** 24
#: layers in one model
MAX_LAYERS = 1024


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    """Apply ``activation`` ("relu" or "none")."""
    return np.maximum(x, 0.0) if activation == "relu" else x


def _check_codes(codes: np.ndarray, bits: int, where: str) -> np.ndarray:
    top = max_code(bits)
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":  # floats too, integral or not: a code is a level index, never rounded here
        raise ModelError(f"{where}: weight codes must be integers (got dtype {arr.dtype})")
    if arr.size > MAX_LAYER_WEIGHTS:
        raise ModelError(f"{where}: {arr.size} weight codes; at most {MAX_LAYER_WEIGHTS} (2**26) per layer")
    # min and max compared as Python ints: no cast that could wrap (uint64 2**64 - 1 is not -1, |int8 -128| is 128)
    lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
    if lo < -top or hi > top:
        bad = lo if lo < -top else hi
        raise ModelError(f"{where}: weight codes must lie in [-{top}, {top}] for weight_bits={bits} (got {bad})")
    out = arr.astype(np.int16 if top > 127 else np.int8)
    out.flags.writeable = False
    return out


class AnalogLayer:
    """Shared behaviour of layers whose weights live in crossbars."""

    analog: ClassVar[bool] = True
    codes: np.ndarray
    scale: float
    bias: np.ndarray
    weight_bits: int
    activation: str

    def weight_matrix(self) -> np.ndarray:
        """Codes as a (fan_in, fan_out) matrix: one crossbar row per fan-in, one logical column per output."""
        return self.codes.reshape(-1, self.codes.shape[-1])

    @property
    def fan_in(self) -> int:
        return int(np.prod(self.codes.shape[:-1]))

    @property
    def fan_out(self) -> int:
        return int(self.codes.shape[-1])

    def rows(self, x: np.ndarray) -> np.ndarray:
        """MVM input vectors for input batch ``x``: shape (n_vectors, fan_in)."""
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise NotImplementedError

    def vectors_per_sample(self, input_shape: tuple[int, ...]) -> int:
        """MVM input vectors one sample of ``input_shape`` makes (1 for a dense layer, one per output pixel for a
        convolution)."""
        raise NotImplementedError

    def input_gradient(self, drows: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
        """Gradient with respect to the layer's input batch (of ``input_shape``) from the gradient with respect to
        its MVM input vectors (n_vectors, fan_in): the adjoint of :meth:`rows`."""
        raise NotImplementedError

    def rows_needing_inputs(self, rows: range, input_shape: tuple[int, ...]) -> np.ndarray:
        """Flat indices of the input elements (per sample) that crossbar rows ``rows`` read."""
        raise NotImplementedError

    def finish(self, acc: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
        """From accumulated code-unit sums (n_vectors, fan_out) to the layer output for an input of ``x_shape``:
        scale, bias, activation, output layout."""
        out = (acc * self.scale + self.bias).reshape(x_shape[0], *self.output_shape(tuple(x_shape[1:])))
        return activate(out, self.activation)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Reference (exact, float64) forward pass."""
        return self.finish(self.rows(x) @ self.weight_matrix().astype(np.float64), x.shape)

    def _validate(self, where: str) -> None:
        object.__setattr__(self, "codes", _check_codes(self.codes, self.weight_bits, where))
        raw_bias = np.asarray(self.bias)
        # booleans, complex numbers, text and objects would be cast silently (or fail later): real numbers only
        if raw_bias.dtype.kind not in "iuf":
            raise ModelError(f"{where}: bias must hold real numbers (got dtype {raw_bias.dtype})")
        bias = raw_bias.astype(np.float64).reshape(-1)
        if bias.shape != (self.fan_out,):
            raise ModelError(f"{where}: bias must have {self.fan_out} values (got {bias.size})")
        if not np.all(np.isfinite(bias)):
            bad = int(np.flatnonzero(~np.isfinite(bias))[0])
            raise ModelError(f"{where}: bias must be finite (value {bad} is {bias[bad]})")
        bias.flags.writeable = False
        object.__setattr__(self, "bias", bias)
        scale = self.scale
        real = not isinstance(scale, (bool, np.bool_)) and isinstance(scale, (int, float, np.integer, np.floating))
        # (a Python int beyond the float range would overflow float(): no scale anyway)
        value = float(scale) if real and not (isinstance(scale, int) and abs(scale) > 2 ** 1023) else math.nan
        if not (math.isfinite(value) and value > 0):
            raise ModelError(f"{where}: scale must be a finite real number > 0 (got {scale!r})")
        object.__setattr__(self, "scale", value)
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise ModelError(f"{where}: activation must be one of {ACTIVATIONS} (got {self.activation!r})")


@dataclass(frozen=True, eq=False)
class Dense(AnalogLayer):
    """Fully connected layer: codes of shape (in_features, out_features)."""

    codes: np.ndarray
    scale: float
    bias: np.ndarray
    weight_bits: int = 2
    activation: str = "relu"
    kind: ClassVar[str] = "dense"
    #: geometry keys of a model file's [[layers]] table, with their smallest values
    FILE_KEYS: ClassVar[dict[str, int]] = {"in_features": 1, "out_features": 1}

    def file_geometry(self) -> dict[str, int]:
        return {"in_features": self.fan_in, "out_features": self.fan_out}

    @classmethod
    def codes_shape(cls, geometry: dict[str, int]) -> tuple[int, ...]:
        """Shape of the codes a model file's geometry keys describe."""
        return (geometry["in_features"], geometry["out_features"])

    @classmethod
    def from_file(cls, geometry: dict[str, int], **weights) -> Dense:
        return cls(**weights)

    def __post_init__(self) -> None:
        if np.ndim(self.codes) != 2:
            raise ModelError(f"dense layer codes must be 2-D (in, out) (got shape {np.shape(self.codes)})")
        self._validate("dense layer")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(input_shape) != (self.fan_in,):
            raise ModelError(f"dense layer expects input shape ({self.fan_in},), got {tuple(input_shape)}")
        return (self.fan_out,)

    def rows(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)

    def vectors_per_sample(self, input_shape: tuple[int, ...]) -> int:
        return 1

    def input_gradient(self, drows: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
        return drows.reshape(input_shape)

    def rows_needing_inputs(self, rows: range, input_shape: tuple[int, ...]) -> np.ndarray:
        return np.arange(rows.start, rows.stop)


@dataclass(frozen=True, eq=False)
class Conv2D(AnalogLayer):
    """2D convolution on NHWC inputs: codes of shape (kernel, kernel, in_channels, out_channels)."""

    codes: np.ndarray
    scale: float
    bias: np.ndarray
    stride: int = 1
    padding: int = 0
    weight_bits: int = 2
    activation: str = "relu"
    kind: ClassVar[str] = "conv2d"
    FILE_KEYS: ClassVar[dict[str, int]] = {"kernel": 1, "in_channels": 1, "out_channels": 1, "stride": 1,
                                           "padding": 0}

    def file_geometry(self) -> dict[str, int]:
        k, _, cin, cout = self.codes.shape
        return {"kernel": k, "in_channels": cin, "out_channels": cout, "stride": self.stride,
                "padding": self.padding}

    @classmethod
    def codes_shape(cls, geometry: dict[str, int]) -> tuple[int, ...]:
        k = geometry["kernel"]
        return (k, k, geometry["in_channels"], geometry["out_channels"])

    @classmethod
    def from_file(cls, geometry: dict[str, int], **weights) -> Conv2D:
        return cls(stride=geometry["stride"], padding=geometry["padding"], **weights)

    def __post_init__(self) -> None:
        shape = np.shape(self.codes)
        if len(shape) != 4 or shape[0] != shape[1]:
            raise ModelError(f"conv2d codes must have shape (k, k, in_channels, out_channels) (got {shape})")
        for name in ("stride", "padding"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (1 if name == "stride" else 0):
                raise ModelError(f"conv2d {name} must be an integer >= {1 if name == 'stride' else 0} (got {v!r})")
        self._validate("conv2d layer")

    @property
    def kernel(self) -> int:
        return int(self.codes.shape[0])

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3 or input_shape[2] != self.codes.shape[2]:
            raise ModelError(f"conv2d expects input (H, W, {self.codes.shape[2]}), got {tuple(input_shape)}")
        h, w = (conv_output_size(s, self.kernel, self.stride, self.padding) for s in input_shape[:2])
        if h < 1 or w < 1:
            raise ModelError(f"conv2d kernel {self.kernel} does not fit input {tuple(input_shape)}")
        return (h, w, self.fan_out)

    def rows(self, x: np.ndarray) -> np.ndarray:
        cols = im2col(x, self.kernel, self.stride, self.padding)
        return cols.reshape(-1, cols.shape[-1])

    def vectors_per_sample(self, input_shape: tuple[int, ...]) -> int:
        return int(np.prod(self.output_shape(tuple(input_shape))[:-1]))

    def input_gradient(self, drows: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
        out = self.output_shape(tuple(input_shape[1:]))
        return col2im(drows.reshape(input_shape[0], out[0], out[1], -1), tuple(input_shape), self.kernel,
                      self.stride, self.padding)

    def rows_needing_inputs(self, rows: range, input_shape: tuple[int, ...]) -> np.ndarray:
        # a row is (kh, kw, c): the rows of a channel read that channel's whole feature map
        channels = np.unique(np.arange(rows.start, rows.stop) % input_shape[-1])
        n_elements = int(np.prod(input_shape))
        return np.flatnonzero(np.isin(np.arange(n_elements) % input_shape[-1], channels))


@dataclass(frozen=True, eq=False)
class MaxPool2D:
    """Non-overlapping max pooling (digital)."""

    size: int = 2
    analog: ClassVar[bool] = False
    kind: ClassVar[str] = "maxpool2d"
    FILE_KEYS: ClassVar[dict[str, int]] = {"size": 1}

    def file_geometry(self) -> dict[str, int]:
        return {"size": self.size}

    @classmethod
    def from_file(cls, geometry: dict[str, int]) -> MaxPool2D:
        return cls(size=geometry["size"])

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ModelError(f"maxpool2d size must be an integer >= 1 (got {self.size!r})")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise ModelError(f"maxpool2d expects input (H, W, C), got {tuple(input_shape)}")
        if self.size > min(input_shape[:2]):
            raise ModelError(f"maxpool2d size {self.size} is larger than its input {tuple(input_shape)}")
        return (input_shape[0] // self.size, input_shape[1] // self.size, input_shape[2])

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        s = self.size
        x = x[:, : h // s * s, : w // s * s]
        return x.reshape(n, h // s, s, w // s, s, c).max(axis=(2, 4))

    def forward_indexed(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Output and the argmax within each window (what :meth:`backward` needs)."""
        return maxpool_forward(x, self.size)

    def backward(self, dout: np.ndarray, index: np.ndarray | None, input_shape: tuple[int, ...]) -> np.ndarray:
        """Gradient with respect to the input batch (of ``input_shape``)."""
        return maxpool_backward(dout, index, tuple(input_shape), self.size)

    def neuron_ops(self, input_shape: tuple[int, ...]) -> int:
        """Digital operations one sample takes (one compare per input element)."""
        return int(np.prod(input_shape))


@dataclass(frozen=True, eq=False)
class Flatten:
    """Flatten everything but the batch axis (digital, free)."""

    analog: ClassVar[bool] = False
    kind: ClassVar[str] = "flatten"
    FILE_KEYS: ClassVar[dict[str, int]] = {}

    def file_geometry(self) -> dict[str, int]:
        return {}

    @classmethod
    def from_file(cls, geometry: dict[str, int]) -> Flatten:
        return cls()

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)

    def forward_indexed(self, x: np.ndarray) -> tuple[np.ndarray, None]:
        return self.forward(x), None

    def backward(self, dout: np.ndarray, index: None, input_shape: tuple[int, ...]) -> np.ndarray:
        return dout.reshape(input_shape)

    def neuron_ops(self, input_shape: tuple[int, ...]) -> int:
        """A flatten is wiring: no operation."""
        return 0


LAYER_KINDS = {cls.kind: cls for cls in (Dense, Conv2D, MaxPool2D, Flatten)}
