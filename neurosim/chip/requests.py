"""From weight codes to the cells and levels that store them (the encoding half of a write request)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import WriteRequestError
from ..mapping.tiling import LayerTiling
from .held import HeldState


class RequestEncoder:
    """Turns a request's weight codes into ``(cells, levels)`` for the memory's door, cells in increasing order
    (the memory's sorted fast path; a cell is never named twice by one layer)."""

    def __init__(self, held: HeldState):
        mapping = held.mapping
        self._mapping = mapping
        self._tiling = held.tiling
        self._levels = mapping.profile.device.levels
        self._order = {lt.layer: np.argsort(lt.cell_index.reshape(-1), kind="stable") for lt in mapping.tilings}

    def encode(self, codes_by_layer: dict[int, Any], updates: dict[int, tuple[Any, Any]]
               ) -> tuple[np.ndarray, np.ndarray]:
        """Cells and levels storing ``codes_by_layer`` (whole layers, in the layer's shape or (fan_in, fan_out))
        and ``updates`` (flat weight indices into the (fan_in, fan_out) matrix and their new codes).

        Raises
        ------
        WriteRequestError
            For a layer that is not analog, codes of the wrong shape or type, or out of the layer's range.
        """
        model = self._mapping.model
        cells, levels = [], []
        for index, codes in codes_by_layer.items():
            lt = self._tiling(index)
            shape = np.shape(codes)
            if shape not in (model.layers[index].codes.shape, (lt.fan_in, lt.fan_out)):
                raise WriteRequestError(f"layer {index}: codes must have shape {model.layers[index].codes.shape}"
                                        f" or ({lt.fan_in}, {lt.fan_out}) (got {shape})")
            codes = self._checked_codes(index, lt, codes, model.layers[index].codes.size)
            lv = lt.encoding.encode(codes.reshape(lt.fan_in, lt.fan_out), lt.max_code, self._levels)
            order = self._order[index]
            cells.append(lt.cell_index.reshape(-1)[order])
            levels.append(lv.reshape(-1)[order])
        for index, (flat, codes) in updates.items():
            lt = self._tiling(index)
            flat = np.asarray(flat)
            if flat.size and flat.dtype.kind not in "iu":
                raise WriteRequestError(f"layer {index}: weight indices must be integers (got dtype {flat.dtype})")
            flat = flat.astype(np.int64).reshape(-1)
            if flat.size and (flat.min() < 0 or flat.max() >= lt.fan_in * lt.fan_out):
                raise WriteRequestError(f"layer {index}: weight indices must be in [0, {lt.fan_in * lt.fan_out})")
            codes = self._checked_codes(index, lt, codes, flat.size)
            lv = lt.encoding.encode(codes, lt.max_code, self._levels).reshape(flat.size, -1)
            c = lt.cell_index.reshape(lt.fan_in * lt.fan_out, -1)[flat].reshape(-1)
            order = np.argsort(c, kind="stable")
            cells.append(c[order])
            levels.append(lv.reshape(-1)[order])
        if not cells:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
        return np.concatenate(cells), np.concatenate(levels)

    def _checked_codes(self, index: int, lt: LayerTiling, codes: Any, size: int) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.size != size:
            raise WriteRequestError(f"layer {index}: expected {size} codes (layer shape "
                                    f"{self._mapping.model.layers[index].codes.shape}), got shape {codes.shape}")
        if codes.dtype.kind not in "iu":
            raise WriteRequestError(f"layer {index}: codes must be integers (got dtype {codes.dtype})")
        if codes.size and int(np.abs(codes.astype(np.int64)).max()) > lt.max_code:
            raise WriteRequestError(f"layer {index}: codes must lie in [-{lt.max_code}, {lt.max_code}]")
        return codes.reshape(-1)


__all__ = ["RequestEncoder"]
