"""Mapping networks onto the chip: weight encodings, tiling onto crossbars, placement on the mesh."""

from .encodings import ENCODINGS, EncodingLayout, WeightEncoding, get_encoding
from .tiling import LayerTiling, Tile, tile_model

__all__ = ["ENCODINGS", "EncodingLayout", "WeightEncoding", "get_encoding", "LayerTiling", "Tile", "tile_model"]
