"""Comparison figures, drawn from run records only (never re-simulates; energies are priced from the records'
counts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..ledger import ENERGY_CATEGORIES
from ..record import RunRecord
from ._pyplot import pyplot


def plot_comparison(records: list[RunRecord], out_dir: str | Path) -> dict[str, Path]:
    """Write the four comparison plots into ``out_dir``; returns their paths by name.

    - ``accuracy_vs_writes.png``: test accuracy against cumulative cell writes, one line per trainer;
    - ``worst_cell_writes.png``: writes of the most-written cell per trainer (log scale), lifetime annotated;
    - ``energy_breakdown.png``: training energy by category per trainer (stacked);
    - ``write_heatmap.png``: writes per weight of the largest layer, one panel per trainer (log colour scale).
    """
    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [r.trainer["name"] for r in records]
    paths = {}

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r, name in zip(records, names):
        pts = [(p.writes_total, p.test_accuracy) for p in r.checkpoints] or [
            (e.writes_total, e.test_accuracy) for e in r.epochs]
        pts = [(w, a) for w, a in pts if a is not None]
        ax.plot([w for w, _ in pts], [100 * a for _, a in pts], marker=".", label=name)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("cumulative cell writes")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy against writes")
    ax.legend()
    fig.tight_layout()
    paths["accuracy_vs_writes"] = _save(fig, out_dir / "accuracy_vs_writes.png", plt)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    worst = [max(r.final.writes_max_cell, 0) for r in records]
    bars = ax.bar(names, [max(w, 0.8) for w in worst], color="tab:red")
    ax.set_yscale("log")
    ax.set_ylabel("writes of the most-written cell")
    for bar, w, r in zip(bars, worst, records):
        life = r.lifetime.get("lifetime_steps")
        label = f"{w:,}\nlife {life:.1e} steps" if life is not None else f"{w:,}\nlife: no wear"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                    fontsize=7)
    ax.set_title("worst-cell writes (endurance-relevant)")
    fig.tight_layout()
    paths["worst_cell_writes"] = _save(fig, out_dir / "worst_cell_writes.png", plt)

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    bottom = np.zeros(len(records))
    cmap = plt.get_cmap("tab10")
    priced = [r.energy().energy_j for r in records]  # priced now, from each record's counts
    for k, cat in enumerate(ENERGY_CATEGORIES):
        values = np.array([p.get(cat, 0.0) for p in priced])
        if values.any():
            ax.bar(names, values, bottom=bottom, label=cat, color=cmap(k))
            bottom += values
    ax.set_ylabel("training energy (J)")
    ax.set_title("energy by category")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    paths["energy_breakdown"] = _save(fig, out_dir / "energy_breakdown.png", plt)

    maps = [(name, r.write_map) for name, r in zip(names, records) if r.write_map]
    if maps:
        from matplotlib.colors import LogNorm

        fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps) + 1, 3.6), squeeze=False)
        top = max(max((max(row) for row in m["values"]), default=1) for _, m in maps)
        image = None
        for ax, (name, m) in zip(axes[0], maps):
            values = np.asarray(m["values"], dtype=float)
            image = ax.imshow(np.maximum(values, 0.5), norm=LogNorm(vmin=0.5, vmax=max(top, 1)), cmap="magma",
                              aspect="auto", interpolation="nearest")
            ax.set_title(f"{name}: layer {m['layer']} ({m['shape'][0]}x{m['shape'][1]})", fontsize=8)
            ax.set_xlabel(f"output (blocks of {m['block'][1]})", fontsize=7)
            ax.set_ylabel(f"input (blocks of {m['block'][0]})", fontsize=7)
        fig.colorbar(image, ax=list(axes[0]), label="writes of the most-written cell of each weight")
        paths["write_heatmap"] = _save(fig, out_dir / "write_heatmap.png", plt)
    return paths


def _save(fig, path: Path, plt) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
