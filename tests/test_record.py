"""Run records and inference reports as files: versioned, validated on load, priced from their counts."""

from __future__ import annotations

import json

import pytest

import neurosim
from neurosim.data import load_dataset
from neurosim.nn.spec import model_from_spec
from neurosim.record import RecordError, RunRecord, load_record
from neurosim.training import make_trainer, train


@pytest.fixture(scope="module")
def record():
    data = load_dataset("digits")
    chip = neurosim.Chip("rram_hfo2", model_from_spec("64-16-10", data.input_shape, data.n_classes, seed=0))
    return train(chip, make_trainer("sgd"), data, epochs=1, steps_per_eval=10)


def test_record_prices_itself_without_the_profile_file(record, tmp_path):
    path = record.save(tmp_path / "run.json")
    loaded = load_record(path)
    assert loaded.pricing_profile() == neurosim.load_profile("rram_hfo2")
    assert loaded.energy() == record.energy()
    assert loaded.energy().total_energy_j > 0 and loaded.energy().power_w > 0
    assert [c.energy(loaded.pricing_profile()).total_energy_j for c in loaded.checkpoints] == sorted(
        c.energy(loaded.pricing_profile()).total_energy_j for c in loaded.checkpoints)


def _edited(record, **changes):
    data = json.loads(record.to_json())
    data.update(changes)
    return data


@pytest.mark.parametrize("changes, match", [
    ({"schema_version": 1}, "schema_version 1"),
    ({"schema_version": 99}, "'schema_version' must be 2"),
    ({"surprise": 1}, "unknown key 'surprise'"),
    ({"epochs": []}, "at least the state before training"),
    ({"epochs": "x"}, "'epochs' must be a list"),
    ({"profile": {"name": "x"}}, "profile"),
    ({"ledger": {"schema": "neurosim.ledger/1"}}, "ledger"),
])
def test_malformed_records_are_refused_by_name(record, changes, match):
    with pytest.raises(RecordError, match=match):
        RunRecord.from_dict(_edited(record, **changes), source="run.json")


def test_a_record_missing_a_key_or_with_a_bad_epoch_is_refused(record):
    data = _edited(record)
    del data["ledger"]
    with pytest.raises(RecordError, match="missing key 'ledger'"):
        RunRecord.from_dict(data)
    data = _edited(record)
    data["epochs"][0]["energy_j"] = {}  # a schema 1 field
    with pytest.raises(RecordError, match=r"epochs\[0\]: unknown key 'energy_j'"):
        RunRecord.from_dict(data)
    data = _edited(record)
    data["profile"]["values"]["device"]["levels"] = 0
    with pytest.raises(RecordError, match="device.levels"):
        RunRecord.from_dict(data)


def test_inference_report_saves_counts_and_priced_figures(tmp_path):
    data = load_dataset("digits")
    chip = neurosim.Chip("pcm", "digits_mlp", calibration=data.x_train[:64])
    chip.predict(data.x_test[:100])
    report = chip.report(accuracy=0.9)
    saved = json.loads(report.save(tmp_path / "report.json").read_text())
    assert saved["ledger"]["pipelines"] == {"1+2": [1, 100]}
    assert saved["total_energy_per_inference_j"] == pytest.approx(report.total_energy_per_inference_j)
    assert saved["profile"]["values"] == neurosim.load_profile("pcm").to_dict()
    assert saved["executor"] == "analog"
