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
