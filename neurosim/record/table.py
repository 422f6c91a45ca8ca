"""The one results table of training runs (``neurosim train`` and ``neurosim compare``) and its CSV rows.

Every energy and power figure is priced from the records' counts under their own profiles when the table is made.
"""

from __future__ import annotations

import math
from typing import Any

from ..ledger import ENERGY_CATEGORIES
from .run import RunRecord
from .stats import Summary, mean_ci
from .units import data_size, duration, si

#: The sample rate lifetimes and average power are stated at unless asked otherwise: one training sample a second,
#: an always-on edge sensor that learns from what it sees (``--sample-rate`` changes it)
DEFAULT_SAMPLE_RATE_HZ = 1.0

CSV_COLUMNS = ["trainer", "batch_size", "samples", "test_accuracy", "test_accuracy_before", "online_accuracy",
               "writes_total", "writes_max_cell", "write_density", "write_density_per_sample", "cells_failed"] + [
    f"energy_{c}_j" for c in ENERGY_CATEGORIES] + [
    "energy_program_j", "energy_total_j", "power_w", "sample_rate_hz", "average_power_w", "aux_memory_bytes",
    "aux_off_chip_bytes",
    "lifetime_steps", "lifetime_samples", "lifetime_samples_1pct", "lifetime_samples_median_endurance",
    "lifetime_s", "lifetime_1pct_s", "wall_time_s"]


def _times(x: float | None, factor: float) -> float | None:
    return None if x is None else x * factor


def summary_rows(records: list[RunRecord], sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ) -> list[dict[str, Any]]:
    """One dict per run with the :data:`CSV_COLUMNS`, priced now: energies in J, powers in W, lifetimes in update
    steps, in samples and in seconds at ``sample_rate_hz``.

    - ``write_density``: writes per cell per update step; ``write_density_per_sample`` per cell per sample (steps
      take 1 to 256 samples depending on the trainer, so only the latter compares trainers);
    - ``energy_program_j``: writing cells, write-verify reads included;
    - ``power_w``: energy over the simulated busy time (the chip training flat out); ``average_power_w``: at
      ``sample_rate_hz`` samples a second, the energy per sample (leakage aside) times the rate plus the static
      power, which leaks whether or not a sample is being learned;
    - lifetimes: ``lifetime_samples`` until the first cell wears out (observed when one did), ``_1pct`` until 1 %
      of the cells have, ``_median_endurance`` with every cell at the median endurance (the usual headline);
      ``lifetime_s``/``lifetime_1pct_s`` at ``sample_rate_hz``. None: never (nothing is written).
    """
    rows = []
    for r in records:
        e = r.final
        priced = r.energy()
        power = priced.power_w
        samples = r.checkpoints[-1].samples if r.checkpoints else r.steps * r.batch_size
        per_step = r.lifetime.get("samples_per_step") or (samples / r.steps if r.steps else float(r.batch_size))
        # an accelerated test (endurance x scale) converts its lifetimes back: 1/scale times as many samples
        per_step /= r.lifetime.get("endurance_scale") or 1.0
        life = r.lifetime.get("lifetime_steps")
        life_1pct = r.lifetime.get("lifetime_steps_1pct")
        leakage = priced.energy_j.get("leakage", 0.0)
        busy = priced.total_time_s
        static = leakage / busy if busy > 0 else 0.0
        total = sum(priced.energy_j.values())
        per_sample = (total - leakage) / samples if samples else 0.0
        cells = r.model.get("cells") or 0
        row = {"trainer": r.trainer["name"], "batch_size": r.batch_size, "samples": samples,
               "test_accuracy": e.test_accuracy, "test_accuracy_before": r.epochs[0].test_accuracy,
               "online_accuracy": r.online_accuracy,
               "writes_total": e.writes_total, "writes_max_cell": e.writes_max_cell, "write_density": e.write_density,
               "write_density_per_sample": e.writes_total / (cells * samples) if cells and samples else 0.0,
               "cells_failed": e.cells_failed}
        row.update({f"energy_{c}_j": priced.energy_j.get(c, 0.0) for c in ENERGY_CATEGORIES})
        row.update({"energy_program_j": priced.energy_j.get("write", 0.0) + priced.energy_j.get("write_verify", 0.0),
                    "energy_total_j": total, "power_w": None if power != power else power,
                    "sample_rate_hz": sample_rate_hz, "average_power_w": per_sample * sample_rate_hz + static,
                    "aux_memory_bytes": e.aux_memory_bytes,
                    "aux_off_chip_bytes": int(r.memory.get("aux_off_chip_bytes", 0)), "lifetime_steps": life,
                    "lifetime_samples": _times(life, per_step), "lifetime_samples_1pct": _times(life_1pct, per_step),
                    "lifetime_samples_median_endurance": _times(r.lifetime.get("lifetime_steps_median_endurance"),
                                                                per_step),
                    "lifetime_s": _times(life, per_step / sample_rate_hz),
                    "lifetime_1pct_s": _times(life_1pct, per_step / sample_rate_hz), "wall_time_s": e.wall_time_s})
        rows.append(row)
    return rows


def _percent(x: float | None) -> str:
    return "-" if x is None or x != x else f"{100 * x:.2f}%"


def _aligned(rows: list[list[str]], left: int = 1) -> str:
    """Columns as wide as their widest cell, two spaces apart; the first ``left`` columns left-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def format_table(records: list[RunRecord], sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ) -> str:
    """Side-by-side table of runs: batch, accuracy (before and after, for online runs), writes, worst cell, writes
    per cell per sample, cells worn out in this run, programming and total energy, busy and average power, aux
    memory, lifetime to the first worn-out cell and to 1 % of cells (at ``sample_rate_hz``), wall time."""
    online = any("scenario" in r.run_info for r in records)
    head = ["trainer", "batch"] + (["acc before", "online acc"] if online else []) + [
        "test acc", "writes", "worst cell", "writes/cell/sample", "failed", "program", "total energy", "busy power",
        "avg power", "aux memory", "life: 1st cell", "1% cells", "wall s"]
    body = []
    for row in summary_rows(records, sample_rate_hz):
        body.append([row["trainer"], str(row["batch_size"])] + ([
            _percent(row["test_accuracy_before"]), _percent(row["online_accuracy"])] if online else []) + [
            _percent(row["test_accuracy"]), f"{row['writes_total']:,}", f"{row['writes_max_cell']:,}",
            f"{row['write_density_per_sample']:.2e}", str(row["cells_failed"]), si(row["energy_program_j"], "J"),
            si(row["energy_total_j"], "J"), si(row["power_w"], "W"), si(row["average_power_w"], "W"),
            data_size(row["aux_memory_bytes"]) + (f" ({data_size(row['aux_off_chip_bytes'])} off chip)"
                                                  if row["aux_off_chip_bytes"] else ""),
            duration(row["lifetime_s"]) if row["lifetime_s"] is not None
            else "never", duration(row["lifetime_1pct_s"]) if row["lifetime_1pct_s"] is not None else "never",
            f"{row['wall_time_s']:.1f}"])
    note = (f"lifetimes and average power at {sample_rate_hz:g} training sample(s) a second (--sample-rate); "
            "'never': no cell is written")
    if online:
        note += ("\nonline acc: the stream as the chip classified each sample just before the update it took part in "
                 "(prequential); test acc: the shifted test part after the stream")
    return _aligned([head] + body) + "\n" + note


def format_life_table(records: list[RunRecord], sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ) -> str:
    """Useful life of continual-stream runs (``lifetime["stream"]``): times to the first failed cell, to 1 %
    failed cells and to the end of useful life (in samples converted back from an accelerated test, and at
    ``sample_rate_hz``), accuracy over the life, and what endurance management did: refused writes, levelling
    writes. Empty when no record ran a stream."""
    streamed = [r for r in records if "stream" in r.lifetime]
    if not streamed:
        return ""
    head = ["trainer", "levelling", "budget", "threshold", "1st failure", "1% failed", "end of life",
            "end of life (time)", "acc over life", "failed", "refused writes", "levelling writes"]
    body = []
    for r in streamed:
        st = r.lifetime["stream"]
        to = st["samples_to"]
        scale = st["rule"]["endurance_scale"]
        run = st["samples_run"] / scale

        def shown(x: float | None, run: float = run) -> str:
            return f"{x:.3g}" if x is not None else f"> {run:.3g}"
        eol = to["end_of_life"]
        lev = r.memory.get("wear_levelling") or {}
        several = len({x.seed for x in streamed}) > 1
        name = r.trainer["name"] + (f" seed {r.seed}" if several else "")
        body.append([name, lev.get("policy", "none"), str(r.memory.get("write_budget") or "-"),
                     _percent(st["threshold"]), shown(to["first_failure"]), shown(to["one_percent_failed"]),
                     shown(eol), ("> " if eol is None else "") + duration((eol or run) / sample_rate_hz),
                     _percent(st["accuracy_over_life"]), f"{r.memory['cells_failed']:,}",
                     f"{r.memory.get('refused_writes', 0):,}", f"{lev.get('writes', 0):,}"])
    scale_note = {r.lifetime["stream"]["conversion"] for r in streamed}
    note = (f"useful life in stream samples; time at {sample_rate_hz:g} sample(s) a second (--sample-rate); "
            f"'> N': not reached when the stream ended; {'; '.join(sorted(scale_note))}")
    return _aligned([head] + body) + "\n" + note


#: Columns summarised over seeds (mean and 95 % confidence interval), with the scale and format they are shown in
_OVER_SEEDS = [("test_accuracy", "test acc %", 100.0, ".2f"), ("test_accuracy_before", "acc before %", 100.0, ".2f"),
               ("online_accuracy", "online acc %", 100.0, ".2f"),
               ("writes_total", "writes", 1.0, ".4g"), ("writes_max_cell", "worst cell", 1.0, ".3g"),
               ("write_density_per_sample", "writes/cell/sample", 1.0, ".3g"),
               ("energy_total_j", "total energy J", 1.0, ".3g"), ("average_power_w", "avg power W", 1.0, ".3g"),
               ("aux_memory_bytes", "aux bytes", 1.0, ".4g"), ("lifetime_s", "life 1st cell d", 1 / 86400.0, ".3g"),
               ("lifetime_1pct_s", "life 1% d", 1 / 86400.0, ".3g"), ("wall_time_s", "wall s", 1.0, ".2g")]
_LIFETIMES = ("lifetime_steps", "lifetime_samples", "lifetime_samples_1pct", "lifetime_samples_median_endurance",
              "lifetime_s", "lifetime_1pct_s")


def _over_seeds(rows: list[dict[str, Any]], column: str) -> Summary:
    # a run that wears no cell has no lifetime (None): it lives forever, which no mean of the others should hide
    if column in _LIFETIMES and any(r[column] is None for r in rows):
        return Summary(math.inf, math.nan, math.nan, len(rows))
    return mean_ci(r[column] for r in rows)


def _by_trainer(records: list[RunRecord], sample_rate_hz: float) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in summary_rows(records, sample_rate_hz):
        groups.setdefault(row["trainer"], []).append(row)
    return groups


def summary_rows_over_seeds(records: list[RunRecord],
                            sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ) -> list[dict[str, Any]]:
    """One dict per trainer: the number of seeds, and for every numeric :data:`CSV_COLUMNS` column its mean and the
    bounds of its 95 % confidence interval over the seeds (``COLUMN_mean``, ``COLUMN_ci_low``, ``COLUMN_ci_high``;
    see :mod:`neurosim.record.stats`)."""
    out = []
    for trainer, rows in _by_trainer(records, sample_rate_hz).items():
        row: dict[str, Any] = {"trainer": trainer, "seeds": len(rows)}
        for column in CSV_COLUMNS[1:]:
            s = _over_seeds(rows, column)
            row.update({f"{column}_mean": s.mean, f"{column}_ci_low": s.low, f"{column}_ci_high": s.high})
        out.append(row)
    return out


def format_table_over_seeds(records: list[RunRecord], sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ) -> str:
    """The results table over seeds: per trainer, each figure as ``mean +- half-width`` of its 95 % confidence
    interval (Student's t over the seeds); lifetimes in days and average power at ``sample_rate_hz``."""
    online = any("scenario" in r.run_info for r in records)
    columns = [c for c in _OVER_SEEDS if online or c[0] not in ("test_accuracy_before", "online_accuracy")]
    groups = _by_trainer(records, sample_rate_hz)
    cells = [["trainer", "batch", "seeds"] + [c[1] for c in columns]]
    for trainer, rows in groups.items():
        batches = "/".join(str(b) for b in sorted({r["batch_size"] for r in rows}))
        cells.append([trainer, batches, str(len(rows))] + [_over_seeds(rows, key).format(scale, spec)
                                                           for key, _, scale, spec in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.append(f"mean +- half-width of the 95 % confidence interval over seeds (Student's t); lifetimes and "
                 f"average power at {sample_rate_hz:g} training sample(s) a second ('inf': some seed wears no cell)")
    return "\n".join(lines)


__all__ = ["CSV_COLUMNS", "DEFAULT_SAMPLE_RATE_HZ", "summary_rows", "format_table", "summary_rows_over_seeds",
           "format_table_over_seeds"]
