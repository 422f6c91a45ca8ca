"""`neurosim train`: the in-process entry point, its run record, its error messages, and re-pricing a record."""

from __future__ import annotations

import re

import numpy as np
import pytest

import neurosim
from neurosim.cli import main
from neurosim.record import RecordError, load_record
from neurosim.training import TRAINERS


def _train(path, *extra: str) -> int:
    return main(["train", "--trainer", "sgd", "--model", "64-16-10", "--data", "digits", "--epochs", "1",
                 "--out", str(path), "--quiet", *extra])


def _table_rows(out: str) -> dict[str, dict[str, str]]:
    """The results table as {trainer: {column: cell}} (columns are two or more spaces apart; cells such as
    "2.06 nJ" hold one)."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("trainer") and "test acc" in line)
    names = re.split(r"\s{2,}", lines[at].strip())
    rows = {}
    for line in lines[at + 1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] in TRAINERS:
            rows[cells[0]] = dict(zip(names, cells))
    return rows


_PREFIX = {"a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6,
           "G": 1e9}


def _si_value(text: str, unit: str) -> float:
    """``"2.06 nJ"`` -> 2.06e-9."""
    number, prefixed = text.split()
    return float(number) * _PREFIX[prefixed[: -len(unit)]]


def _assert_one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def test_train_prints_summary_and_writes_record(tmp_path, capsys):
    path = tmp_path / "runs" / "sgd.json"  # the folder is created
    assert _train(path) == 0
    captured = capsys.readouterr()
    assert f"run record written to {path}" in captured.out
    rows = _table_rows(captured.out)
    assert list(rows) == ["sgd"]
    record = load_record(path)
    assert record.trainer == {"name": "sgd", "params": neurosim.training.make_trainer("sgd").get_params()}
    assert record.model["spec"] == "64-16-10" and record.model["name"] == "mlp_64-16-10"
    assert record.data["name"] == "digits" and record.data["n_train"] == 1347 and record.data["n_test"] == 450
    assert record.profile["name"] == "rram_hfo2"
    assert record.seed == 0 and record.batch_size == TRAINERS["sgd"].default_batch_size
    assert [e.epoch for e in record.epochs] == [0, 1]
    assert record.run_info == {"command": "train"}
    # the table row is the record's final epoch
    row = rows["sgd"]
    assert row["batch"] == str(record.batch_size)
    assert row["test acc"] == f"{100 * record.final.test_accuracy:.2f}%"
    assert int(row["writes"].replace(",", "")) == record.final.writes_total
    assert int(row["worst cell"].replace(",", "")) == record.final.writes_max_cell
    assert int(row["failed"]) == record.final.cells_failed
    priced = record.energy()  # the table prices the record's counts under its own profile
    program = priced.energy_j["write"] + priced.energy_j["write_verify"]  # programming includes its verify reads
    assert _si_value(row["program"], "J") == pytest.approx(program, rel=1e-2)
    assert _si_value(row["total energy"], "J") == pytest.approx(priced.total_energy_j, rel=1e-2)
    assert _si_value(row["busy power"], "W") == pytest.approx(priced.power_w, rel=1e-2)
    assert _si_value(row["aux memory"], "B") == pytest.approx(record.final.aux_memory_bytes, rel=1e-2)
    assert "1 training sample(s) a second" in captured.out  # the rate lifetimes and average power are stated at
    # --quiet: nothing on stderr (no progress bar, no header)
    assert captured.err.strip() == ""


def test_train_param_reaches_the_record(tmp_path, capsys):
    path = tmp_path / "lr.json"
    assert main(["train", "--trainer", "sgd", "--model", "64-16-10", "--data", "digits", "--epochs", "1",
                 "--out", str(path), "--param", "lr=0.01", "--param", "optimizer=momentum", "--seed", "2"]) == 0
    params = load_record(path).trainer["params"]
    assert params["lr"] == 0.01 and isinstance(params["lr"], float)
    assert params["optimizer"] == "momentum"
    assert load_record(path).seed == 2
    assert "SGDTrainer(lr=0.01, optimizer='momentum'" in capsys.readouterr().err


def test_train_with_a_shipped_model(tmp_path, capsys):
    path = tmp_path / "shipped.json"
    assert main(["train", "--trainer", "sgd", "--model", "digits_mlp", "--data", "digits", "--epochs", "1",
                 "--out", str(path), "--quiet"]) == 0
    record = load_record(path)
    assert record.model["name"] == "digits_mlp" and record.model["spec"] == "digits_mlp"
    assert record.model["n_weights"] == neurosim.nn.load_model("digits_mlp").n_weights
    assert record.epochs[0].test_accuracy > 0.8  # a trained model: training starts from its accuracy
    assert "sgd" in _table_rows(capsys.readouterr().out)


def test_train_without_out_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--trainer", "nvm_sgd", "--model", "64-16-10", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "run record written" not in out and list(_table_rows(out)) == ["nvm_sgd"]
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("argv, needles", [
    (["--trainer", "sgd", "--model", "64-16-10", "--param", "no_such_knob=1"], ["no_such_knob", "lr"]),
    (["--trainer", "coordinate", "--model", "64-16-10", "--param", "evaluations=0"], ["'evaluations'"]),
    (["--trainer", "sgd", "--model", "64-16-10", "--param", "lr=-1"], ["'lr'", "-1"]),
    (["--trainer", "sgd", "--model", "64-16-10", "--param", "lr"], ["KEY=VALUE"]),
    (["--trainer", "sgd", "--model", "784-10", "--data", "digits"], ["784", "64 features"]),
    (["--trainer", "sgd", "--model", "64-16-3", "--data", "digits"], ["3 outputs", "10 classes"]),
    (["--trainer", "sgd", "--model", "no_such_model"], ["no_such_model"]),
    (["--trainer", "sgd", "--model", "64-16-10", "--profile", "no_such_profile"], ["no_such_profile"]),
    (["--trainer", "sgd", "--model", "64-16-10", "--data", "no_such_data"], ["no_such_data"]),
    (["--trainer", "sgd", "--model", "64-16-10", "--weight-bits", "1"], ["weight_bits"]),
], ids=["unknown-param", "bad-evaluations", "negative-lr", "param-without-value", "spec-inputs", "spec-classes",
        "unknown-model", "unknown-profile", "unknown-data", "weight-bits"])
def test_train_errors_are_one_line(tmp_path, capsys, argv, needles):
    out = tmp_path / "never.json"
    assert main(["train", *argv, "--epochs", "1", "--quiet", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    _assert_one_line_error(captured.err, *needles)
    assert captured.out == ""
    assert not out.exists()


def test_unknown_trainer_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--trainer", "no_such_trainer", "--model", "64-16-10"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'no_such_trainer'" in err
    for name in TRAINERS:
        assert name in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--batch-size", "-3"], ["--seed", "x"]])
def test_bad_numbers_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["train", "--trainer", "sgd", "--model", "64-16-10", *argv])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_unwritable_out_is_a_one_line_error(tmp_path, capsys):
    target = tmp_path / "a_directory"
    target.mkdir()
    assert _train(target) == 1
    _assert_one_line_error(capsys.readouterr().err, str(target))


# ----------------------------------------------------------------------------------------------- re-pricing
def test_reprice_record_under_another_profile(tmp_path, capsys):
    path = tmp_path / "coord.json"
    # coordinate writes from its first step, so the record has cell writes to re-price
    assert main(["train", "--trainer", "coordinate", "--model", "64-16-10", "--epochs", "1", "--out", str(path),
                 "--quiet"]) == 0
    record = load_record(path)
    cell_writes = np.array(record.ledger["cell_writes"])
    assert cell_writes.sum() == record.final.writes_total > 0
    own = record.pricing_profile()
    dearer = own.replace({"device.set_energy_pj": 4.0, "device.reset_energy_pj": 2.0, "device.read_energy_pj": 0.02,
                          "aux_memory.read_energy_per_byte_pj": 1.0, "aux_memory.write_energy_per_byte_pj": 1.5})
    report = record.reprice(dearer).energy()
    assert report.profile == dearer.name
    assert report.energy_j["write"] == pytest.approx(
        float((cell_writes * dearer.device.transition_energy_matrix()).sum()), rel=1e-12)
    counts = record.ledger["counts"]
    off_reads, on_reads = record.training_ledger().cell_reads  # binary cells
    assert report.energy_j["read"] == pytest.approx((on_reads + off_reads / 100) * 0.02e-12, rel=1e-12)
    assert report.energy_j["aux_memory"] == pytest.approx(
        counts["aux_bytes_read"] * 1.0e-12 + counts["aux_bytes_written"] * 1.5e-12, rel=1e-12)
    # priced under its own profile, the record gives back what the table printed
    assert record.reprice(own).energy() == record.energy()
    assert record.energy().energy_j["write"] != pytest.approx(report.energy_j["write"])
    # a profile that changes what is simulated is refused, naming the first differing key
    with pytest.raises(RecordError, match="'device.levels'"):
        record.reprice(neurosim.load_profile("pcm"))
    with pytest.raises(RecordError, match="'device.on_conductance_us'"):
        record.reprice(neurosim.load_profile("stt_mram"))


# ------------------------------------------------------------------------------------ declared hyper-parameters
def test_trainers_are_listed_and_shown_with_every_hyper_parameter(capsys):
    assert main(["trainers"]) == 0
    listed = capsys.readouterr().out
    for name in TRAINERS:
        assert name in listed
    for name, cls in TRAINERS.items():
        assert main(["trainers", "show", name]) == 0
        shown = capsys.readouterr().out
        for key, hp in cls.hyper_parameters.items():
            line = next(line for line in shown.splitlines() if line.split()[:1] == [key])
            assert repr(hp.default) in line and hp.rule.describe() in line and hp.rule.doc[:30] in line


def test_train_help_lists_every_trainers_hyper_parameters(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for name, cls in TRAINERS.items():
        assert f"{name}:" in text
        for key in cls.hyper_parameters:
            assert f" {key} " in text, (name, key)


@pytest.mark.parametrize("param, needles", [
    ("lr=abc", ["'sgd'", "'lr'", "a finite number > 0", "'abc'"]),
    ("lr=-1", ["'lr'", "a finite number > 0"]),
    ("optimizer=sgd", ["'optimizer'", "one of 'adam', 'momentum'"]),
    ("momentum=1", ["'momentum'", "[0, 1)"]),
    ("lrr=0.1", ["no hyper-parameter 'lrr'", "did you mean 'lr'"]),
])
def test_typed_param_errors_name_trainer_key_constraint_value(tmp_path, capsys, param, needles):
    assert _train(tmp_path / "x.json", "--param", param) == 1
    _assert_one_line_error(capsys.readouterr().err, *needles)


def test_params_are_parsed_to_their_declared_types(tmp_path, capsys):
    path = tmp_path / "bits.json"
    assert main(["train", "--trainer", "bitflip", "--model", "64-16-10", "--epochs", "1", "--quiet", "--out",
                 str(path), "--param", "margin=8", "--param", "binary=true", "--param", "flips=1"]) == 0
    params = load_record(path).trainer["params"]
    assert params["margin"] == 8 and isinstance(params["margin"], int)
    assert params["binary"] is True
    assert params["flips"] == 1.0 and isinstance(params["flips"], float)
