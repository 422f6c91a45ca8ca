"""The examples and benchmarks stay runnable (small sizes; figures are not asserted as timings)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from conftest import MNIST_SAMPLE

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


def test_chip_designer_study_runs_and_every_knob_moves_its_figures(tmp_path):
    """examples/chip_designer.toml as shipped (36 points on MNIST), then run small on digits: every knob moves
    the figures it should."""
    import tomllib

    from neurosim.experiments import load_study_spec, run_study, study_spec_from_dict
    from neurosim.experiments.report import write_report

    path = ROOT / "examples" / "chip_designer.toml"
    spec = load_study_spec(path)
    assert spec.kind == "infer" and spec.fixed["model"] == "mnist_cnn" and spec.fixed["data"] == "mnist"
    assert [len(values) for _, values in spec.axes] == [4, 3, 3]  # technologies x ADC bits x crossbars: 36
    raw = tomllib.loads(path.read_text())
    raw.update(model="digits_mlp", data="digits", samples=150)
    raw["axes"] = {"profile": ["rram_hfo2", "sram"], "periphery.adc_bits": [4, 8]}
    raw["zip"] = {"crossbar": {"crossbar.rows": [32, 64], "crossbar.cols": [32, 64]}}
    outcome = run_study(study_spec_from_dict(raw, source="small"), tmp_path / "s", workers=2, progress=False)
    assert outcome.computed == 8 and outcome.failed == 0
    by = {(p.axes["profile"], p.axes["crossbar.rows"], p.axes["periphery.adc_bits"]): p.metrics
          for p in outcome.points}
    for name in ("rram_hfo2", "sram"):
        for size in (32, 64):
            # a wider ADC costs more
            assert by[(name, size, 8)]["energy_per_inference_j"] > by[(name, size, 4)]["energy_per_inference_j"]
            assert by[(name, size, 8)]["area_mm2"] > by[(name, size, 4)]["area_mm2"]
    assert by[("rram_hfo2", 64, 8)]["accuracy"] >= by[("rram_hfo2", 64, 4)]["accuracy"]
    assert by[("sram", 64, 8)]["accuracy"] == by[("sram", 64, 4)]["accuracy"]  # a digital readout does not round
    assert all(m["tops_per_w"] > 0 and m["area_mm2"] > 0 for m in by.values())
    written = write_report(tmp_path / "s")
    assert written["pareto_accuracy_vs_energy_per_inference_j"].stat().st_size > 10_000


def test_bench_inference_runs_small():
    bench = _load(ROOT / "benchmarks" / "bench_inference.py")["main"]
    rows = bench(["--n", "100", "--repeats", "1", "--data", MNIST_SAMPLE])
    labels = [r[0] for r in rows]
    assert labels[:2] == ["numpy 1 BLAS thread", "numpy 2 BLAS threads"]
    assert {"chip ideal", "chip rram 4-bit ADC", "chip rram 4-bit ADC + read noise"} <= set(labels)
    assert all(r[1] > 0 for r in rows)


def test_bench_training_and_scaling_run_small(capsys):
    from neurosim.data import load_dataset

    data = load_dataset("digits")
    training = _load(ROOT / "benchmarks" / "bench_training.py")
    times = training["bare_epochs"](data.x_train, data.y_train, [64, 16, 10], 2, True)
    assert len(times) == 2 and all(t > 0 for t in times)
    figures = training["chip_epochs"](data, "sgd", "64-16-10", "rram_hfo2", 2)
    assert len(figures["epoch_s"]) == 2 and figures["batch"] == 64 and len(figures["after_2"]) == 2
    scaling = _load(ROOT / "benchmarks" / "bench_scaling.py")
    measured = scaling["measure"]("64-16-10", "rram_hfo2", "digits")
    assert set(measured) == {"weights", "map_s", "forward_s", "sgd_epoch_s", "coordinate_epoch_s", "peak_mb"}
    assert scaling["exponent"]([1, 2, 4], [3.0, 6.0, 12.0]) == pytest.approx(1.0)


def test_bench_compare_runs_small(capsys):
    results = _load(ROOT / "benchmarks" / "bench_compare.py")["main"](
        ["--data", "digits", "--model", "64-16-10", "--stream", "60", "--seeds", "0", "--bits", "8", "2",
         "--param", "lowrank+apply.accumulate=20"])
    out = capsys.readouterr().out
    for bits in (8, 2):
        med = results[bits]["median"]
        assert {"sgd", "nvm_sgd", "lowrank", "lowrank+apply"} <= set(med)
        assert all(0 <= m["after"] <= 1 and m["writes"] >= 0 for m in med.values())
        # written at most every 20 samples plus the final write: at most 4 writes a cell over 60 samples
        assert med["lowrank+apply"]["worst"] <= 4
    assert "worst-cell writes sgd / lowrank+apply" in out


def test_bench_seeds_runs_small(capsys):
    rows = _load(ROOT / "benchmarks" / "bench_seeds.py")["main"](["--quick", "--only", "lut", "bitflip",
                                                                    "--data", MNIST_SAMPLE])
    out = capsys.readouterr().out
    assert [r[1] for r in rows] == ["bit-flip", "LUT"]
    assert all(r[4] in ("holds", "partly", "does not hold", "weights only") for r in rows)
    assert "| claim | paper | paper's figure | ours | verdict |" in out


def test_tune_defaults_scores_on_validation_images_only(monkeypatch):
    tune = _load(ROOT / "benchmarks" / "tune_defaults.py")
    seen = []
    real = tune["validation_split"]

    def spy(data, fraction, seed):
        split = real(data, fraction, seed)
        seen.append((len(data.x_test), split))
        return split

    tune["offline"].__globals__["validation_split"] = spy
    accs = tune["offline"]("iris", "4-16-3", {"bias_lr": 0.1, "explore": True}, "rule", 2, [0])
    assert len(accs) == 1 and 0 <= accs[0] <= 1
    (n_test, split), = seen
    assert len(split.x_test) + len(split.x_train) == 112  # iris's training part, its 38 test images left out
