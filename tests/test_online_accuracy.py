"""Online (prequential) accuracy of an adaptation run: each stream batch scored by the chip's prediction just before
the update it takes part in, taken from the trainer's own forward pass (no extra chip read, no extra count)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neurosim
from neurosim.data import load_dataset
from neurosim.data.streams import Scenario, online_scenario
from neurosim.experiments.metrics import metrics_of_result
from neurosim.record import RecordError, RunRecord, format_table
from neurosim.record.table import format_table_over_seeds, summary_rows
from neurosim.training import make_trainer, train
from neurosim.training.base import Trainer, WriteRequest
from neurosim.training.online import adapt
from neurosim.training.sgd import SGDTrainer


@pytest.fixture(scope="module")
def online():
    return online_scenario(load_dataset("digits"), Scenario(shift="recluster", seed=0))


class _Witness:
    """What the checking trainer saw: the chip, and its own count of stream samples predicted right."""

    chip: Any = None
    seen = 0
    right = 0


class _CheckingSGD(SGDTrainer):
    """sgd that predicts every batch itself (uncounted forward pass) before its step: an independent score."""

    def step(self, batch, state, view):
        logits = _Witness.chip.forward(batch.x, count=False)
        _Witness.seen += len(batch.y)
        _Witness.right += int(np.count_nonzero(logits.argmax(axis=1) == batch.y))
        return super().step(batch, state, view)


def test_online_accuracy_is_each_batch_scored_before_its_update(online):
    # ideal profile: no read noise, so the witness's uncounted forward pass equals the trainer's counted one
    chip = neurosim.Chip("ideal", neurosim.load_model("digits_mlp"), seed=0)
    _Witness.chip, _Witness.seen, _Witness.right = chip, 0, 0
    record = adapt(chip, _CheckingSGD(lr=0.01), online, batch_size=16, evaluations=4, seed=0)
    assert _Witness.seen == len(online.x_stream)
    assert record.online_accuracy == pytest.approx(_Witness.right / _Witness.seen, abs=0)
    # relabelled classes: the pre-trained model starts nearly always wrong, and learns along the stream, so the
    # stream as scored sits between the accuracy before and after
    assert record.epochs[0].test_accuracy < record.online_accuracy < record.final.test_accuracy
    # the running figure is kept at every checkpoint after the first (nothing scored before the stream)
    assert record.checkpoints[0].online_accuracy is None
    assert all(0.0 <= c.online_accuracy <= 1.0 for c in record.checkpoints[1:])
    assert record.checkpoints[-1].online_accuracy == record.online_accuracy


def test_scoring_reads_nothing_and_counts_nothing(online):
    """The score comes from the forward pass the trainer runs anyway: ledger and writes equal a run whose session
    does not score (rram, read noise on: any extra read would move the noise stream and the numbers)."""
    from neurosim.training.session import TrainingSession

    def run(score: bool) -> tuple[dict, int]:
        chip = neurosim.Chip("rram_hfo2", neurosim.load_model("digits_mlp"), seed=1)
        session = TrainingSession(chip, make_trainer("sgd", lr=0.01), online.x_stream, online.y_stream, seed=1,
                                  batch_size=32, score_stream=score)
        for step in range(5):
            rows = slice(32 * step, 32 * (step + 1))
            session.step(neurosim.training.base.Batch(x=online.x_stream[rows], y=online.y_stream[rows], step=step,
                                                      epoch=1), last=step == 4)
        return chip.ledger.to_dict(), session.scored

    scored_ledger, scored = run(True)
    plain_ledger, not_scored = run(False)
    assert scored_ledger == plain_ledger
    assert scored == 5 * 32 and not_scored == 0


class _Idle(Trainer):
    """A trainer that never runs the chip forward: nothing can be scored."""

    name = "idle_for_test"
    summary = "writes nothing"
    hyper_parameters: dict = {}

    def aux_memory(self, view, batch_size):
        return {}

    def init(self, view, x_train, y_train, seed):
        return None

    def step(self, batch, state, view):
        return WriteRequest(), state


def test_no_forward_pass_means_no_score_not_zero(online):
    chip = neurosim.Chip("ideal", neurosim.load_model("digits_mlp"), seed=0)
    record = adapt(chip, _Idle(), online, batch_size=64, evaluations=2, seed=0)
    assert record.online_accuracy is None
    assert "-" in format_table([record]).splitlines()[1]


def test_offline_training_has_no_online_accuracy_and_no_column():
    data = load_dataset("digits")
    chip = neurosim.Chip("ideal", neurosim.load_model("digits_mlp"), seed=0)
    record = train(chip, make_trainer("sgd"), data, epochs=1, seed=0, eval_train_samples=1)
    assert record.online_accuracy is None
    assert all(c.online_accuracy is None for c in record.checkpoints)
    assert "online acc" not in format_table([record]) and "online acc" not in format_table_over_seeds([record])
    assert summary_rows([record])[0]["online_accuracy"] is None


def test_online_accuracy_in_tables_csv_rows_metrics_and_round_trip(online):
    chip = neurosim.Chip("rram_hfo2", neurosim.load_model("digits_mlp"), seed=0)
    record = adapt(chip, make_trainer("sgd", lr=0.01), online, batch_size=16, evaluations=3, seed=0)
    table = format_table([record])
    assert "online acc" in table.splitlines()[0]
    assert f"{100 * record.online_accuracy:.2f}%" in table.splitlines()[1]
    assert "online acc %" in format_table_over_seeds([record])
    assert summary_rows([record])[0]["online_accuracy"] == record.online_accuracy
    assert metrics_of_result("adapt", record)["online_accuracy"] == record.online_accuracy
    again = RunRecord.from_dict(record.to_dict())
    assert again.online_accuracy == record.online_accuracy
    # a record saved before online accuracy existed (no key in its checkpoints) still loads, with None
    old = record.to_dict()
    for point in old["checkpoints"]:
        del point["online_accuracy"]
    assert RunRecord.from_dict(old).online_accuracy is None
    # an unknown checkpoint key is still refused by name
    bad = record.to_dict()
    bad["checkpoints"][0]["online_acc"] = 0.5
    with pytest.raises(RecordError, match="online_acc"):
        RunRecord.from_dict(bad)


class _Scribbler(_Idle):
    """Runs the chip forward, then overwrites its logits in place and writes nothing."""

    name = "scribbler_for_test"

    def step(self, batch, state, view):
        logits, _ = view.trace(batch.x)
        logits[:] = 0.0  # in place: the score must already have been taken
        view.trace(batch.x[:1])  # a second pass in the same step is not the one scored
        return WriteRequest(), state


def test_the_score_is_taken_from_the_first_pass_and_survives_in_place_edits(online):
    from neurosim.training.session import evaluate

    chip = neurosim.Chip("ideal", neurosim.load_model("digits_mlp"), seed=0)
    expected, _ = evaluate(chip, online.x_stream, online.y_stream)  # nothing is written: the chip never changes
    record = adapt(chip, _Scribbler(), online, batch_size=50, evaluations=2, seed=0)
    assert record.online_accuracy == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("key, value", [("online_accuracy", "abc"), ("test_accuracy", "abc"),
                                        ("writes_total", None), ("online_accuracy", True)])
def test_a_checkpoint_figure_that_is_not_a_number_is_refused_by_name(online, key, value):
    chip = neurosim.Chip("ideal", neurosim.load_model("digits_mlp"), seed=0)
    bad = adapt(chip, make_trainer("sgd", lr=0.01), online, batch_size=64, evaluations=2, seed=0).to_dict()
    bad["checkpoints"][-1][key] = value
    with pytest.raises(RecordError, match=f"key '{key}' must be a number"):
        RunRecord.from_dict(bad)
