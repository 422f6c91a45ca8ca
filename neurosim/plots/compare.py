"""Comparison figures, drawn from run records only (never re-simulates; energies are priced from the records'
counts).

Several records of one trainer (several seeds) are summarised by their mean and Student-t 95 % confidence interval
(:func:`neurosim.record.stats.mean_ci`); one record per trainer gives the plain single-run figures.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from ..ledger import ENERGY_CATEGORIES
from ..record import RunRecord
from ..record.stats import mean_ci
from ..record.units import duration
from ._pyplot import pyplot

#: the ``gid`` of the context line drawn on every figure (lets tests and tools find it among ``fig.texts``)
CONTEXT_GID = "neurosim-context"


def plot_comparison(records: list[RunRecord], out_dir: str | Path, *, context: str | None = None) -> dict[str, Path]:
    """Write the four comparison plots into ``out_dir``; returns their paths by name.

    - ``accuracy_vs_writes.png``: test accuracy against cumulative cell writes, one line per trainer (online runs:
      the stream's online accuracy so far too, dashed);
    - ``worst_cell_writes.png``: writes of the most-written cell per trainer (linear scale), the lifetime to the
      first worn-out cell at one training sample a second annotated;
    - ``energy_breakdown.png``: training energy by category per trainer (stacked), and programming energy (write
      and write-verify) on its own scale;
    - ``write_heatmap.png``: writes per weight of the largest layer, one panel per trainer (log colour scale);
    - ``useful_life.png`` (continual streams only): held-out accuracy and worn-out cells along the stream.

    Parameters
    ----------
    records : list of RunRecord
        One or more records per trainer (``record.trainer["name"]``), e.g. one per seed; trainers appear in the
        order they are first seen. A trainer with several records is drawn as the mean over them with its 95 %
        confidence interval (error bars, or a shaded band on accuracy); the heat map shows its lowest seed's run.
    out_dir : str or Path
        Folder for the PNG files (created if missing).
    context : str, optional
        One line naming profile, data, model, seeds and batch sizes, drawn on every figure (and stored in the
        PNG's ``Description``) so that a figure taken out of its folder still says what it shows.

    Returns
    -------
    dict of str to Path
        ``"accuracy_vs_writes"``, ``"worst_cell_writes"``, ``"energy_breakdown"`` and, when the records carry
        write maps, ``"write_heatmap"``.
    """
    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        groups.setdefault(r.trainer["name"], []).append(r)
    names = list(groups)
    note = _seeds_note([len(g) for g in groups.values()])
    paths = {}

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    online = False
    for name, group in groups.items():
        if len(group) == 1:
            pts = _accuracy_points(group[0])
            pts = [(w, a) for w, a in pts if a is not None]
            (line,) = ax.plot([w for w, _ in pts], [100 * a for _, a in pts], marker=".", label=name)
            online |= _online_line(ax, group, line.get_color())
            continue
        runs = [_accuracy_points(r) for r in group]
        length = min(len(p) for p in runs)  # runs of one trainer differ in length only if cut short
        xs, mean, low, high = [], [], [], []
        for i in range(length):
            acc = mean_ci(p[i][1] for p in runs)
            if acc.n == 0:
                continue
            xs.append(mean_ci(p[i][0] for p in runs).mean)
            mean.append(100 * acc.mean)
            # the interval of a mean of accuracies cannot leave [0, 100] %, however few the seeds
            low.append(max(100 * acc.low, 0.0))
            high.append(min(100 * acc.high, 100.0))
        (line,) = ax.plot(xs, mean, marker=".", label=name)
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        online |= _online_line(ax, group, line.get_color())
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("cumulative cell writes")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(("accuracy against writes (solid: test set)" if online else "test accuracy against writes") + note)
    if online:
        ax.plot([], [], linestyle="--", color="0.4", label="dashed: online accuracy of the stream so far")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths["accuracy_vs_writes"] = _save(fig, out_dir / "accuracy_vs_writes.png", plt, context)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    worst = [mean_ci(max(r.final.writes_max_cell, 0) for r in g) for g in groups.values()]
    # a linear axis from zero: bar heights are proportional to the writes (a log axis exaggerated small gaps)
    heights = [s.mean for s in worst]
    bars = ax.bar(names, heights, color="tab:red")
    _error_bars(ax, names, heights, worst)
    ax.set_ylim(0, max([h for h in heights if h == h] + [1.0]) * 1.3)
    ax.set_ylabel("writes of the most-written cell")
    for bar, s, group in zip(bars, worst, groups.values()):
        days = [_life_days(r) for r in group]
        life = "never wears" if any(d is None for d in days) else f"life {duration(86400.0 * np.mean(days))}"
        label = (f"{max(group[0].final.writes_max_cell, 0):,}" if len(group) == 1 else s.format(spec=",.3g"))
        ax.annotate(f"{label}\n{life}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=7)
    ax.set_title("worst-cell writes (endurance-relevant); life: first worn-out cell at 1 sample/s" + note,
                 fontsize=9)
    fig.tight_layout()
    paths["worst_cell_writes"] = _save(fig, out_dir / "worst_cell_writes.png", plt, context)

    from matplotlib.ticker import EngFormatter

    # two panels: the whole energy by category, and programming (a sliver of the whole) on its own scale
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.4), gridspec_kw={"width_ratios": [3, 2]})
    bottom = np.zeros(len(names))
    cmap = plt.get_cmap("tab20")  # more categories than tab10 has colours
    priced = [[r.energy().energy_j for r in g] for g in groups.values()]  # priced now, from each record's counts
    for k, cat in enumerate(ENERGY_CATEGORIES):
        values = np.array([mean_ci(p.get(cat, 0.0) for p in runs).mean for runs in priced])
        if values.any():
            ax.bar(names, values, bottom=bottom, label=cat, color=cmap(k % 20))
            bottom += values
    # the interval of the total, not of each category: categories of one run are correlated
    totals = [mean_ci(sum(p.get(cat, 0.0) for cat in ENERGY_CATEGORIES) for p in runs) for runs in priced]
    _error_bars(ax, names, list(bottom), totals)
    ax.yaxis.set_major_formatter(EngFormatter(unit="J"))
    ax.set_ylabel("training energy")
    ax.set_title("energy by category" + note, fontsize=10)
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    program = [mean_ci(p.get("write", 0.0) + p.get("write_verify", 0.0) for p in runs) for runs in priced]
    ax2.bar(names, [s.mean for s in program], color="tab:purple")
    _error_bars(ax2, names, [s.mean for s in program], program)
    ax2.yaxis.set_major_formatter(EngFormatter(unit="J"))
    ax2.set_title("programming energy (write + verify)", fontsize=10)
    ax2.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    paths["energy_breakdown"] = _save(fig, out_dir / "energy_breakdown.png", plt, context)

    several = any(len(g) > 1 for g in groups.values())
    first = {name: min(g, key=lambda r: r.seed) for name, g in groups.items()}  # a map per run: the lowest seed's
    maps = [(f"{name} (seed {r.seed})" if several else name, r.write_map) for name, r in first.items() if r.write_map]
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
        paths["write_heatmap"] = _save(fig, out_dir / "write_heatmap.png", plt, context)
    streamed = [r for r in records if "stream" in r.lifetime]
    if streamed:
        paths["useful_life"] = _useful_life(plt, streamed, out_dir, context)
    return paths


def _useful_life(plt, records: list[RunRecord], out_dir: Path, context: str | None) -> Path:
    """``useful_life.png``: held-out accuracy and worn-out cells along each continual stream, in samples at the
    real endurance (converted back from an accelerated test), the end of useful life marked."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.4), sharex=True)
    for r in records:
        st = r.lifetime["stream"]
        scale = st["rule"]["endurance_scale"]
        label = r.trainer["name"] + (f" seed {r.seed}" if len({x.seed for x in records}) > 1 else "")
        xs = [p["samples"] / scale for p in st["timeline"]]
        line, = top.plot(xs, [100 * p["window_accuracy"] for p in st["timeline"]], label=label)
        bottom.plot(xs, [p["cells_failed"] for p in st["timeline"]], color=line.get_color(), label=label)
        end = st["samples_to"]["end_of_life"]
        if end is not None:
            top.axvline(end, color=line.get_color(), linestyle=":", linewidth=1)
            if st["threshold"] is not None:
                top.plot([end], [100 * st["threshold"]], marker="x", color=line.get_color())
    top.set_ylabel("held-out accuracy (%)")
    top.set_title("useful life on a continual stream (x: end of useful life, at the accuracy threshold)",
                  fontsize=9)
    top.legend(fontsize=7)
    bottom.set_ylabel("cells worn out")
    bottom.set_xlabel("stream samples (at the real endurance: simulated / endurance scale)")
    bottom.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return _save(fig, out_dir / "useful_life.png", plt, context, tight=True)


def _online_line(ax, group: list[RunRecord], color: str) -> bool:
    """Online runs: the stream's online (prequential) accuracy so far at each checkpoint, dashed, mean over the
    group's seeds (nothing for offline runs, whose checkpoints carry none)."""
    runs = [[(p.writes_total, p.online_accuracy) for p in r.checkpoints if p.online_accuracy is not None]
            for r in group]
    length = min(len(p) for p in runs)
    if not length:
        return False
    xs = [float(np.mean([p[i][0] for p in runs])) for i in range(length)]
    ys = [100 * float(np.mean([p[i][1] for p in runs])) for i in range(length)]
    ax.plot(xs, ys, linestyle="--", color=color)
    return True


def _accuracy_points(record: RunRecord) -> list[tuple[int, float | None]]:
    """(cumulative writes, test accuracy) along a run: its checkpoints, or its epochs when it has none."""
    return [(p.writes_total, p.test_accuracy) for p in record.checkpoints] or [
        (e.writes_total, e.test_accuracy) for e in record.epochs]


def _seeds_note(counts: list[int]) -> str:
    """Title suffix saying over how many seeds bars and lines are averaged (empty for single runs)."""
    if not counts or max(counts) < 2:
        return ""
    span = str(max(counts)) if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
    return f"\nmean and 95 % CI over {span} seeds"


def _error_bars(ax, names: list[str], heights: list[float], summaries: list, floor: float = 0.0) -> None:
    """Black error bars from each summary's interval, on the bars of trainers with at least two records.

    ``heights`` are the drawn bar tops (a summary's mean, possibly raised to ``floor`` for a log scale); the lower
    whisker stops at ``floor`` so that it stays drawable.
    """
    keep = [i for i, s in enumerate(summaries) if s.n >= 2]
    if not keep:
        return
    lower = [max(heights[i] - max(summaries[i].low, floor), 0.0) for i in keep]
    upper = [max(summaries[i].high - heights[i], 0.0) for i in keep]
    ax.errorbar([names[i] for i in keep], [heights[i] for i in keep], yerr=[lower, upper], fmt="none",
                ecolor="black", elinewidth=1, capsize=3)


def _add_context(fig, context: str | None):
    """Draw ``context`` as a small line under the figure (wrapped to its width); returns the text artist."""
    if not context:
        return None
    width = max(40, int(fig.get_figwidth() * 15))  # about the characters of 7-point text per inch
    # under everything already drawn (labels may hang below the figure's edge), whatever the layout
    bottom = min(0.0, fig.get_tightbbox(fig.canvas.get_renderer()).y0 / fig.get_figheight())
    return fig.text(0.5, bottom - 0.01, textwrap.fill(context, width), ha="center", va="top", fontsize=7,
                    color="0.3", gid=CONTEXT_GID)


def _life_days(record: RunRecord) -> float | None:
    """Days to the first worn-out cell at one training sample a second (None: nothing is written)."""
    steps = record.lifetime.get("lifetime_steps")
    if steps is None:
        return None
    per_step = record.lifetime.get("samples_per_step") or float(record.batch_size)
    return steps * per_step / (record.lifetime.get("endurance_scale") or 1.0) / 86400.0


def _save(fig, path: Path, plt, context: str | None = None, *, tight: bool = False) -> Path:
    """Save ``fig`` as PNG at ``path`` whole (temporary file in the same folder, then renamed) and close it.

    With a ``context`` the line is drawn under the figure and stored as the PNG's ``Description``; the figure is
    then cropped to its contents (as with ``tight``) so that the line and legends outside the axes are never cut.
    """
    extra: dict = {"bbox_inches": "tight"} if tight else {}
    if _add_context(fig, context) is not None:
        extra = {"bbox_inches": "tight", "metadata": {"Description": context}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, dpi=110, format="png", **extra)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)
    return path
