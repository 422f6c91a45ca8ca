"""From weight codes to the cells and levels that store them (the encoding half of a write request)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import WriteRequestError
from ..mapping.tiling import LayerTiling
from . import _kernels
from .held import HeldState


class _WholeLayers:
    """The encoded request of a set of whole layers, kept between requests: every cell of the layers in increasing
    order, the levels last encoded for them and the codes they encode, so that the next request of the same layers
    encodes only the weights whose codes differ from last time (a trainer that re-requests whole layers pays for
    what changed). The memory still receives every cell: its read-before-write checks each one, as it would on
    the chip."""

    def __init__(self, tilings: list[LayerTiling]):
        self.position: dict[int, np.ndarray] = {}  # layer -> (weights, cells per weight): where each cell sits
        self.codes: dict[int, np.ndarray | None] = {}  # layer -> codes the levels encode (None: nothing yet)
        self.changed = np.empty(0, dtype=np.int64)  # work array: positions of changed codes
        parts, offset = [], 0
        for lt in tilings:
            flat = lt.cell_index.reshape(-1)
            order = np.argsort(flat, kind="stable")
            parts.append(flat[order])
            where = np.empty(flat.size, dtype=np.int64)
            where[order] = np.arange(flat.size, dtype=np.int64) + offset
            self.position[lt.layer] = where.reshape(lt.fan_in * lt.fan_out, -1)
            self.codes[lt.layer] = None
            offset += flat.size
        self.cells = np.concatenate(parts)
        # read-only: the memory takes the same read-only cells object as a repeat of the same cells and checks
        # only the targets that changed (NVMArray._remember_request)
        self.cells.flags.writeable = False
        self.levels = np.zeros(self.cells.size, dtype=np.uint8)


class RequestEncoder:
    """Turns a request's weight codes into ``(cells, levels)`` for the memory's door: each layer's cells in
    increasing order (the memory's fast path for requests naming no cell twice)."""

    def __init__(self, held: HeldState):
        mapping = held.mapping
        self._mapping = mapping
        self._tiling = held.tiling
        self._levels = mapping.profile.device.levels
        self._whole: dict[tuple[int, ...], _WholeLayers] = {}

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
        checked = {}
        for index, codes in codes_by_layer.items():
            lt = self._tiling(index)
            shape = np.shape(codes)
            if shape not in (model.layers[index].codes.shape, (lt.fan_in, lt.fan_out)):
                raise WriteRequestError(f"layer {index}: codes must have shape {model.layers[index].codes.shape}"
                                        f" or ({lt.fan_in}, {lt.fan_out}) (got {shape})")
            checked[index] = self._checked_codes(index, lt, codes, model.layers[index].codes.size)
        cells, levels = [], []
        if checked:
            # layers in the request's order, each in increasing cell order (the memory applies writes in the
            # order they are named: the order draws programming noise, so it is part of the numbers)
            key = tuple(checked)
            whole = self._whole.get(key)
            if whole is None:
                whole = self._whole[key] = _WholeLayers([self._tiling(i) for i in key])
            for index in key:
                self._encode_whole(whole, self._tiling(index), checked[index])
            cells.append(whole.cells)
            levels.append(whole.levels)
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
        if len(cells) == 1:  # (the kept arrays themselves: the memory reads a request, it never changes one)
            return cells[0], levels[0]
        return np.concatenate(cells), np.concatenate(levels)

    def _encode_whole(self, whole: _WholeLayers, lt: LayerTiling, codes: np.ndarray) -> None:
        """Bring ``whole``'s levels of layer ``lt`` up to ``codes``, encoding only the weights that changed."""
        last = whole.codes[lt.layer]
        if last is None:
            whole.codes[lt.layer] = last = codes.astype(np.int32)
            changed = None
        else:
            if whole.changed.size < codes.size:
                whole.changed = np.empty(codes.size, dtype=np.int64)
            n = _kernels.update_changed(np.ascontiguousarray(codes), last, whole.changed)
            if not n:
                return
            changed = whole.changed[:n]
        new = last if changed is None else last[changed]
        lv = lt.encoding.encode(new, lt.max_code, self._levels).reshape(new.size, -1)
        position = whole.position[lt.layer]
        whole.levels[position if changed is None else position[changed]] = lv

    def _checked_codes(self, index: int, lt: LayerTiling, codes: Any, size: int) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.size != size:
            raise WriteRequestError(f"layer {index}: expected {size} codes (layer shape "
                                    f"{self._mapping.model.layers[index].codes.shape}), got shape {codes.shape}")
        if codes.dtype.kind not in "iu":
            raise WriteRequestError(f"layer {index}: codes must be integers (got dtype {codes.dtype})")
        # min and max in the codes' own dtype (no int64 copy); Python ints compare exactly with any of them
        if codes.size and (int(codes.max()) > lt.max_code or int(codes.min()) < -lt.max_code):
            raise WriteRequestError(f"layer {index}: codes must lie in [-{lt.max_code}, {lt.max_code}]")
        return codes.reshape(-1)


__all__ = ["RequestEncoder"]
