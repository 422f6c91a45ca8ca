"""The examples and benchmarks stay runnable (small sizes; figures are not asserted as timings)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path) -> dict:
    return runpy.run_path(str(path), run_name="not_main")


def test_wear_whatif_example_runs_and_plots(tmp_path, capsys):
    plot = tmp_path / "wear.png"
    rows = _load(ROOT / "examples" / "wear_whatif.py")["main"](["--steps", "5", "--weights", "512",
                                                                  "--plot", str(plot)])
    out = capsys.readouterr().out
    names = {r["profile"] for r in rows}
    assert {"rram_hfo2", "pcm", "rram_endurance_1e4", "rram_write_energy_x10"} <= names
    assert plot.stat().st_size > 10_000
    by_name = {r["profile"]: r for r in rows}
    # the what-ifs change exactly what they should
    assert by_name["rram_write_energy_x10"]["energy_per_step_j"] == pytest.approx(
        10 * by_name["rram_hfo2"]["energy_per_step_j"], rel=1e-12)
    assert by_name["rram_endurance_1e4"]["lifetime_steps"] < by_name["rram_hfo2"]["lifetime_steps"]
    assert by_name["rram_endurance_1e4"]["writes"] == by_name["rram_hfo2"]["writes"]
    assert "lifetime steps" in out


def test_bench_memory_runs_small():
    rows = _load(ROOT / "benchmarks" / "bench_memory.py")["main"](["--cells", "10000", "--repeats", "3"])
    assert [r[0] for r in rows] == ["whole-array request", "all cells by index", "changed cells only"]
    assert all(r[1] > 0 and r[2] > 0 for r in rows)
