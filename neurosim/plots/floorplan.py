"""Floorplan of a mapping: which layer sits on which core of the mesh, and the NoC traffic between cores."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..mapping.mapper import Mapping
from ..mapping.placement import PORT
from ._pyplot import pyplot


def plot_floorplan(mapping: Mapping, path: str | Path, *, title: str | None = None) -> Path:
    """Draw the mesh with each used core coloured by the layer(s) it holds, its tile count, the I/O port, and
    every mesh link's load (flits per inference, line width and label) under XY routing. Returns ``path``."""
    from matplotlib.patches import Patch, Rectangle

    plt = pyplot()
    placement, profile = mapping.placement, mapping.profile
    rows, cols = profile.chip.mesh_rows, profile.chip.mesh_cols
    used = {c: placement.positions[c] for c in range(placement.n_cores)}
    # show the region that matters on a big mesh (TrueNorth-like: 64x64)
    r_max = min(rows, max(r for r, _ in used.values()) + 2)
    c_max = min(cols, max(c for _, c in used.values()) + 2)
    layers_of: dict[int, list[int]] = {}
    tiles_of: dict[int, int] = {}
    for lt in mapping.tilings:
        for t in lt.tiles:
            core = int(placement.tile_core[t.index])
            layers_of.setdefault(core, [])
            if lt.layer not in layers_of[core]:
                layers_of[core].append(lt.layer)
            tiles_of[core] = tiles_of.get(core, 0) + 1
    analog = [lt.layer for lt in mapping.tilings]
    cmap = plt.get_cmap("tab10")
    colour = {layer: cmap(i % 10) for i, layer in enumerate(analog)}

    fig, ax = plt.subplots(figsize=(1.1 * c_max + 3, 1.1 * r_max + 1.5))
    for r in range(r_max):
        for c in range(c_max):
            ax.add_patch(Rectangle((c - 0.4, r - 0.4), 0.8, 0.8, fill=False, edgecolor="0.8", lw=0.8))
    for core, (r, c) in used.items():
        held = layers_of.get(core, [])
        for k, layer in enumerate(held):  # split the square between the layers a core holds
            w = 0.8 / len(held)
            ax.add_patch(Rectangle((c - 0.4 + k * w, r - 0.4), w, 0.8, color=colour[layer], alpha=0.85))
        ax.text(c, r, f"core {core}\n{tiles_of.get(core, 0)} tiles", ha="center", va="center", fontsize=7)
    pr, pc = placement.positions[PORT]
    ax.plot([pc], [pr], marker="*", color="black", markersize=12, zorder=5)
    loads = placement.link_loads()
    peak = max(loads.values(), default=1)
    for ((r1, c1), (r2, c2)), flits in loads.items():
        if max(r1, r2) >= r_max or max(c1, c2) >= c_max:
            continue
        offset = 0.08 if (r2 > r1 or c2 > c1) else -0.08  # the two directions of a link side by side
        dx, dy = (0, offset) if r1 == r2 else (offset, 0)
        ax.plot([c1 + dx, c2 + dx], [r1 + dy, r2 + dy], color="crimson", lw=0.5 + 4 * flits / peak, alpha=0.7)
        ax.text((c1 + c2) / 2 + dx, (r1 + r2) / 2 + dy, str(flits), fontsize=6, color="crimson",
                ha="center", va="center")
    handles = [Patch(color=colour[layer], label=f"layer {layer} ({mapping.model.layers[layer].kind})")
               for layer in analog]
    handles.append(plt.Line2D([], [], marker="*", color="black", ls="", label="I/O port"))
    handles.append(plt.Line2D([], [], color="crimson", label="flits per inference on a link"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_xlim(-0.6, c_max - 0.4)
    ax.set_ylim(r_max - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(c_max))
    ax.set_yticks(np.arange(r_max))
    ax.set_xlabel("mesh column")
    ax.set_ylabel("mesh row")
    ax.set_title(title or f"{mapping.model.name} on {profile.name}: {placement.strategy} placement, "
                 f"{placement.flit_hops:,} flit-hops per inference", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
