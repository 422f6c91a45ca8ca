"""CLI: run to failure, write budgets and their bad input."""

from __future__ import annotations

import json

import pytest

from neurosim.cli import main


def test_compare_stream_prints_the_life_table(tmp_path, capsys):
    out = tmp_path / "life"
    status = main(["compare", "--data", "digits", "--model", "64-16-10", "--scenario", "rotate", "--stream", "6000",
                   "--endurance-scale", "1e-5", "--trainers", "sgd", "bitflip", "--write-budget", "3",
                   "--sample-rate", "100", "--workers", "1", "--quiet", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    text = captured.out
    assert "end of life" in text and "1st failure" in text and "refused writes" in text
    assert "times are simulated samples / 1e-05" in text
    record = json.loads(next(out.rglob("*sgd*.json")).read_text())
    stream = record["lifetime"]["stream"]
    assert stream["rule"]["endurance_scale"] == 1e-5 and record["memory"]["write_budget"] == 3
    assert stream["samples_run"] <= 6000


@pytest.mark.parametrize("argv, needles", [
    (["--stream", "1000"], ["stream", "--scenario"]),
    (["--scenario", "rotate", "--min-accuracy", "0.5"], ["--stream"]),
    (["--scenario", "rotate", "--stream", "1000", "--endurance-scale", "1e-9"], ["device.endurance_cycles"]),
])
def test_bad_endurance_options_are_one_line_errors(tmp_path, capsys, argv, needles):
    status = main(["compare", "--data", "digits", "--model", "64-16-10", "--trainers", "sgd", "--quiet",
                   "--out", str(tmp_path / "x"), *argv])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err
    assert not (tmp_path / "x").exists()  # refused before any work


@pytest.mark.parametrize("argv", [["--endurance-scale", "0"], ["--endurance-scale", "2"], ["--stream", "0"],
                                  ["--write-budget", "-1"], ["--min-accuracy", "1.5"], ["--stop-failed", "0"]])
def test_bad_numbers_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--scenario", "rotate", *argv])
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_train_write_budget(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(["train", "--trainer", "coordinate", "--model", "64-16-10", "--data", "digits", "--epochs", "2",
                 "--write-budget", "1", "--quiet", "--out", str(path)]) == 0
    record = json.loads(path.read_text())
    assert record["memory"]["write_budget"] == 1
    assert record["memory"]["refused_writes"] > 0
    assert record["memory"]["writes_max_cell"] <= 1
