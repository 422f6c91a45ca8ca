"""`neurosim compare`: the main job. Runs trainers side by side, writes records, CSV and plots."""

from __future__ import annotations

import csv
import json

import pytest

from neurosim.cli import main
from neurosim.experiments.compare import CSV_COLUMNS
from neurosim.record import load_record


def test_compare_from_scratch_writes_everything(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--trainers", "sgd", "coordinate", "--model", "64-16-10", "--epochs", "2",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "sgd" in printed and "coordinate" in printed and "worst cell" in printed
    for name in ("sgd", "coordinate"):
        record = load_record(out / f"{name}.json")
        assert record.trainer["name"] == name and record.write_map["values"]
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["trainer"] for r in rows] == ["sgd", "coordinate"]
    assert list(rows[0]) == ["trainer", "seed"] + CSV_COLUMNS[1:]
    for plot in ("accuracy_vs_writes", "worst_cell_writes", "energy_breakdown", "write_heatmap"):
        assert (out / f"{plot}.png").stat().st_size > 5_000
    # same seed, same trainer: the record of sgd matches a second run apart from wall times
    again = tmp_path / "again"
    assert main(["compare", "--trainers", "sgd", "--model", "64-16-10", "--epochs", "2", "--out", str(again),
                 "--quiet"]) == 0

    def strip(d):
        d = json.loads(json.dumps(d))
        for e in d["epochs"]:
            e.pop("wall_time_s")
        for c in d["checkpoints"]:
            c.pop("wall_time_s")
        return d

    assert strip(load_record(out / "sgd.json").to_dict()) == strip(load_record(again / "sgd.json").to_dict())


def test_compare_online_scenario(tmp_path, capsys):
    out = tmp_path / "online"
    assert main(["compare", "--trainers", "sgd", "--model", "64-32-10", "--scenario", "recluster",
                 "--analog-drift", "0.001", "--param", "sgd.lr=0.02", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "acc before" in printed
    record = load_record(out / "sgd.json")
    assert record.run_info["scenario"] == {"shift": "recluster", "analog_drift": 0.001, "digital_drift": 0.0,
                                           "strength": 1.0}
    assert record.final.test_accuracy > record.epochs[0].test_accuracy


def test_compare_lowrank_applying_its_pending_update_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "apply"
    assert main(["compare", "--trainers", "lowrank", "--model", "64-32-10", "--scenario", "noise", "--weight-bits", "8",
                 "--profile", str(_eight_bit_profile(tmp_path)), "--param", "lowrank.apply_pending=true",
                 "--param", "lowrank.accumulate=300", "--param", "lowrank.kappa_th=1e12", "--param", "lowrank.lr=0.01",
                 "--out", str(out), "--quiet"]) == 0
    record = load_record(out / "lowrank.json")
    assert record.trainer["params"]["apply_pending"] is True
    stream = record.data["n_train"]
    assert 0 < record.final.writes_max_cell <= -(-stream // 300)  # once per write at most
    assert record.final.test_accuracy >= record.epochs[0].test_accuracy - 0.02


def _eight_bit_profile(tmp_path):
    path = tmp_path / "rram8.toml"
    path.write_text('name = "rram_8bit"\nbase = "rram_hfo2"\n[crossbar]\ncells_per_weight = 14\n')
    return path


@pytest.mark.parametrize("argv, message", [
    (["compare", "--trainers", "sgd", "--param", "sgd.lrr=1"], "no hyper-parameter 'lrr'"),
    (["compare", "--trainers", "sgd", "--param", "coordinate.tol=1"], "not compared"),
    (["compare", "--trainers", "sgd", "--param", "nonsense"], "TRAINER.KEY=VALUE"),
    (["compare", "--trainers", "sgd", "--data", "iris", "--scenario", "rotate", "--model", "4-8-3"],
     "needs image data"),
])
def test_compare_bad_input_is_a_clean_error(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path / "x"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_compare_with_seeds_shows_means_and_intervals(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["compare", "--trainers", "sgd", "coordinate", "--model", "64-16-10", "--epochs", "1",
                 "--seeds", "3", "--batch-size", "32", "--param", "coordinate.batch_size=64", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "mean +- half-width of the 95 % confidence interval over seeds" in printed
    assert printed.splitlines()[1].split()[:3] == ["sgd", "32", "3"]  # trainer, batch, seeds
    records = {(r.trainer["name"], r.seed): r for r in map(load_record, out.glob("*_seed*.json"))}
    assert sorted(records) == [("coordinate", s) for s in range(3)] + [("sgd", s) for s in range(3)]
    assert {r.batch_size for (t, _), r in records.items() if t == "sgd"} == {32}
    assert {r.batch_size for (t, _), r in records.items() if t == "coordinate"} == {64}
    assert len({r.final.writes_total for (t, _), r in records.items() if t == "sgd"}) > 1  # seeds differ
    with open(out / "summary_over_seeds.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["trainer"], r["seeds"]) for r in rows] == [("sgd", "3"), ("coordinate", "3")]
    accuracies = [records[("sgd", s)].final.test_accuracy for s in range(3)]
    assert float(rows[0]["test_accuracy_mean"]) == pytest.approx(sum(accuracies) / 3)
    assert float(rows[0]["test_accuracy_ci_low"]) < float(rows[0]["test_accuracy_mean"])
    with open(out / "summary.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 6


def test_compare_into_the_folder_of_another_comparison_is_refused(tmp_path, capsys):
    out = tmp_path / "cmp"
    base = ["compare", "--trainers", "sgd", "--model", "64-16-10", "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(base) == 0
    assert main(base[:-1] + ["--trainers", "sgd", "bitflip", "--quiet"]) == 0  # more trainers: the same study
    capsys.readouterr()
    assert main(base + ["--profile", "pcm"]) == 1
    err = capsys.readouterr().err
    assert "holds study 'compare'" in err and "another --out" in err


def test_ctrl_c_on_compare_keeps_every_finished_record_and_a_rerun_resumes(tmp_path):
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    out = tmp_path / "cmp"
    # two fast trainers, then a slow one (nvm_sgd, batch 1: seconds here), one worker: the interrupt lands while the
    # third runs. (With five fast ones the study could finish between the poll and the signal; and a poll that waits
    # for the coordinator's write lock, sqlite's default 5 s, could outlast the study: the poll gives up at once.)
    argv = [sys.executable, "-m", "neurosim", "compare", "--model", "64-32-10", "--epochs", "8", "--workers", "1",
            "--trainers", "bitflip", "coordinate", "nvm_sgd", "--out", str(out)]
    # Ctrl-C as from a terminal: a suite run as a background job (`cmd &`) ignores SIGINT, and the child would inherit
    # that (Python then installs no KeyboardInterrupt handler), so the child starts with the default disposition
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    store = out / "study.sqlite"
    deadline = time.time() + 120
    done = 0
    while done < 2 and time.time() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
        try:
            with sqlite3.connect(store, timeout=0.01) as db:
                done = db.execute("SELECT COUNT(*) FROM points WHERE status = 'done'").fetchone()[0]
        except sqlite3.OperationalError:
            done = 0
    assert process.poll() is None and done == 2, (done, process.communicate())
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "rerun the same command to resume" in stderr and "Traceback" not in stderr
    kept = sorted(out.glob("*.json"))
    assert len(kept) == 2
    for path in kept:
        assert load_record(path).final.writes_total >= 0  # whole, readable records
    rerun = subprocess.run(argv + ["--quiet"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(out.glob("*.json"))) == 3
    with sqlite3.connect(store) as db:
        outcomes = [row[0] for row in db.execute("SELECT outcome FROM runs ORDER BY run_id")]
    assert outcomes == ["interrupted", "finished"]
