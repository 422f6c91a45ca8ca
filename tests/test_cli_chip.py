"""Integration tests of `neurosim map` and `neurosim infer`."""

from __future__ import annotations

import json

import pytest

from neurosim.cli import main


def test_map_prints_report_plot_and_json(tmp_path, capsys):
    plot, report = tmp_path / "floorplan.png", tmp_path / "map.json"
    assert main(["map", "--model", "mnist_mlp", "--profile", "rram_hfo2", "--plot", str(plot),
                 "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "30 tiles on 4 of 16 cores" in out
    assert "optimized placement" in out and "naive placement" in out
    assert plot.stat().st_size > 10_000
    data = json.loads(report.read_text())
    assert data["flit_hops"] <= data["flit_hops_alternative"]
    assert [layer["layer"] for layer in data["layers"]] == [1, 2]


def test_map_accepts_a_model_path_and_profile_path(tmp_path, capsys):
    from neurosim.nn import load_model, save_model

    path = save_model(load_model("digits_mlp"), tmp_path / "mine.toml")
    profile = tmp_path / "small.toml"
    profile.write_text('base = "rram_hfo2"\nname = "small"\ndescription = "16x16"\n'
                       "[crossbar]\nrows = 16\ncols = 16\n[periphery]\ncolumns_per_adc = 8\n")
    assert main(["map", "--model", str(path), "--profile", str(profile)]) == 0
    assert "on profile small" in capsys.readouterr().out


def test_map_model_that_does_not_fit_is_a_clean_error(tmp_path, capsys):
    profile = tmp_path / "tiny.toml"
    profile.write_text('base = "rram_hfo2"\nname = "tiny"\ndescription = "one core"\n'
                       "[chip]\nmesh_rows = 1\nmesh_cols = 1\n")
    assert main(["map", "--model", "mnist_mlp", "--profile", str(profile)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not fit" in err and "tiles" in err


def test_infer_on_digits_reports_accuracy_energy_latency_power(tmp_path, capsys):
    out_json = tmp_path / "infer.json"
    assert main(["infer", "--model", "digits_mlp", "--profile", "rram_hfo2", "--data", "digits", "--n", "200",
                 "--json", str(out_json), "--quiet"]) == 0
    out = capsys.readouterr().out
    for word in ("accuracy", "energy / inference", "latency", "power", "utilisation"):
        assert word in out
    data = json.loads(out_json.read_text())
    assert data["samples"] == 200
    assert data["accuracy"] > 0.85
    assert data["total_energy_per_inference_j"] > 0 and data["latency_s"] > 0 and data["power_w"] > 0


def test_infer_ideal_matches_reference(capsys):
    assert main(["infer", "--model", "iris_mlp", "--profile", "ideal", "--data", "iris", "--quiet"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("accuracy"))
    chip_acc, ref_acc = line.split("%")[0].split()[-1], line.split("model")[1].split("%")[0].strip()
    assert chip_acc == ref_acc


@pytest.mark.parametrize("argv, message", [
    (["infer", "--model", "mnist_mlp", "--data", "digits"], "expects (28, 28, 1)"),
    (["infer", "--model", "nope", "--data", "digits"], "unknown model 'nope'"),
    (["infer", "--model", "digits_mlp", "--data", "mnist:/no/such/dir"], "/no/such/dir"),
    (["map", "--model", "digits_mlp", "--profile", "nope"], "unknown profile 'nope'"),
])
def test_bad_input_is_one_line_error(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_numbers_are_usage_errors():
    with pytest.raises(SystemExit) as exc:
        main(["infer", "--model", "digits_mlp", "--n", "0"])
    assert exc.value.code == 2
