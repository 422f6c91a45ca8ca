"""Study figures: each metric against each varying axis, heat maps over pairs of axes, and Pareto fronts.

Figures are drawn from stored point results only (one dict per simulated point: its axis values, its seed and its
metrics, as a study's results store holds them); nothing here re-simulates or imports the chip or the trainers.

Modelling choices (they change what is shown):

- every aggregate over seeds is the mean with its Student-t 95 % interval (:func:`neurosim.record.stats.mean_ci`);
  where a line or a heat-map cell also pools points that differ in other axes, the mean and the interval pool them
  too (the title says over which axes), so the band then holds the spread over those axes as well as over seeds;
- a Pareto front is computed on the seed means of each combination of axis values: a point is on it when no other
  is better or equal in both metrics and strictly better in one ("better" per each metric's direction);
- values that are None or NaN are left out; a figure with nothing finite to show is not written.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NeurosimError
from ..record.stats import mean_ci
from ._pyplot import pyplot
from .compare import _save

#: more lines than this on one axes are unreadable: the other axes are then averaged over instead
MAX_LINES = 12
#: heat maps are drawn for this many metrics at most (the first given), to bound the number of files
HEATMAP_METRICS = 3
#: an axis (of numbers, all positive) spanning at least this factor is drawn on a log scale
LOG_SPAN = 16
DIRECTIONS = ("max", "min")

AxisValue = int | float | str


@dataclass(frozen=True)
class LineGroups:
    """How the points of a figure of one metric against one axis are split into lines.

    Attributes
    ----------
    by : tuple of str
        The axes whose values tell the lines apart (the series axis first); empty for a single line.
    keys : tuple of tuples
        One tuple of values (aligned with ``by``) per line, in drawing order.
    averaged : tuple of str
        Varying axes pooled into every line's mean (besides seeds) because one line per combination would draw
        more than :data:`MAX_LINES` lines.
    """

    by: tuple[str, ...]
    keys: tuple[tuple[AxisValue, ...], ...]
    averaged: tuple[str, ...]


def plot_study(points: list[dict], *, axes: list[str], series: str | None, metrics: dict[str, tuple[str, str]],
               pareto: list[tuple[str, str]], context: str, out_dir: str | Path) -> dict[str, Path]:
    """Write a study's figures into ``out_dir``; returns their paths by name (the file name without ``.png``).

    Files:

    - ``{metric}_vs_{axis}.png`` for each metric and each axis: the mean over seeds with a shaded 95 % confidence
      band, one line per value of ``series`` and per combination of the other varying axes (averaged over those
      axes instead when that would exceed :data:`MAX_LINES` lines);
    - ``heatmap_{metric}_{A}_{B}.png`` for each pair of axes with at least two values each (only with two axes or
      more; for the first :data:`HEATMAP_METRICS` metrics): the mean over seeds and other axes in each cell,
      coloured so that brighter is better;
    - ``pareto_{y}_vs_{x}.png`` for each pair of ``pareto``: every combination's seed mean, the Pareto front as a
      step line with its points outlined and labelled by their axis values.

    Parameters
    ----------
    points : list of dict
        One dict per simulated point (not aggregated over seeds): ``{"axes": {axis: value}, "seed": int,
        "metrics": {metric: float or None}}``. Axis values are numbers or strings (None where an axis does not
        apply to the point); every point has every axis.
    axes : list of str
        The study's varying axes in order (the seed excluded); may be empty (then only Pareto plots are drawn).
    series : str or None
        The axis whose values become separate lines and colours (e.g. ``"trainer"``); one of ``axes``.
    metrics : dict of str to (str, str)
        Metric name -> (label with unit, e.g. ``"energy per inference (J)"``, direction ``"max"`` or ``"min"``:
        which way is better).
    pareto : list of (str, str)
        Pairs ``(x_metric, y_metric)``, both in ``metrics``; a pair without finite values is skipped.
    context : str
        One line naming profile, data, model, seeds and batch sizes; drawn on every figure (and stored as the
        PNG's ``Description``) so that a figure taken out of its folder still says what it shows.
    out_dir : str or Path
        Folder for the PNG files (created if missing). Each file is written whole, then renamed into place.

    Returns
    -------
    dict of str to Path

    Raises
    ------
    NeurosimError
        When a direction is not ``"max"``/``"min"``, ``series`` is not one of ``axes``, a Pareto metric is not in
        ``metrics`` or a point lacks an axis.
    """
    _check(points, axes, series, metrics, pareto)
    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    values = {a: _axis_values(points, a) for a in axes}
    finite = [m for m in metrics if any(math.isfinite(_metric(p, m)) for p in points)]
    paths: dict[str, Path] = {}

    def save(fig, stem: str) -> None:
        if fig is not None:
            paths[stem] = _save(fig, out_dir / f"{stem}.png", plt, context, tight=True)

    lines = {axis: _line_groups([p["axes"] for p in points], axis, axes, series, values=values) for axis in axes}
    for metric in finite:
        for axis in axes:
            save(_metric_figure(plt, points, metric, metrics[metric][0], axis, lines[axis], values),
                 _file_stem(f"{metric}_vs_{axis}"))
    if len(axes) >= 2:
        wide = [a for a in axes if len(values[a]) >= 2]
        for metric in [m for m in list(metrics)[:HEATMAP_METRICS] if m in finite]:
            for a, b in itertools.combinations(wide, 2):
                others = [o for o in axes if o not in (a, b) and len(values[o]) > 1]
                save(_heatmap_figure(plt, points, metric, metrics[metric], a, b, others, values),
                     _file_stem(f"heatmap_{metric}_{a}_{b}"))
    for x_metric, y_metric in pareto:
        save(_pareto_figure(plt, points, (x_metric, y_metric), metrics, axes, series, values),
             _file_stem(f"pareto_{y_metric}_vs_{x_metric}"))
    return paths


def pareto_front(xs: Sequence[float | None], ys: Sequence[float | None], x_dir: str, y_dir: str) -> list[int]:
    """Indices of the points not dominated by any other, ordered by increasing x (then by index).

    A point dominates another when it is better or equal in both coordinates and strictly better in one, "better"
    being larger for direction ``"max"`` and smaller for ``"min"``. Points with a None or NaN coordinate are left
    out (neither on the front nor dominating); equal points are all on the front when one is.

    Parameters
    ----------
    xs, ys : sequence of float or None
        Coordinates of the points (same length).
    x_dir, y_dir : str
        ``"max"`` or ``"min"``: which way is better along each coordinate.
    """
    for name, direction in (("x_dir", x_dir), ("y_dir", y_dir)):
        if direction not in DIRECTIONS:
            raise NeurosimError(f"pareto_front: {name} must be 'max' or 'min', got {direction!r}")
    if len(xs) != len(ys):
        raise NeurosimError(f"pareto_front: xs and ys must have the same length, got {len(xs)} and {len(ys)}")
    x, y = _floats(xs), _floats(ys)
    # both coordinates turned into "larger is better"
    a = x if x_dir == "max" else -x
    b = y if y_dir == "max" else -y
    idx = np.flatnonzero(np.isfinite(a) & np.isfinite(b))
    aa, bb = a[idx], b[idx]
    front = [int(i) for k, i in enumerate(idx)
             if not np.any((aa >= aa[k]) & (bb >= bb[k]) & ((aa > aa[k]) | (bb > bb[k])))]
    return sorted(front, key=lambda i: (x[i], i))


def _line_groups(axes_of_points: list[dict[str, AxisValue]], axis: str, axes: Sequence[str], series: str | None,
                 max_lines: int = MAX_LINES, values: dict[str, list[AxisValue]] | None = None) -> LineGroups:
    """Decide the lines of a figure of a metric against ``axis`` (see :class:`LineGroups`).

    One line per value of ``series`` (unless it is ``axis`` itself) and per combination of the other axes that
    vary; if that makes more than ``max_lines`` lines, the other axes are averaged over and only the series splits
    the lines. Axes with a single value are left out of the labels, as they tell nothing apart.
    """
    if values is None:
        values = {a: _axis_values([{"axes": p} for p in axes_of_points], a) for a in axes}
    lead = (series,) if series is not None and series != axis else ()
    others = tuple(a for a in axes if a != axis and a not in lead and len(values[a]) > 1)
    by = lead + others
    keys = _ordered_keys(axes_of_points, by, values)
    if others and len(keys) > max_lines:
        return LineGroups(lead, _ordered_keys(axes_of_points, lead, values), others)
    return LineGroups(by, keys, ())


# ------------------------------------------------------------------------------------------------------ figures
def _metric_figure(plt, points, metric: str, label: str, axis: str, groups: LineGroups, values):
    """The figure of ``metric`` against ``axis`` (None when no line has a finite value)."""
    xvals = values[axis]
    numeric = all(_is_number(v) for v in xvals)
    buckets: dict[tuple, list[float]] = {}
    for p in points:
        key = (tuple(p["axes"][a] for a in groups.by), p["axes"][axis])
        buckets.setdefault(key, []).append(_metric(p, metric))
    positions = [float(v) for v in xvals] if numeric else list(range(len(xvals)))
    lines = []
    for key in groups.keys:
        summaries = [mean_ci(buckets.get((key, v), ())) for v in xvals]
        if any(s.n for s in summaries):
            lines.append((key, summaries))
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, summaries in lines:
        keep = [i for i, s in enumerate(summaries) if s.n]
        xs = [positions[i] for i in keep]
        mean = np.array([summaries[i].mean for i in keep])
        low = np.array([summaries[i].low for i in keep])
        high = np.array([summaries[i].high for i in keep])
        name = ", ".join(f"{a}={_short(v)}" for a, v in zip(groups.by, key)) or None
        (line,) = ax.plot(xs, mean, marker="o", markersize=4, label=name)
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        # a band needs two neighbouring intervals: an isolated one is shown as an error bar instead
        has = np.pad(np.isfinite(low), 1)
        alone = has[1:-1] & ~has[:-2] & ~has[2:]
        if alone.any():
            ax.errorbar(np.asarray(xs)[alone], mean[alone], yerr=np.vstack([mean - low, high - mean])[:, alone],
                        fmt="none", ecolor=line.get_color(), capsize=3)
    if numeric:
        _maybe_log_x(ax, positions)
    else:
        ax.set_xticks(positions, [_short(v) for v in xvals], rotation=30 if len(xvals) > 6 else 0)
    ax.set_xlabel(axis)
    ax.set_ylabel(label)
    averaged = f" (mean over {', '.join(groups.averaged)})" if groups.averaged else ""
    ax.set_title(f"{label} against {axis}{averaged}\nmean over seeds, shaded: 95 % CI", fontsize=10)
    if len(lines) > 1:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def _heatmap_figure(plt, points, metric: str, spec: tuple[str, str], a: str, b: str, others: list[str], values):
    """The heat map of ``metric`` over axes ``a`` (x) and ``b`` (y) (None when no cell has a finite value)."""
    label, direction = spec
    xa, yb = values[a], values[b]
    buckets: dict[tuple, list[float]] = {}
    for p in points:
        buckets.setdefault((p["axes"][a], p["axes"][b]), []).append(_metric(p, metric))
    grid = np.array([[mean_ci(buckets.get((va, vb), ())).mean for va in xa] for vb in yb])
    if not np.isfinite(grid).any():
        return None
    fig, ax = plt.subplots(figsize=(min(max(4.8, 0.7 * len(xa) + 2.5), 16), min(max(3.8, 0.45 * len(yb) + 2), 12)))
    # reversed for "min" metrics so that the bright end of the map is always the better one
    image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", interpolation="nearest",
                      cmap="viridis" if direction == "max" else "viridis_r")
    size = 7 if grid.size <= 100 else 5
    for j, i in zip(*np.nonzero(np.isfinite(grid))):
        shade = float(image.norm(grid[j, i]))
        bright = shade if direction == "max" else 1 - shade
        ax.text(i, j, f"{grid[j, i]:.3g}", ha="center", va="center", fontsize=size,
                color="black" if bright > 0.5 else "white")
    ax.set_xticks(range(len(xa)), [_short(v) for v in xa], rotation=30 if len(xa) > 6 else 0)
    ax.set_yticks(range(len(yb)), [_short(v) for v in yb])
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    over = f"mean over seeds and {', '.join(others)}" if others else "mean over seeds"
    ax.set_title(f"{label} over {a} and {b}\n{over}; brighter is better", fontsize=10)
    # plain tick labels: a shared "1e-5" offset above the colour bar would run into the title
    fig.colorbar(image, ax=ax, label=f"{label} (brighter is better)", format="{x:.3g}")
    return fig


def _pareto_figure(plt, points, pair: tuple[str, str], metrics, axes: Sequence[str], series: str | None, values):
    """The Pareto figure of ``pair = (x_metric, y_metric)`` (None when no combination has both finite)."""
    x_metric, y_metric = pair
    (x_label, x_dir), (y_label, y_dir) = metrics[x_metric], metrics[y_metric]
    combos: dict[tuple, list[dict]] = {}
    for p in points:
        combos.setdefault(tuple(p["axes"][a] for a in axes), []).append(p)
    rows = []  # (axis values, x mean, y mean)
    for key, group in combos.items():
        mx, my = mean_ci(_metric(p, x_metric) for p in group).mean, mean_ci(_metric(p, y_metric) for p in group).mean
        if math.isfinite(mx) and math.isfinite(my):
            rows.append((dict(zip(axes, key)), mx, my))
    if not rows:
        return None
    xs, ys = [r[1] for r in rows], [r[2] for r in rows]
    front = pareto_front(xs, ys, x_dir, y_dir)
    fig, ax = plt.subplots(figsize=(6.5, 4.6))
    if series is not None:
        for v in values[series]:
            keep = [i for i, r in enumerate(rows) if r[0][series] == v]
            if keep:
                ax.scatter([xs[i] for i in keep], [ys[i] for i in keep], s=18, label=f"{series}={_short(v)}")
    else:
        ax.scatter(xs, ys, s=18, color="tab:blue")
    fx, fy = [xs[i] for i in front], [ys[i] for i in front]
    # the step traces the edge of what the front attains: along x, the best y reachable without worse x
    ax.plot(fx, fy, drawstyle="steps-post" if x_dir == "min" else "steps-pre", color="black", linewidth=1,
            label="Pareto front")
    ax.scatter(fx, fy, s=70, facecolors="none", edgecolors="black", linewidths=1.2)
    _maybe_log_x(ax, xs)
    shown = [a for a in axes if len(values[a]) > 1]
    to_axes = ax.transData + ax.transAxes.inverted()  # data -> axes fraction, once the limits are settled
    for i in front:
        text = ", ".join(_short(rows[i][0][a]) for a in shown)
        if text:
            right = to_axes.transform((xs[i], ys[i]))[0] > 0.75  # labels near the right edge go to the left
            ax.annotate(text, (xs[i], ys[i]), xytext=(-4 if right else 4, 4), textcoords="offset points",
                        ha="right" if right else "left", fontsize=6)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    better = {"max": "higher", "min": "lower"}
    ax.set_title(f"{y_metric} against {x_metric}: Pareto front\nbetter: {better[x_dir]} x, {better[y_dir]} y; "
                 "dots: means over seeds", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------------ helpers
def _check(points, axes, series, metrics, pareto) -> None:
    for name, spec in metrics.items():
        if not (isinstance(spec, tuple | list) and len(spec) == 2 and spec[1] in DIRECTIONS):
            raise NeurosimError(f"plot_study: metrics[{name!r}] must be (label, 'max' or 'min'), got {spec!r}")
    if series is not None and series not in axes:
        raise NeurosimError(f"plot_study: series must be None or one of axes {list(axes)}, got {series!r}")
    for pair in pareto:
        for name in pair:
            if name not in metrics:
                raise NeurosimError(f"plot_study: pareto pair {tuple(pair)!r}: metric {name!r} is not in metrics "
                                    f"({', '.join(metrics)}); its direction is needed")
    for k, p in enumerate(points):
        missing = [a for a in axes if a not in p.get("axes", {})]
        if missing:
            raise NeurosimError(f"plot_study: points[{k}] has no value for axis {missing[0]!r}")


def _metric(point: dict, name: str) -> float:
    """A point's metric as a float (NaN when absent, None or not finite)."""
    value = point.get("metrics", {}).get(name)
    if value is None:
        return math.nan
    value = float(value)
    return value if math.isfinite(value) else math.nan


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=float)


def _is_number(value: Any) -> bool:
    # booleans are categories (on/off switches), not quantities
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _axis_values(points: list[dict], axis: str) -> list[AxisValue]:
    """An axis's distinct values: sorted when all are numbers, else in first-seen order. None (the axis does not
    apply to a point, e.g. one trainer's hyper-parameter at another trainer's points) is not a value: such points
    are left out of figures against that axis."""
    seen = [v for v in dict.fromkeys(p["axes"][axis] for p in points) if v is not None]
    return sorted(seen) if seen and all(_is_number(v) for v in seen) else seen


def _ordered_keys(axes_of_points, by: tuple[str, ...], values) -> tuple[tuple[AxisValue, ...], ...]:
    """Distinct value tuples of the axes ``by``, ordered by each axis's value order."""
    keys = dict.fromkeys(tuple(p[a] for a in by) for p in axes_of_points)
    rank = {a: {v: i for i, v in enumerate(values[a])} for a in by}
    return tuple(sorted(keys, key=lambda key: tuple(rank[a].get(v, len(rank[a])) for a, v in zip(by, key))))


def _maybe_log_x(ax, xs: Sequence[float]) -> None:
    finite = [x for x in xs if math.isfinite(x)]
    if finite and min(finite) > 0 and max(finite) / min(finite) >= LOG_SPAN:
        ax.set_xscale("log")


def _short(value: AxisValue | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float | np.floating):
        return f"{value:.3g}"
    return str(value)


def _file_stem(name: str) -> str:
    """``name`` with anything but letters, digits, ``_``, ``.`` and ``-`` replaced (metric names become files)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


__all__ = ["plot_study", "pareto_front", "LineGroups", "MAX_LINES", "HEATMAP_METRICS"]
