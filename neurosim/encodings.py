"""Weight encodings: how a signed integer weight code becomes cell levels, and back (a registry).

The one vocabulary of encoding names: the profile schema's ``crossbar.weight_encoding`` choices are this
registry's keys. (It sits on the floor of ``profiles/`` rather than in ``mapping/`` so that the schema can read it
without importing upwards; it needs nothing but numpy.)

A weight is split into ``slices`` base-``L`` digits (``L`` = levels per cell); each slice occupies
``cells_per_slice`` cells of one crossbar row. Each slice column pair/column is read and converted separately and
the chip shift-adds the converted slices digitally: ``acc = sum_s L**s * ADC(x . slice_s) - offset * sum(x)``.

- ``differential_pair``: a plus and a minus cell per slice; the weight's magnitude goes on the side of its sign,
  currents subtract in analog. Ternary on binary cells: +1 = (1, 0), -1 = (0, 1), 0 = (0, 0); +1 -> -1 programs
  two cells, +1 -> 0 one.
- ``reference_column``: one multi-level cell per weight holding ``ref + w`` against a per-tile reference column of
  cells at level ``ref`` (subtracted in analog). Needs cells with at least ``2 * max_code + 1`` levels.
- ``bit_slice``: offset binary. The code ``w + max_code`` (non-negative) is written in base-``L`` digits across
  cells; the offset ``max_code * sum(x)`` is removed digitally. Works for k-bit weights on any cell.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from .errors import MappingError


@dataclass(frozen=True)
class EncodingLayout:
    """Physical footprint of one weight under an encoding.

    Attributes
    ----------
    slices : int
        Base-L digits per weight, converted separately and shift-added.
    cells_per_slice : int
        Cells per digit (2 for a differential pair).
    reference_columns : int
        Extra columns per tile (a reference column).
    offset : int
        Subtracted digitally as ``offset * sum(inputs)`` (offset-binary encodings).
    base : int
        Digit base (levels per cell).
    slice_max : float
        Largest |analog value| one slice column can contribute per unit input (for converter ranges).
    """

    slices: int
    cells_per_slice: int
    reference_columns: int
    offset: int
    base: int
    slice_max: float

    @property
    def cells_per_weight(self) -> int:
        return self.slices * self.cells_per_slice


def _digits_needed(value: int, base: int) -> int:
    n = 1
    while base ** n <= value:
        n += 1
    return n


class WeightEncoding(ABC):
    """Interface of an encoding; see the module docstring for the three shipped ones."""

    name: str

    @abstractmethod
    def layout(self, max_code: int, levels: int) -> EncodingLayout:
        """Footprint for weights in ``[-max_code, max_code]`` on cells with ``levels`` levels."""

    @abstractmethod
    def encode(self, codes: np.ndarray, max_code: int, levels: int) -> np.ndarray:
        """Cell levels for integer ``codes``: shape ``codes.shape + (slices, cells_per_slice)``, uint8."""

    @abstractmethod
    def slice_values(self, cells: np.ndarray, reference: np.ndarray | None, levels: int) -> np.ndarray:
        """Analog value of each slice from effective cell levels ``cells`` (``(..., slices, cells_per_slice)``)
        and, for reference encodings, the reference cell level broadcastable to ``cells[..., 0, 0]``."""

    def reference_level(self, levels: int) -> int:
        """Level the reference column holds (only for encodings with reference columns)."""
        return 0

    def decode(self, cells: np.ndarray, reference: np.ndarray | None, max_code: int, levels: int) -> np.ndarray:
        """Weight value (code units, float) from effective cell levels: the exact inverse of :meth:`encode`."""
        lay = self.layout(max_code, levels)
        # float before subtracting: encode() returns uint8, whose differences would wrap around
        cells = np.asarray(cells, dtype=np.float64)
        reference = None if reference is None else np.asarray(reference, dtype=np.float64)
        values = self.slice_values(cells, reference, levels)
        powers = float(lay.base) ** np.arange(lay.slices)
        return values @ powers - lay.offset


class DifferentialPair(WeightEncoding):
    name = "differential_pair"

    def layout(self, max_code: int, levels: int) -> EncodingLayout:
        slices = _digits_needed(max_code, levels)
        return EncodingLayout(slices=slices, cells_per_slice=2, reference_columns=0, offset=0, base=levels,
                              slice_max=float(levels - 1))

    def encode(self, codes: np.ndarray, max_code: int, levels: int) -> np.ndarray:
        lay = self.layout(max_code, levels)
        codes = np.asarray(codes, dtype=np.int64)
        mag = np.abs(codes)
        digits = np.stack([(mag // levels ** s) % levels for s in range(lay.slices)], axis=-1)
        plus = np.where(codes[..., None] > 0, digits, 0)
        minus = np.where(codes[..., None] < 0, digits, 0)
        return np.stack([plus, minus], axis=-1).astype(np.uint8)

    def slice_values(self, cells: np.ndarray, reference: np.ndarray | None, levels: int) -> np.ndarray:
        cells = np.asarray(cells, dtype=np.float64)
        return cells[..., 0] - cells[..., 1]


class ReferenceColumn(WeightEncoding):
    name = "reference_column"

    def reference_level(self, levels: int) -> int:
        return (levels - 1) // 2

    def layout(self, max_code: int, levels: int) -> EncodingLayout:
        ref = self.reference_level(levels)
        if max_code > min(ref, levels - 1 - ref):
            room = min(ref, levels - 1 - ref)
            raise MappingError(f"weight_encoding 'reference_column' stores weights up to +/-{room} "
                               f"on {levels}-level cells; the layer needs +/-{max_code} (cells with at least "
                               f"{2 * max_code + 1} levels, or another encoding)")
        return EncodingLayout(slices=1, cells_per_slice=1, reference_columns=1, offset=0, base=levels,
                              slice_max=float(max(ref, levels - 1 - ref)))

    def encode(self, codes: np.ndarray, max_code: int, levels: int) -> np.ndarray:
        self.layout(max_code, levels)
        return (np.asarray(codes, dtype=np.int64) + self.reference_level(levels)).astype(np.uint8)[..., None, None]

    def slice_values(self, cells: np.ndarray, reference: np.ndarray | None, levels: int) -> np.ndarray:
        if reference is None:
            raise MappingError("reference_column decoding needs the reference cells' levels")
        return np.asarray(cells, dtype=np.float64)[..., 0] - np.asarray(reference, dtype=np.float64)[..., None]


class BitSlice(WeightEncoding):
    name = "bit_slice"

    def layout(self, max_code: int, levels: int) -> EncodingLayout:
        slices = _digits_needed(2 * max_code, levels)
        return EncodingLayout(slices=slices, cells_per_slice=1, reference_columns=0, offset=max_code, base=levels,
                              slice_max=float(levels - 1))

    def encode(self, codes: np.ndarray, max_code: int, levels: int) -> np.ndarray:
        lay = self.layout(max_code, levels)
        u = np.asarray(codes, dtype=np.int64) + max_code
        digits = np.stack([(u // levels ** s) % levels for s in range(lay.slices)], axis=-1)
        return digits.astype(np.uint8)[..., None]

    def slice_values(self, cells: np.ndarray, reference: np.ndarray | None, levels: int) -> np.ndarray:
        return np.asarray(cells, dtype=np.float64)[..., 0]


ENCODINGS: dict[str, WeightEncoding] = {e.name: e for e in (DifferentialPair(), ReferenceColumn(), BitSlice())}


def get_encoding(name: str) -> WeightEncoding:
    """The registered encoding ``name`` (raises :class:`MappingError` listing the choices)."""
    try:
        return ENCODINGS[name]
    except KeyError:
        raise MappingError(f"unknown weight encoding {name!r}; registered: {', '.join(ENCODINGS)}") from None
