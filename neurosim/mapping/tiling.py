"""Split every analog layer onto crossbar tiles of the profile's size.

A layer's (fan_in x fan_out) code matrix is cut into row blocks of ``crossbar.rows`` inputs and column blocks of as
many weights as fit in ``crossbar.cols`` physical columns (``cells_per_weight`` columns each, minus the encoding's
reference columns). Partial sums of the row blocks of one column block are added digitally. Each tile owns a whole
``rows x cols`` block of cells in the chip's memory (a physical crossbar); unused cells count against utilisation.
With wear levelling, the last ``ceil(write_policy.spare_rows_fraction x rows)`` rows of every crossbar hold no
weights (row blocks are that much shorter): they are the free rows the write controller moves data into.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..encodings import EncodingLayout, WeightEncoding, get_encoding
from ..errors import MappingError
from ..nn.model import Model
from ..nn.quantize import max_code
from ..profiles import Profile
from ..profiles.schema import spare_rows


@dataclass(frozen=True)
class Tile:
    """One crossbar holding a block of one layer."""

    index: int
    layer: int
    row_block: int
    col_block: int
    rows_used: int
    weights_used: int
    cols_used: int
    cell_offset: int


@dataclass(frozen=True, eq=False)
class LayerTiling:
    """How one analog layer sits on its tiles, with the memory index of every cell of every weight.

    Attributes
    ----------
    cell_index : ndarray of int64, shape (fan_in, fan_out, slices, cells_per_slice)
        Flat memory index of each cell of each weight.
    ref_index : ndarray of int64, shape (fan_in, col_blocks), or None
        Memory index of the reference cell a weight's row is compared with (reference encodings).
    """

    layer: int
    fan_in: int
    fan_out: int
    max_code: int
    encoding: WeightEncoding
    layout: EncodingLayout
    rows_per_tile: int
    weights_per_tile: int
    row_blocks: int
    col_blocks: int
    tiles: tuple[Tile, ...]
    cell_index: np.ndarray
    ref_index: np.ndarray | None

    def row_range(self, rb: int) -> slice:
        return slice(rb * self.rows_per_tile, min((rb + 1) * self.rows_per_tile, self.fan_in))

    def col_range(self, cb: int) -> slice:
        return slice(cb * self.weights_per_tile, min((cb + 1) * self.weights_per_tile, self.fan_out))

    def tile(self, rb: int, cb: int) -> Tile:
        return self.tiles[rb * self.col_blocks + cb]

    @property
    def cells_used(self) -> int:
        return sum(t.rows_used * t.cols_used for t in self.tiles)


def tile_model(model: Model, profile: Profile) -> tuple[list[LayerTiling], int]:
    """Tile every analog layer of ``model`` for ``profile``.

    Returns
    -------
    (tilings, n_cells)
        One :class:`LayerTiling` per analog layer, and the total number of memory cells the tiles own.

    Raises
    ------
    MappingError
        When a weight needs more cells than ``crossbar.cells_per_weight`` allows or does not fit a crossbar row.
    """
    xbar, levels = profile.crossbar, profile.device.levels
    encoding = get_encoding(xbar.weight_encoding)
    tilings, next_tile, next_cell = [], 0, 0
    # the last spare_rows physical rows of every crossbar are held free for wear levelling: a tile stores at most
    # ``rows`` logical rows, but owns all ``xbar.rows`` x ``cols`` cells (the spares are cells, area and leakage)
    rows, cols = xbar.rows - spare_rows(xbar.rows, profile.write_policy.spare_rows_fraction), xbar.cols
    cells_per_tile = xbar.rows * cols
    for index, layer in model.analog_layers():
        top = max_code(layer.weight_bits)
        try:
            lay = encoding.layout(top, levels)
        except MappingError as exc:
            raise MappingError(f"layer {index} ({layer.kind}): {exc}") from None
        cpw = lay.cells_per_weight
        if cpw > xbar.cells_per_weight:
            raise MappingError(f"layer {index} ({layer.kind}): {layer.weight_bits}-bit weights need {cpw} cells each "
                               f"with {encoding.name} on {levels}-level cells; the profile allows "
                               f"crossbar.cells_per_weight = {xbar.cells_per_weight}")
        per_tile = (cols - lay.reference_columns) // cpw
        if per_tile < 1:
            raise MappingError(f"layer {index}: a weight needs {cpw} cells + {lay.reference_columns} reference "
                               f"columns, more than crossbar.cols = {cols}")
        fan_in, fan_out = layer.fan_in, layer.fan_out
        n_rb, n_cb = -(-fan_in // rows), -(-fan_out // per_tile)
        tiles = []
        for rb in range(n_rb):
            for cb in range(n_cb):
                r_used = min(rows, fan_in - rb * rows)
                w_used = min(per_tile, fan_out - cb * per_tile)
                tiles.append(Tile(index=next_tile, layer=index, row_block=rb, col_block=cb, rows_used=r_used,
                                  weights_used=w_used, cols_used=w_used * cpw + lay.reference_columns,
                                  cell_offset=next_cell))
                next_tile += 1
                next_cell += cells_per_tile
        base = tiles[0].cell_offset
        i = np.arange(fan_in, dtype=np.int64)[:, None, None, None]
        j = np.arange(fan_out, dtype=np.int64)[None, :, None, None]
        k = (np.arange(lay.slices, dtype=np.int64)[:, None] * lay.cells_per_slice
             + np.arange(lay.cells_per_slice, dtype=np.int64)[None, :])[None, None]
        tile_id = (i // rows) * n_cb + j // per_tile
        cell_index = base + tile_id * cells_per_tile + (i % rows) * cols + (j % per_tile) * cpw + k
        ref_index = None
        if lay.reference_columns:
            ii = np.arange(fan_in, dtype=np.int64)[:, None]
            cb = np.arange(n_cb, dtype=np.int64)[None, :]
            ref_index = base + ((ii // rows) * n_cb + cb) * cells_per_tile + (ii % rows) * cols + (cols - 1)
        tilings.append(LayerTiling(layer=index, fan_in=fan_in, fan_out=fan_out, max_code=top, encoding=encoding,
                                   layout=lay, rows_per_tile=rows, weights_per_tile=per_tile, row_blocks=n_rb,
                                   col_blocks=n_cb, tiles=tuple(tiles), cell_index=cell_index,
                                   ref_index=ref_index))
    return tilings, next_cell
