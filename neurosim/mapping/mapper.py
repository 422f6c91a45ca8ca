"""Map a model onto a profile's chip: tiles, cores, placement, traffic, and the report users read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..nn.model import Model
from ..profiles import Costs, Profile, load_profile
from .placement import Placement, place
from .tiling import LayerTiling, tile_model


@dataclass(frozen=True, eq=False)
class Mapping:
    """A model laid out on a chip.

    Attributes
    ----------
    tilings : list of LayerTiling
        One per analog layer: tiles and the memory index of every cell.
    placement : Placement
        The strategy used (tiles -> cores -> mesh positions, traffic).
    alternative : Placement
        The other strategy, kept for comparison in reports.
    n_cells : int
        Memory cells owned by all tiles.
    """

    model: Model
    profile: Profile
    tilings: list[LayerTiling]
    placement: Placement
    alternative: Placement
    n_cells: int

    @property
    def n_tiles(self) -> int:
        return sum(len(t.tiles) for t in self.tilings)

    def tiling_of(self, layer_index: int) -> LayerTiling:
        for lt in self.tilings:
            if lt.layer == layer_index:
                return lt
        raise KeyError(layer_index)

    def report(self) -> MappingReport:
        return MappingReport.of(self)


@dataclass(frozen=True)
class LayerReport:
    layer: int
    kind: str
    shape: str
    tiles: int
    grid: str
    cores: int
    cells_used: int
    cells_allocated: int
    flit_hops: int

    @property
    def utilisation(self) -> float:
        return self.cells_used / self.cells_allocated if self.cells_allocated else 0.0


@dataclass(frozen=True)
class MappingReport:
    """What a user asks of a mapping: does it fit, how is it laid out, what moves on the NoC."""

    model: str
    profile: str
    layers: tuple[LayerReport, ...]
    strategy: str
    cores_used: int
    cores_available: int
    tiles_available: int
    flit_hops: int
    flit_hops_alternative: int
    alternative: str

    @classmethod
    def of(cls, mapping: Mapping) -> MappingReport:
        p, prof = mapping.placement, mapping.profile
        rows = []
        per_layer_hops: dict[int, int] = {}
        for t in p.transfers:
            per_layer_hops[t.layer] = per_layer_hops.get(t.layer, 0) + t.flits * p.hops(t.src, t.dst)
        for lt in mapping.tilings:
            layer = mapping.model.layers[lt.layer]
            cores = {int(p.tile_core[t.index]) for t in lt.tiles}
            rows.append(LayerReport(
                layer=lt.layer, kind=layer.kind, shape=f"{lt.fan_in}x{lt.fan_out}", tiles=len(lt.tiles),
                grid=f"{lt.row_blocks}x{lt.col_blocks}", cores=len(cores), cells_used=lt.cells_used,
                cells_allocated=len(lt.tiles) * prof.crossbar.rows * prof.crossbar.cols,
                flit_hops=per_layer_hops.get(lt.layer, 0)))
        n_cores = prof.chip.mesh_rows * prof.chip.mesh_cols
        return cls(model=mapping.model.name, profile=prof.name, layers=tuple(rows), strategy=p.strategy,
                   cores_used=p.n_cores, cores_available=n_cores,
                   tiles_available=n_cores * prof.core.crossbars_per_core, flit_hops=p.flit_hops,
                   flit_hops_alternative=mapping.alternative.flit_hops, alternative=mapping.alternative.strategy)

    @property
    def cells_used(self) -> int:
        return sum(r.cells_used for r in self.layers)

    @property
    def cells_allocated(self) -> int:
        return sum(r.cells_allocated for r in self.layers)

    def areas_m2(self, costs: Costs) -> dict[str, Any]:
        """Silicon area (m^2) under a profile's costs: each layer's tiles, the tiles and the cores in use, the whole
        chip (every core of the mesh and the aux memory). Area is priced like energy: from the mapping's structure
        (tiles, cores) and the profile's component areas, when asked."""
        return {"layers": {r.layer: r.tiles * costs.tile_area_m2 for r in self.layers},
                "tiles": sum(r.tiles for r in self.layers) * costs.tile_area_m2,
                "cores_in_use": self.cores_used * costs.core_area_m2, "chip": costs.chip_area_m2}

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("model", "profile", "strategy", "cores_used", "cores_available",
                                           "tiles_available", "flit_hops", "flit_hops_alternative", "alternative")}
        d["layers"] = [dict(vars(r), utilisation=r.utilisation) for r in self.layers]
        d["utilisation"] = self.cells_used / self.cells_allocated if self.cells_allocated else 0.0
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MappingReport:
        """Rebuild a report saved by :meth:`to_dict` (raises KeyError or TypeError on a malformed one)."""
        layers = tuple(LayerReport(**{k: v for k, v in r.items() if k != "utilisation"}) for r in data["layers"])
        return cls(layers=layers, **{k: data[k] for k in ("model", "profile", "strategy", "cores_used",
                                                          "cores_available", "tiles_available", "flit_hops",
                                                          "flit_hops_alternative", "alternative")})

    def format(self, costs: Costs | None = None) -> str:
        """The mapping as a table; with a profile's ``costs``, the silicon area of each layer and of the chip."""
        areas = self.areas_m2(costs) if costs is not None else None
        lines = [f"model {self.model} on profile {self.profile}: {sum(r.tiles for r in self.layers)} tiles on "
                 f"{self.cores_used} of {self.cores_available} cores (capacity {self.tiles_available} tiles)"]
        rows = [["layer", "kind", "codes", "tiles", "grid", "cores", "cells used", "util", "flit-hops"]
                + (["area mm2"] if areas else [])]
        for r in self.layers:
            rows.append([str(r.layer), r.kind, r.shape, str(r.tiles), r.grid, str(r.cores), f"{r.cells_used:,}",
                         f"{100 * r.utilisation:.1f}%", f"{r.flit_hops:,}"]
                        + ([f"{areas['layers'][r.layer] * 1e6:.4f}"] if areas else []))
        util = self.cells_used / self.cells_allocated if self.cells_allocated else 0.0
        rows.append(["total", "", "", str(sum(r.tiles for r in self.layers)), "", str(self.cores_used),
                     f"{self.cells_used:,}", f"{100 * util:.1f}%", f"{self.flit_hops:,}"]
                    + ([f"{areas['tiles'] * 1e6:.4f}"] if areas else []))
        # columns as wide as their widest cell, two spaces apart: large numbers never run together
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                  for row in rows]
        if areas:
            lines.append(f"area: tiles {areas['tiles'] * 1e6:.4f} mm2; cores in use {areas['cores_in_use'] * 1e6:.4f} "
                         f"mm2 ({self.cores_used} x {costs.core_area_m2 * 1e6:.4f} mm2: tiles, neurons, buffer, "
                         "router)")
            lines.append(f"      whole chip {areas['chip'] * 1e6:.3f} mm2 ({self.cores_available} cores and the aux "
                         "memory)")
        ratio = (self.flit_hops_alternative / self.flit_hops) if self.flit_hops else float("nan")
        lines.append(f"NoC flit-hops per inference: {self.strategy} placement {self.flit_hops:,}, "
                     f"{self.alternative} placement {self.flit_hops_alternative:,} ({ratio:.2f}x)")
        return "\n".join(lines)


def map_model(model: Model, profile: Profile | str, placement: str = "optimized") -> Mapping:
    """Tile ``model`` onto ``profile``'s crossbars and place the tiles on its mesh.

    Parameters
    ----------
    model : Model
    profile : Profile or str
    placement : {"optimized", "naive"}
        Strategy used; the other one is computed too, for comparison.

    Raises
    ------
    MappingError
        When a layer's weights cannot be encoded, or the model needs more tiles than the chip has (naming the
        layer and the tiles needed versus available).
    """
    profile = load_profile(profile)
    tilings, n_cells = tile_model(model, profile)
    chosen = place(model, tilings, profile, placement)
    other = place(model, tilings, profile, "naive" if placement == "optimized" else "optimized")
    return Mapping(model=model, profile=profile, tilings=tilings, placement=chosen, alternative=other,
                   n_cells=n_cells)


__all__ = ["Mapping", "MappingReport", "LayerReport", "map_model"]
