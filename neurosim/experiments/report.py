"""Reports of a study, drawn from its store only (never re-simulating): CSVs, a summary table over seeds, plots.

Files written into the study folder (each whole, then renamed):

- ``points.csv``: one row per point: its axes, seed, status, error, who computed it, whether it was re-priced;
- ``results_tidy.csv``: one row per point and metric (value, unit), for pandas or R;
- ``summary.csv``: one row per combination of the axes, each headline metric as mean and 95 % confidence interval
  over the seeds (Student's t, :mod:`neurosim.record.stats`) with the number of seeds;
- ``plots/``: each headline metric against each axis (a line per trainer or technology, with a confidence band),
  heat maps over pairs of axes, Pareto fronts (see :func:`neurosim.plots.plot_study`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from ..plots import plot_study
from ..record._files import save_json
from ..record.stats import Summary, mean_ci
from .metrics import HEADLINE, METRICS, PARETO, Metric
from .store import StoredPoint, StudyStore


def varying_axes(points: list[StoredPoint]) -> list[str]:
    """Axes that take more than one value among ``points`` (in spec order)."""
    names: list[str] = []
    for p in points:
        names += [k for k in p.axes if k not in names]
    return [k for k in names if len({json.dumps(p.axes.get(k)) for p in points if p.axes.get(k) is not None}) > 1]


def context_line(store: StudyStore, points: list[StoredPoint]) -> str:
    """One line naming what every figure and table of the study shows: kind, profile, model, data, seeds, batch
    sizes, and the fixed settings."""
    spec = store.meta("spec") or {}
    fixed = spec.get("fixed", {})
    varied = {k for keys, _ in spec.get("axes", []) for k in keys}

    def setting(key: str) -> str:
        if key in varied:  # an axis: name its values, not the unused fixed default
            values = list(dict.fromkeys(_base(p.axes.get(key)) for p in points if p.axes.get(key) is not None))
            return f"{key}s {', '.join(values)}"
        value = fixed.get(key)
        return f"{key} {_base(value.get('name') if isinstance(value, dict) else value)}"

    parts = [f"{spec.get('name', '?')} ({spec.get('kind', '?')})", setting("profile")]
    if spec.get("set"):
        parts[-1] += " with " + ", ".join(f"{k}={v}" for k, v in spec["set"].items())
    for key in ("model", "data"):
        if key in fixed or key in varied:
            parts.append(setting(key))
    seeds = sorted({p.seed for p in points})
    parts.append(f"seeds {_seeds(seeds)}")
    batches = store.meta("batch_sizes") or {}
    if batches:
        parts.append("batch " + ", ".join(f"{t} {'/'.join(map(str, b))}" for t, b in batches.items()))
    if "epochs" in fixed and spec.get("kind") == "train":
        parts.append(f"{fixed['epochs']} epochs")
    if spec.get("kind") == "adapt":
        parts.append(f"scenario {fixed.get('scenario')}")
        if fixed.get("stream"):
            parts.append(f"continual stream {fixed['stream']:,} samples")
        if fixed.get("endurance_scale") not in (None, 1.0):
            parts.append(f"endurance x {fixed['endurance_scale']:g}")
    if fixed.get("write_budget"):
        parts.append(f"write budget {fixed['write_budget']} per cell")
    if spec.get("kind") == "infer" and fixed.get("samples"):
        parts.append(f"{fixed['samples']} test samples")
    return "; ".join(parts)


def _base(value: Any) -> str:
    text = str(value)
    return Path(text).name if ("/" in text and not text.startswith("mnist")) else text


def _seeds(seeds: list[int]) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]} (n={len(seeds)})"
    return ", ".join(map(str, seeds)) + f" (n={len(seeds)})"


def summarise(points: list[StoredPoint], kind: str) -> list[dict[str, Any]]:
    """Done points grouped over seeds: one dict per combination of the varying axes, with ``axes``, ``n`` and a
    :class:`~neurosim.record.stats.Summary` per metric of the kind."""
    axes = varying_axes(points)
    groups: dict[str, dict[str, Any]] = {}
    for p in points:
        if p.status != "done":
            continue
        values = {a: p.axes.get(a) for a in axes}
        group = groups.setdefault(json.dumps(values, default=str), {"axes": values, "points": []})
        group["points"].append(p)
    out = []
    for group in groups.values():
        summaries = {m: _summary(METRICS[m], [p.metrics.get(m) for p in group["points"]]) for m in METRICS
                     if kind in METRICS[m].kinds}
        out.append({"axes": group["axes"], "n": len(group["points"]), "metrics": summaries})
    return out


def _summary(metric: Metric, values: list[float | None]) -> Summary:
    if metric.missing_is_infinite and any(v is None for v in values):
        return Summary(math.inf, math.nan, math.nan, len(values))  # e.g. a run that wears no cell lives forever
    return mean_ci(values)


def format_summary(points: list[StoredPoint], kind: str, metrics: tuple[str, ...] | None = None) -> str:
    """The summary table: a row per combination of the varying axes, each headline metric as ``mean +- half-width
    of the 95 % confidence interval over seeds`` (one seed: the value alone)."""
    metrics = metrics or HEADLINE[kind]
    rows = summarise(points, kind)
    axes = varying_axes(points)
    head = [*axes, "seeds", *(METRICS[m].header for m in metrics)]
    body = []
    for row in rows:
        cells = [_cell(row["axes"][a]) for a in axes] + [str(row["n"])]
        cells += [_summary_text(row["metrics"][m], METRICS[m].scale) for m in metrics]
        body.append(cells)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) if i < len(axes) else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    for cells in body:
        lines.append("  ".join(c.ljust(w) if i < len(axes) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths))))
    n_seeds = max((r["n"] for r in rows), default=0)
    if n_seeds > 1:
        lines.append("values: mean +- half-width of the 95 % confidence interval over seeds (Student's t)")
    failed = [p for p in points if p.status == "failed"]
    pending = [p for p in points if p.status in ("pending", "running")]
    if failed:
        lines.append(f"{len(failed)} point(s) failed:")
        lines += [f"  {_label(p)}: {(p.error or '').splitlines()[0] if p.error else 'unknown error'}"
                  for p in failed[:10]]
        if len(failed) > 10:
            lines.append(f"  ... and {len(failed) - 10} more (see points.csv)")
    if pending:
        lines.append(f"{len(pending)} point(s) not run yet: rerun the same command to resume")
    return "\n".join(lines)


def _label(p: StoredPoint) -> str:
    return ", ".join([f"{k}={v}" for k, v in p.axes.items() if v is not None] + [f"seed {p.seed}"])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return _base(value) if value is not None else "-"


def _summary_text(summary: Summary, scale: float) -> str:
    if summary.n == 0:
        return "-"
    spec = ".2f" if scale == 100.0 else ".3g"
    return summary.format(scale, spec)


def write_report(folder: str | Path, plots: bool = True) -> dict[str, Path]:
    """Write the study's CSVs, summary and plots from its store (see the module docstring); returns the paths."""
    folder = Path(folder)
    with StudyStore.open(folder) as store:
        points = store.points()
        spec = store.meta("spec") or {}
        kind = spec.get("kind", "train")
        context = context_line(store, points)
        repriced = store.meta("repriced_axes") or []
    axes = varying_axes(points)
    all_axes = list(dict.fromkeys(k for p in points for k in p.axes))
    kind_metrics = [m for m in METRICS if kind in METRICS[m].kinds]
    written = {"points": save_json(_points_csv(points, all_axes), folder / "points.csv", "points table"),
               "tidy": save_json(_tidy_csv(points, all_axes, kind_metrics), folder / "results_tidy.csv",
                                 "results table"),
               "summary": save_json(_summary_csv(points, kind, axes, kind_metrics), folder / "summary.csv",
                                    "summary table")}
    text = format_summary(points, kind)
    if repriced:
        text += "\nre-priced from simulated points' counts (not simulated): axis " + ", ".join(repriced)
    written["summary_txt"] = save_json(context + "\n" + text + "\n", folder / "summary.txt", "summary")
    if plots:
        done = [p for p in points if p.status == "done"]
        if done:
            series = "trainer" if "trainer" in axes else ("profile" if "profile" in axes else None)
            shown = [{"axes": {a: p.axes.get(a) for a in axes}, "seed": p.seed, "metrics": _shown(p.metrics)}
                     for p in done]
            written.update(plot_study(
                shown,
                axes=axes, series=series,
                metrics={m: (METRICS[m].label, METRICS[m].better) for m in HEADLINE[kind]},
                pareto=list(PARETO[kind]), context=context, out_dir=folder / "plots"))
    return written


def _shown(metrics: dict[str, float | None]) -> dict[str, float | None]:
    """Metrics in the units their labels name (fractions as %)."""
    return {m: None if v is None else v * METRICS[m].scale for m, v in metrics.items()}


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _points_csv(points: list[StoredPoint], axes: list[str]) -> str:
    header = ["key", *axes, "seed", "status", "error", "repriced_from", "worker", "wall_s"]
    rows = [[p.key[:16], *[p.axes.get(a) for a in axes], p.seed, p.status,
             (p.error or "").splitlines()[0] if p.error else "", (p.repriced_from or "")[:16], p.worker or "",
             p.wall_s] for p in points]
    return _csv_text(header, rows)


def _tidy_csv(points: list[StoredPoint], axes: list[str], metrics: list[str]) -> str:
    header = ["key", *axes, "seed", "metric", "value", "unit", "repriced"]
    rows = []
    for p in points:
        if p.status != "done":
            continue
        for m in metrics:
            rows.append([p.key[:16], *[p.axes.get(a) for a in axes], p.seed, m, p.metrics.get(m),
                         METRICS[m].unit, int(p.repriced_from is not None)])
    return _csv_text(header, rows)


def _summary_csv(points: list[StoredPoint], kind: str, axes: list[str], metrics: list[str]) -> str:
    header = [*axes, "n_seeds"] + [f"{m}_{s}" for m in metrics for s in ("mean", "ci_low", "ci_high")]
    rows = []
    for row in summarise(points, kind):
        cells: list[Any] = [row["axes"][a] for a in axes] + [row["n"]]
        for m in metrics:
            s = row["metrics"][m]
            cells += [_blank(s.mean), _blank(s.low), _blank(s.high)]
        rows.append(cells)
    return _csv_text(header, rows)


def _blank(value: float) -> Any:
    return "" if value != value else value


__all__ = ["write_report", "format_summary", "summarise", "varying_axes", "context_line"]
