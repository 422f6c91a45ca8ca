"""Mapping networks onto the chip: tiling onto crossbars, placement on the mesh (weight encodings live in
:mod:`neurosim.encodings` and are re-exported here)."""

from ..encodings import ENCODINGS, EncodingLayout, WeightEncoding, get_encoding
from .mapper import LayerReport, Mapping, MappingReport, map_model
from .placement import PORT, STRATEGIES, Placement, Transfer, mesh_graph, xy_route
from .tiling import LayerTiling, Tile, tile_model

__all__ = ["ENCODINGS", "EncodingLayout", "WeightEncoding", "get_encoding", "LayerTiling", "Tile", "tile_model",
           "Mapping", "MappingReport", "LayerReport", "map_model", "Placement", "Transfer", "PORT", "STRATEGIES",
           "mesh_graph", "xy_route"]
