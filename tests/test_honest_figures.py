"""Figures that mean what their labels say: aux memory against the chip, lifetimes in samples and time, average
power at a stated sample rate, programming energy with its verify reads, this run's failures only, curves that end
where the table ends, engineering units."""

from __future__ import annotations

import math

import pytest

import neurosim
from neurosim.cli import main
from neurosim.data import load_dataset
from neurosim.nn.spec import model_from_spec
from neurosim.record import summary_rows
from neurosim.record.units import data_size, duration, si
from neurosim.training import TrainingError, make_trainer, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _run(digits, profile="rram_hfo2", trainer="sgd", epochs=1, batch=64, **changes):
    p = neurosim.load_profile(profile)
    if changes:
        p = p.replace(changes)
    model = model_from_spec("64-32-10", digits.input_shape, digits.n_classes, seed=0)
    chip = neurosim.Chip(p, model)
    return chip, train(chip, make_trainer(trainer), digits, epochs=epochs, batch_size=batch, seed=0,
                       steps_per_eval=5)


def test_state_beyond_the_aux_memory_is_refused_or_spilled_and_priced(digits):
    small = {"aux_memory.capacity_kib": 8.0}
    with pytest.raises(TrainingError, match=r"needs [\d,]+ bytes of auxiliary memory .* has 8,192"):
        _run(digits, **small, **{"aux_memory.overflow": "refuse"})
    chip, record = _run(digits, **small)  # the shipped profiles spill
    need = record.final.aux_memory_bytes
    assert record.memory["aux_off_chip_bytes"] == need - 8192 and record.memory["aux_overflow"] == "off_chip"
    ledger = record.training_ledger()
    moved = ledger.counts["offchip_bytes_read"] + ledger.counts["offchip_bytes_written"]
    assert moved > 0
    share = (need - 8192) / need
    total_aux = moved + ledger.counts["aux_bytes_read"] + ledger.counts["aux_bytes_written"]
    assert moved / total_aux == pytest.approx(share, rel=0.02)
    energy = record.energy().energy_j["off_chip"]
    assert energy == pytest.approx(moved * chip.profile.costs.offchip_energy_per_byte_j)
    assert chip.ledger.static["aux_bytes"] == 8192  # what is held on chip leaks
    row = summary_rows([record])[0]
    assert row["aux_off_chip_bytes"] == need - 8192
    _, fits = _run(digits)
    assert fits.memory["aux_off_chip_bytes"] == 0 and fits.training_ledger().counts["offchip_bytes_read"] == 0


def test_lifetimes_in_samples_and_time_and_the_average_power(digits):
    _, record = _run(digits, trainer="coordinate", batch=192, epochs=2)
    rate = 4.0
    row = summary_rows([record], sample_rate_hz=rate)[0]
    per_step = record.lifetime["samples_per_step"]
    samples = record.checkpoints[-1].samples
    assert per_step == pytest.approx(samples / record.steps)
    assert row["samples"] == samples and row["batch_size"] == 192
    assert row["lifetime_samples"] == pytest.approx(record.lifetime["lifetime_steps"] * per_step)
    assert row["lifetime_s"] == pytest.approx(row["lifetime_samples"] / rate)
    assert row["lifetime_samples_1pct"] >= row["lifetime_samples"]  # 1 % of cells last at least as long as one
    cells = record.model["cells"]
    assert row["write_density_per_sample"] == pytest.approx(record.final.writes_total / (cells * samples))
    priced = record.energy()
    assert row["energy_program_j"] == pytest.approx(priced.energy_j["write"] + priced.energy_j["write_verify"])
    static = priced.energy_j["leakage"] / priced.total_time_s
    dynamic = (priced.total_energy_j - priced.energy_j["leakage"]) / samples
    assert row["average_power_w"] == pytest.approx(dynamic * rate + static)
    slower = summary_rows([record], sample_rate_hz=rate / 10)[0]
    assert slower["lifetime_s"] == pytest.approx(10 * row["lifetime_s"])
    assert slower["average_power_w"] < row["average_power_w"]


def test_an_observed_failure_is_the_lifetime_and_failures_before_training_are_not_counted(digits):
    # cells endure 1 write: those programmed die then; those first written in training die in training
    chip, record = _run(digits, trainer="sgd", epochs=2, **{"device.endurance_cycles": 1.0,
                                                            "device.endurance_sigma": 0.0})
    assert record.memory["cells_failed_before"] > 0 and record.final.cells_failed > 0
    failed_now = chip.memory.summary().cells_failed
    assert record.final.cells_failed == failed_now - record.memory["cells_failed_before"]
    assert record.lifetime["first_failure_step"] is not None
    assert record.lifetime["lifetime_steps"] == record.lifetime["first_failure_step"]  # observed, not "inf"


def test_curves_end_where_the_table_ends(digits):
    _, record = _run(digits, trainer="coordinate", batch=192, epochs=2)
    assert record.checkpoints[-1].step == record.steps
    assert record.checkpoints[-1].test_accuracy == record.final.test_accuracy


def test_engineering_units():
    assert si(2.3e-9, "J") == "2.30 nJ" and si(6.91e-3, "W") == "6.91 mW" and si(0.0, "J") == "0 J"
    assert si(None, "J") == "-" and si(math.inf, "J") == "inf"
    assert duration(3 * 86400) == "3.00 d" and duration(45) == "45.0 s" and duration(math.inf) == "inf"
    assert duration(2 * 365.25 * 86400) == "2.00 y"
    assert data_size(27832) == "27.8 kB"


def test_the_table_states_its_sample_rate_and_batch(capsys, tmp_path):
    assert main(["train", "--trainer", "sgd", "--model", "64-16-10", "--epochs", "1", "--quiet",
                 "--sample-rate", "10"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert header.split()[:2] == ["trainer", "batch"] and "life: 1st cell" in header and "avg power" in header
    assert "at 10 training sample(s) a second (--sample-rate)" in out
    with pytest.raises(SystemExit) as usage:
        main(["train", "--trainer", "sgd", "--model", "64-16-10", "--epochs", "1", "--quiet", "--sample-rate", "0"])
    assert usage.value.code == 2 and "must be a finite number > 0" in capsys.readouterr().err
