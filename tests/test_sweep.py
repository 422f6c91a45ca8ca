"""Studies end to end: `neurosim sweep` on worker processes and on a Dask cluster, resume after Ctrl-C and SIGKILL,
re-priced points equal to re-simulated ones, reports, and the command line."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurosim.cli import main
from neurosim.experiments import load_study_spec, run_study
from neurosim.experiments.points import expand
from neurosim.experiments.store import StudyStore
from neurosim.experiments.worker import run_point

SMALL = """
name = "small"
kind = "train"
model = "4-8-3"
data = "iris"
epochs = 1
trainers = ["sgd", "coordinate"]
seeds = 2

[axes]
"sgd.lr" = {lrs}
"""


def _spec(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _strip(record: dict) -> dict:
    """A record without its wall times (the only figures that differ between identical runs)."""
    record = json.loads(json.dumps(record))
    for part in record.get("epochs", []) + record.get("checkpoints", []):
        part.pop("wall_time_s", None)
    return record


def _records(folder: Path) -> dict[str, dict]:
    with StudyStore.open(folder) as store:
        return {p.key: _strip(store.record(p.key)) for p in store.points() if p.status == "done"}


def test_a_study_runs_resumes_and_runs_only_added_points(tmp_path):
    out = tmp_path / "study"
    spec = load_study_spec(_spec(tmp_path, SMALL.format(lrs="[0.01, 0.1]")))
    first = run_study(spec, out, workers=2, progress=False)
    # 2 seeds x (sgd at 2 learning rates + coordinate once: the sgd.lr axis does not apply to it)
    assert (first.computed, first.repriced, first.failed, first.skipped) == (6, 0, 0, 0)
    assert [p.status for p in first.points] == ["done"] * 6
    assert {p.axes["sgd.lr"] for p in first.points if p.axes["trainer"] == "coordinate"} == {None}

    again = run_study(spec, out, workers=2, progress=False)
    assert (again.computed, again.skipped) == (0, 6)

    wider = load_study_spec(_spec(tmp_path, SMALL.format(lrs="[0.01, 0.1, 0.3]"), "wider.toml"))
    third = run_study(wider, out, workers=2, progress=False)
    assert (third.computed, third.skipped) == (2, 6)  # sgd at lr 0.3, two seeds
    with StudyStore.open(out) as store:
        runs = store.runs()
        assert [r["outcome"] for r in runs] == ["finished"] * 3
        assert [r["computed"] for r in runs] == [6, 0, 2]
        assert store.integrity() == "ok"
        assert store.status_counts()["done"] == 8
        # a point keeps the run that computed it: nothing was computed twice
        assert sorted(p.run_id for p in store.points()) == [1] * 6 + [3] * 2


def test_a_point_gives_the_same_record_in_a_worker_and_in_this_process(tmp_path):
    spec = load_study_spec(_spec(tmp_path, SMALL.format(lrs="[0.1]")))
    out = tmp_path / "study"
    run_study(spec, out, workers=1, progress=False)
    stored = _records(out)
    point = expand(spec)[0]
    here = run_point(point.payload())
    assert here["ok"] and _strip(here["record"]) == stored[point.key]


def test_price_only_axes_are_repriced_and_equal_a_resimulation(tmp_path):
    """An axis over prices is not simulated: its points are priced from a simulated point's counts, and equal
    (figures and records, wall times aside) what simulating them would give."""
    grid = _spec(tmp_path, """
name = "prices"
kind = "train"
model = "4-8-3"
data = "iris"
epochs = 1
trainers = ["sgd"]
seeds = 1

[axes]
"device.set_energy_pj" = [1.0, 3.0]
"chip.clock_mhz" = [100.0, 400.0]
"crossbar.rows" = [64, 128]
""")
    spec = load_study_spec(grid)
    outcome = run_study(spec, tmp_path / "grid", workers=2, progress=False)
    assert outcome.repriced_axes == ["device.set_energy_pj", "chip.clock_mhz"]
    assert (outcome.computed, outcome.repriced) == (2, 6)  # one simulation per crossbar size
    by_axes = {json.dumps(p.axes, sort_keys=True): p for p in outcome.points}
    with StudyStore.open(tmp_path / "grid") as store:
        repriced = {k: store.record(p.key) for k, p in by_axes.items()}
    for energy, clock in [(3.0, 400.0), (1.0, 400.0)]:
        single = load_study_spec(_spec(tmp_path, f"""
name = "one"
kind = "train"
model = "4-8-3"
data = "iris"
epochs = 1
trainers = ["sgd"]
[set]
"device.set_energy_pj" = {energy}
"chip.clock_mhz" = {clock}
"crossbar.rows" = 128
""", f"one_{energy}.toml"))
        alone = run_study(single, tmp_path / f"one_{energy}", workers=1, progress=False)
        (point,) = alone.points
        assert point.repriced_from is None
        key = json.dumps({"trainer": "sgd", "device.set_energy_pj": energy, "chip.clock_mhz": clock,
                          "crossbar.rows": 128}, sort_keys=True)
        assert by_axes[key].repriced_from is not None or (energy, clock) == (1.0, 100.0)
        with StudyStore.open(tmp_path / f"one_{energy}") as store:
            simulated = store.record(point.key)
        assert _strip(repriced[key]) == _strip(simulated)
        for metric, value in point.metrics.items():
            if metric != "wall_time_s":
                assert by_axes[key].metrics[metric] == value, metric


@pytest.mark.slow
def test_a_study_on_a_dask_local_cluster_equals_the_local_pool(tmp_path):
    spec = load_study_spec(_spec(tmp_path, SMALL.format(lrs="[0.01, 0.1]")))
    local = run_study(spec, tmp_path / "local", workers=2, progress=False)
    dask = run_study(spec, tmp_path / "dask", workers=2, scheduler="local", progress=False)
    assert (dask.computed, dask.failed) == (6, 0)
    assert [p.key for p in local.points] == [p.key for p in dask.points]
    assert _records(tmp_path / "local") == _records(tmp_path / "dask")
    with StudyStore.open(tmp_path / "dask") as store:
        assert "Dask LocalCluster of 2 worker processes" in store.runs()[0]["engine"]


def test_an_unreachable_scheduler_is_a_clean_error(tmp_path, capsys):
    spec = _spec(tmp_path, SMALL.format(lrs="[0.1]"))
    status = main(["sweep", str(spec), "--out", str(tmp_path / "s"), "--scheduler", "tcp://127.0.0.1:1",
                   "--quiet"])
    err = capsys.readouterr().err
    assert status == 1 and "cannot reach the Dask scheduler" in err and "Traceback" not in err


def _wait_for_done(store_path: Path, at_least: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert process.poll() is None, process.communicate()
        if store_path.is_file():
            try:
                with sqlite3.connect(store_path) as db:
                    done = db.execute("SELECT COUNT(*) FROM points WHERE status = 'done'").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= at_least:
                return
        time.sleep(0.1)
    raise AssertionError("the study did not get far enough")


KILLED = """
name = "killed"
kind = "train"
model = "64-32-10"
data = "digits"
epochs = 2
trainers = ["sgd", "coordinate"]
seeds = 4
"""


@pytest.mark.slow
def test_a_study_killed_with_sigkill_resumes_without_losing_or_repeating_points(tmp_path):
    spec = _spec(tmp_path, KILLED)
    out = tmp_path / "study"
    argv = [sys.executable, "-m", "neurosim", "sweep", str(spec), "--out", str(out), "--workers", "2", "--no-plots"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_done(out / "study.sqlite", 2, process)
    workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    process.kill()
    process.communicate()
    with StudyStore.open(out) as store:
        before = {p.key: (p.run_id, p.status) for p in store.points()}
        assert store.integrity() == "ok"
    finished_before = {k for k, (_, status) in before.items() if status == "done"}
    assert 2 <= len(finished_before) < 8
    deadline = time.time() + 10  # orphaned workers notice the coordinator is gone and leave
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]

    rerun = subprocess.run(argv + ["--quiet"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    with StudyStore.open(out) as store:
        after = {p.key: p for p in store.points()}
        runs = store.runs()
        assert store.integrity() == "ok"
    assert all(p.status == "done" for p in after.values()) and len(after) == 8
    assert all(after[k].run_id == before[k][0] for k in finished_before)  # not computed again
    assert {p.run_id for k, p in after.items() if k not in finished_before} == {2}
    assert [r["outcome"] for r in runs] == ["killed", "finished"]
    assert runs[0]["computed"] == len(finished_before) and runs[1]["computed"] == 8 - len(finished_before)


def test_failed_points_are_kept_reported_and_retried_on_request(tmp_path, capsys):
    # a rotated stream of non-image data: found when the point runs, not when it is resolved
    spec = _spec(tmp_path, """
name = "fails"
kind = "adapt"
model = "4-8-3"
data = "iris"
scenario = "rotate"
trainers = ["sgd"]
""")
    out = tmp_path / "s"
    assert main(["sweep", str(spec), "--out", str(out), "--quiet", "--no-plots"]) == 1
    captured = capsys.readouterr()
    assert "1 point(s) failed" in captured.out and "Traceback" not in captured.err
    with StudyStore.open(out) as store:
        (point,) = store.points()
        assert point.status == "failed" and point.error
    assert main(["sweep", str(spec), "--out", str(out), "--quiet", "--no-plots"]) == 1
    assert "0 simulated" in capsys.readouterr().err  # not retried by default
    assert main(["sweep", str(spec), "--out", str(out), "--quiet", "--no-plots", "--retry-failed"]) == 1
    assert "0 simulated, 0 re-priced, 1 failed" in capsys.readouterr().err


def test_a_folder_of_another_study_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "s"
    first = _spec(tmp_path, SMALL.format(lrs="[0.1]"))
    assert main(["sweep", str(first), "--out", str(out), "--quiet", "--no-plots"]) == 0
    other = _spec(tmp_path, SMALL.format(lrs="[0.1]").replace('epochs = 1', 'epochs = 2'), "other.toml")
    capsys.readouterr()
    assert main(["sweep", str(other), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "holds study 'small'" in err and "fixed.epochs" in err and "another --out" in err
    with StudyStore.open(out) as store:
        assert len(store.runs()) == 1  # nothing ran
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["sweep", str(first), "--out", str(tmp_path / "mine"), "--quiet"]) == 1
    assert "holds files but no study" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "mine")) == ["notes.txt"]


def test_sweep_command_line_dry_run_report_and_plot(tmp_path, capsys):
    spec = _spec(tmp_path, SMALL.format(lrs="[0.01, 0.1]") + '"device.set_energy_pj" = [1.0, 2.0]\n')
    out = tmp_path / "s"
    assert main(["sweep", str(spec), "--out", str(out), "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "12 points: 6 to simulate, 6 re-priced (price-only axes: device.set_energy_pj)" in listed
    assert "re-price from #0" in listed and not out.exists()
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "small (train); profile rram_hfo2; model 4-8-3; data iris; seeds 0, 1 (n=2)" in printed
    assert "mean +- half-width of the 95 % confidence interval" in printed
    for name in ("points.csv", "results_tidy.csv", "summary.csv", "summary.txt"):
        assert (out / name).stat().st_size > 100
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "test_accuracy_vs_sgd.lr.png" in plots and "pareto_test_accuracy_vs_energy_total_j.png" in plots
    assert any(p.startswith("heatmap_test_accuracy_") for p in plots)
    header = (out / "summary.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["trainer", "sgd.lr", "device.set_energy_pj", "n_seeds"]
    assert "test_accuracy_mean" in header and "test_accuracy_ci_low" in header
    tidy = (out / "results_tidy.csv").read_text().splitlines()
    assert tidy[0].split(",")[-4:] == ["metric", "value", "unit", "repriced"]
    for path in (out / "plots").glob("*.png"):
        path.unlink()
    assert main(["plot", str(out)]) == 0
    assert "plots redrawn" in capsys.readouterr().out and len(list((out / "plots").glob("*.png"))) == len(plots)
    assert main(["sweep", "report", str(out), "--no-plots"]) == 0
    assert "seeds" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needles", [
    (["sweep", "{spec}"], ["--out DIR is required"]),
    (["sweep", "report"], ["needs the study folder"]),
    (["sweep", "report", "{tmp}/nothing"], ["no study here"]),
    (["plot", "{tmp}/nothing"], ["no study here"]),
    (["sweep", "{tmp}/missing.toml", "--out", "{tmp}/o"], ["no such study spec file"]),
    (["sweep", "{spec}", "--out", "{tmp}/o", "--scheduler", " "], ["--scheduler must be"]),
])
def test_sweep_command_line_errors_are_one_line(tmp_path, capsys, argv, needles):
    spec = _spec(tmp_path, SMALL.format(lrs="[0.1]"))
    argv = [a.format(spec=spec, tmp=tmp_path) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert all(n in err for n in needles) and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_infer_study_reports_inference_figures(tmp_path, capsys):
    spec = _spec(tmp_path, """
name = "chip"
kind = "infer"
model = "iris_mlp"
data = "iris"
seeds = 1

[axes]
"periphery.adc_bits" = [4, 8]
"periphery.adc_energy_per_step_fj" = [0.2, 0.4]
""")
    out = tmp_path / "s"
    assert main(["sweep", str(spec), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "J/inference" in printed and "TOPS/W" in printed
    with StudyStore.open(out) as store:
        points = store.points()
    assert sum(p.repriced_from is not None for p in points) == 2
    energy = {(p.axes["periphery.adc_bits"], p.axes["periphery.adc_energy_per_step_fj"]):
              p.metrics["energy_per_inference_j"] for p in points}
    assert energy[(8, 0.4)] > energy[(8, 0.2)] > energy[(4, 0.2)]
    assert (out / "plots" / "pareto_accuracy_vs_energy_per_inference_j.png").is_file()


def test_a_dead_worker_is_explained_by_its_exit_code():
    """A worker gone without a result: killed (SIGKILL hints at the out-of-memory killer), or exited with an error
    (the usual cause: a script that starts a study without a __main__ guard, or from stdin, cannot be re-imported by
    the spawned workers)."""
    import signal

    from neurosim.experiments.engines import _death

    assert "SIGKILL" in _death(-signal.SIGKILL) and "out-of-memory" in _death(-signal.SIGKILL)
    assert "SIGTERM" in _death(-signal.SIGTERM) and "memory" not in _death(-signal.SIGTERM)
    assert "exit code 1" in _death(1) and "__main__" in _death(1)
    assert "did not exit" in _death(None)
    assert "signal 99" in _death(-99)
