"""The one results table of training runs (``neurosim train`` and ``neurosim compare``) and its CSV rows.

Every energy and power figure is priced from the records' counts under their own profiles when the table is made.
"""

from __future__ import annotations

import math
from typing import Any

from ..ledger import ENERGY_CATEGORIES
from .run import RunRecord
from .stats import Summary, mean_ci

CSV_COLUMNS = ["trainer", "test_accuracy", "test_accuracy_before", "writes_total", "writes_max_cell",
               "write_density", "cells_failed"] + [f"energy_{c}_j" for c in ENERGY_CATEGORIES] + [
    "energy_total_j", "power_w", "aux_memory_bytes", "lifetime_steps", "wall_time_s"]


def summary_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    """One dict per run with the :data:`CSV_COLUMNS` (energies in J, power in W, priced now)."""
    rows = []
    for r in records:
        e = r.final
        priced = r.energy()
        power = priced.power_w
        row = {"trainer": r.trainer["name"], "test_accuracy": e.test_accuracy,
               "test_accuracy_before": r.epochs[0].test_accuracy, "writes_total": e.writes_total,
               "writes_max_cell": e.writes_max_cell, "write_density": e.write_density,
               "cells_failed": e.cells_failed}
        row.update({f"energy_{c}_j": priced.energy_j.get(c, 0.0) for c in ENERGY_CATEGORIES})
        row.update({"energy_total_j": sum(priced.energy_j.values()), "power_w": None if power != power else power,
                    "aux_memory_bytes": e.aux_memory_bytes, "lifetime_steps": r.lifetime.get("lifetime_steps"),
                    "wall_time_s": e.wall_time_s})
        rows.append(row)
    return rows


def _percent(x: float | None) -> float:
    return float("nan") if x is None else 100 * x


def format_table(records: list[RunRecord]) -> str:
    """Side-by-side table of runs: accuracy (before and after, for online runs), writes, worst cell, density,
    failed cells, write/read/total energy (J), power (W), aux memory (bytes), lifetime (update steps), wall time."""
    online = any("scenario" in r.run_info for r in records)
    head = (f"{'trainer':<12}{'acc before':>11}" if online else f"{'trainer':<12}") + (
        f"{'test acc':>9}{'writes':>11}{'worst cell':>11}{'density':>10}{'failed':>7}{'write J':>10}{'read J':>10}"
        f"{'total J':>10}{'power W':>10}{'aux bytes':>11}{'lifetime':>10}{'wall s':>8}")
    lines = [head]
    for row in summary_rows(records):
        life = row["lifetime_steps"]
        before = f"{_percent(row['test_accuracy_before']):>10.2f}%" if online else ""
        lines.append(f"{row['trainer']:<12}{before}{_percent(row['test_accuracy']):>8.2f}%"
                     f"{row['writes_total']:>11,}{row['writes_max_cell']:>11,}{row['write_density']:>10.2e}"
                     f"{row['cells_failed']:>7}{row['energy_write_j']:>10.2e}{row['energy_read_j']:>10.2e}"
                     f"{row['energy_total_j']:>10.2e}{(row['power_w'] or 0.0):>10.2e}{row['aux_memory_bytes']:>11,}"
                     f"{(f'{life:.2e}' if life is not None else 'inf'):>10}{row['wall_time_s']:>8.1f}")
    return "\n".join(lines)


#: Columns summarised over seeds (mean and 95 % confidence interval), with the scale and format they are shown in
_OVER_SEEDS = [("test_accuracy", "test acc %", 100.0, ".2f"), ("test_accuracy_before", "acc before %", 100.0, ".2f"),
               ("writes_total", "writes", 1.0, ".4g"), ("writes_max_cell", "worst cell", 1.0, ".3g"),
               ("energy_total_j", "total J", 1.0, ".3g"), ("aux_memory_bytes", "aux bytes", 1.0, ".4g"),
               ("lifetime_steps", "lifetime", 1.0, ".3g"), ("wall_time_s", "wall s", 1.0, ".2g")]


def _over_seeds(rows: list[dict[str, Any]], column: str) -> Summary:
    # a run that wears no cell has no lifetime (None): it lives forever, which no mean of the others should hide
    if column == "lifetime_steps" and any(r[column] is None for r in rows):
        return Summary(math.inf, math.nan, math.nan, len(rows))
    return mean_ci(r[column] for r in rows)


def _by_trainer(records: list[RunRecord]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in summary_rows(records):
        groups.setdefault(row["trainer"], []).append(row)
    return groups


def summary_rows_over_seeds(records: list[RunRecord]) -> list[dict[str, Any]]:
    """One dict per trainer: the number of seeds, and for every numeric :data:`CSV_COLUMNS` column its mean and the
    bounds of its 95 % confidence interval over the seeds (``COLUMN_mean``, ``COLUMN_ci_low``, ``COLUMN_ci_high``;
    see :mod:`neurosim.record.stats`)."""
    out = []
    for trainer, rows in _by_trainer(records).items():
        row: dict[str, Any] = {"trainer": trainer, "seeds": len(rows)}
        for column in CSV_COLUMNS[1:]:
            s = _over_seeds(rows, column)
            row.update({f"{column}_mean": s.mean, f"{column}_ci_low": s.low, f"{column}_ci_high": s.high})
        out.append(row)
    return out


def format_table_over_seeds(records: list[RunRecord]) -> str:
    """The results table over seeds: per trainer, each figure as ``mean +- half-width`` of its 95 % confidence
    interval (Student's t over the seeds); ``lifetime`` is in update steps."""
    online = any("scenario" in r.run_info for r in records)
    columns = [c for c in _OVER_SEEDS if online or c[0] != "test_accuracy_before"]
    groups = _by_trainer(records)
    cells = [["trainer", "seeds"] + [c[1] for c in columns]]
    for trainer, rows in groups.items():
        cells.append([trainer, str(len(rows))] + [_over_seeds(rows, key).format(scale, spec)
                                                  for key, _, scale, spec in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.append("mean +- half-width of the 95 % confidence interval over seeds (Student's t); lifetime in update "
                 "steps ('inf': some seed wears no cell)")
    return "\n".join(lines)


__all__ = ["CSV_COLUMNS", "summary_rows", "format_table", "summary_rows_over_seeds", "format_table_over_seeds"]
