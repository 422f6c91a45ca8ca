"""Behaviour pinned across the architecture redesign (issue 9): the same runs give the same numbers.

``data/pinned_before_redesign.json`` was written by the code *before* the redesign (records then stored priced
energies and latency-dependent serial steps): README's main job (every trainer on digits, from scratch), every
trainer adapting online (recluster with drift), and inference of digits_mlp on every shipped profile. The new
code keeps counts and prices them when asked; these tests hold it to the old figures: counts, accuracies, writes
and wear exactly; serial steps exactly (now derived at pricing time); energies and power to 1e-12 relative (the
write energy is now summed as SET pulses x SET energy + RESET pulses x RESET energy instead of over the transition
matrix, which may round differently in the last bit).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import neurosim
from neurosim.data import load_dataset
from neurosim.data.streams import Scenario
from neurosim.experiments.compare import CompareSpec, run_compare
from neurosim.ledger import Ledger
from neurosim.record import load_record
from neurosim.training import TRAINERS

PINNED = json.loads((Path(__file__).parent / "data" / "pinned_before_redesign.json").read_text())
REL = 1e-12


def _close(new: float | None, old: float | None) -> bool:
    if old is None or new is None or (isinstance(new, float) and math.isnan(new)):
        return (old is None) == (new is None or (isinstance(new, float) and math.isnan(new)))
    return new == pytest.approx(old, rel=REL, abs=1e-300)


def _same_ledger(new: dict, old: dict, profile) -> None:
    """Counts equal; the new ledger's serial steps under ``profile`` equal the old stored steps."""
    ledger = Ledger.from_dict(new)
    assert ledger.cell_writes.tolist() == old["cell_writes"]
    assert ledger.counts == old["counts"]
    assert ledger.serial_steps(profile) == old["steps"]


def _same_record(record, old: dict) -> None:
    profile = record.pricing_profile()
    assert profile.content_hash == old["profile"]["content_hash"]
    for key in ("model", "trainer", "data", "seed", "batch_size", "steps", "aux_memory", "lifetime", "memory",
                "run_info", "write_map"):
        assert getattr(record, key) == old[key], key
    _same_ledger(record.ledger, old["ledger"], profile)
    _same_ledger(record.programming_ledger, old["programming_ledger"], profile)
    assert len(record.epochs) == len(old["epochs"])
    for epoch, was in zip(record.epochs, old["epochs"]):
        for key in ("epoch", "steps", "writes_total", "writes_max_cell", "write_density", "cells_failed",
                    "aux_memory_bytes"):
            assert getattr(epoch, key) == was[key], (epoch.epoch, key)
        for key in ("train_accuracy", "train_loss", "test_accuracy", "test_loss"):
            assert _close(getattr(epoch, key), was[key]), (epoch.epoch, key)
        priced = epoch.energy(profile)
        assert set(priced.energy_j) == set(was["energy_j"])
        for cat, joules in was["energy_j"].items():
            assert _close(priced.energy_j[cat], joules), (epoch.epoch, cat)
        power = priced.power_w
        assert _close(None if math.isnan(power) else power, was["power_w"]), epoch.epoch
    assert len(record.checkpoints) == len(old["checkpoints"])
    for point, was in zip(record.checkpoints, old["checkpoints"]):
        assert point.step == was["step"] and point.writes_total == was["writes_total"]
        assert _close(point.test_accuracy, was["test_accuracy"])
        if "samples" in was:
            assert point.samples == was["samples"]


@pytest.mark.slow
def test_main_job_records_are_unchanged(main_job):
    _, out_dir = main_job
    pinned = PINNED["compare_digits"]
    assert sorted(pinned) == sorted(TRAINERS)
    for name, old in pinned.items():
        _same_record(load_record(out_dir / f"{name}.json"), old)


@pytest.mark.slow
def test_online_adaptation_records_are_unchanged():
    scenario = Scenario(shift="recluster", analog_drift=0.001, digital_drift=1e-6, seed=0)
    records = run_compare(CompareSpec(trainers=sorted(TRAINERS), model="64-32-10", scenario=scenario),
                          progress=False)
    for record in records:
        _same_record(record, PINNED["online_recluster"][record.trainer["name"]])


@pytest.mark.parametrize("profile_name", sorted(PINNED["infer_digits"]))
def test_inference_on_every_shipped_profile_is_unchanged(profile_name):
    old = PINNED["infer_digits"][profile_name]
    data = load_dataset("digits")
    chip = neurosim.Chip(profile_name, neurosim.load_model("digits_mlp"), calibration=data.x_train[:256])
    predicted = chip.predict(data.x_test)
    assert predicted.tolist() == old["predictions"]
    report = chip.report(accuracy=float(np.mean(predicted == data.y_test)))
    was = old["report"]
    assert report.samples == was["samples"] and report.accuracy == was["accuracy"]
    for cat, joules in was["energy_per_inference_j"].items():
        assert _close(report.energy_per_inference_j[cat], joules), cat
    for key in ("latency_s", "time_s", "throughput_per_s", "power_w"):
        assert _close(getattr(report, key), was[key]), key
    assert report.mapping.to_dict() == was["mapping"]
    _same_ledger(chip.ledger.to_dict(), old["ledger"], chip.profile)
