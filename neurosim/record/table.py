"""The one results table of training runs (``neurosim train`` and ``neurosim compare``) and its CSV rows.

Every energy and power figure is priced from the records' counts under their own profiles when the table is made.
"""

from __future__ import annotations

from typing import Any

from ..ledger import ENERGY_CATEGORIES
from .run import RunRecord

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


__all__ = ["CSV_COLUMNS", "summary_rows", "format_table"]
