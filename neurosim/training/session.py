"""The one training-loop skeleton: a :class:`TrainingSession` runs trainer steps against a chip and keeps the
record. Offline training (:func:`neurosim.training.loop.train`) and online adaptation
(:func:`neurosim.training.online.adapt`) are two drivers of it that differ only in where batches come from and what
happens between them.

The session is the only caller of :meth:`neurosim.Chip.apply` during training. Monitoring evaluations are the test
bench's work: they are not counted on the chip and their wall time is taken out of the training wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._fields import Rule
from .._version import __version__
from ..chip import Chip
from ..nn.grad_ops import softmax_cross_entropy
from ..record import SCHEMA_VERSION, Checkpoint, EpochRecord, RunRecord, json_safe, profile_entry
from .base import Batch, Trainer, TrainingError, TrainingView

ProgressFn = Callable[[dict[str, Any]], None]
_COUNT = Rule("int", "a count", lo=1)


def check_count(name: str, value: Any) -> int:
    """A loop argument that must be a positive integer (raises :class:`TrainingError` naming it)."""
    checked, problem = _COUNT.check(value)
    if problem is not None:
        raise TrainingError(f"argument {name!r} {problem} (got {value!r})")
    return checked


def evaluate(chip: Chip, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> tuple[float, float]:
    """Accuracy and mean loss of the chip on ``(x, y)``, not counted (monitoring is the test bench's, not the
    chip's, work)."""
    if len(x) == 0:
        return float("nan"), float("nan")
    correct, loss = 0, 0.0
    for start in range(0, len(x), batch):
        logits = chip.forward(x[start: start + batch], count=False)
        yb = y[start: start + batch]
        correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
        loss += softmax_cross_entropy(logits, yb)[0] * len(yb)
    return correct / len(x), loss / len(x)


class TrainingSession:
    """One run of ``trainer`` on ``chip``: applies its requests, keeps epochs and checkpoints, builds the record.

    Parameters
    ----------
    chip : Chip
    trainer : Trainer
    x_init, y_init : ndarray
        What the trainer's ``init`` may look at (the training split, or the stream).
    seed : int
        Passed to the trainer's ``init``.
    batch_size : int
        Samples per step (for the aux-memory declaration and the record).
    score_stream : bool
        Keep the online (prequential) accuracy: each step's batch scored by the chip's prediction before the update,
        taken from the trainer's own first counted forward pass of the step (no extra chip read, no extra count).
        Steps whose trainer runs no forward pass on its batch are not scored. Online adaptation sets it.
    """

    def __init__(self, chip: Chip, trainer: Trainer, x_init: np.ndarray, y_init: np.ndarray, *, seed: int,
                 batch_size: int, score_stream: bool = False):
        self.chip = chip
        self.trainer = trainer
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.view = TrainingView(chip)
        self._start_ledger = chip.ledger.copy()
        self._start_counts = chip.memory.write_counts.copy()
        # cells already dead (manufacture, or worn out by programming the model) are not this run's failures
        self._failed_before = chip.memory.cells_failed
        self._refused_before = chip.refused_writes
        self.state = trainer.init(self.view, x_init, y_init, seed)
        self.aux = trainer.aux_memory(self.view, batch_size)
        self.aux_off_chip = self._place_aux(chip, trainer.name)
        self.steps = 0
        self.samples = 0
        self.first_failure_step: int | None = None  # training step whose writes wore out the first cell
        self.epochs: list[EpochRecord] = []
        self.checkpoints: list[Checkpoint] = []
        self._t0 = time.perf_counter()
        self._excluded = 0.0
        self.score_stream = score_stream
        self.scored = 0  # stream samples scored before their update, and how many of them the chip got right
        self.scored_correct = 0

    def _place_aux(self, chip: Chip, trainer: str) -> int:
        """Check the trainer's state against the chip's aux memory: what does not fit is refused or, by the
        profile's choice, spilled off chip (counted and priced per byte moved). Declares what leaks on chip;
        returns the bytes off chip."""
        need = int(sum(self.aux.values()))
        aux = chip.profile.aux_memory
        capacity = int(aux.capacity_bytes)
        off_chip = max(0, need - capacity)
        if off_chip and aux.overflow == "refuse":
            raise TrainingError(
                f"trainer {trainer!r} needs {need:,} bytes of auxiliary memory (batch {self.batch_size}), profile "
                f"{chip.profile.name!r} has {capacity:,} (aux_memory.capacity_kib = {capacity / 1024:g}): use a "
                "profile with more, a smaller batch, or aux_memory.overflow = \"off_chip\" to spill the rest to "
                "off-chip memory (priced per byte moved)")
        self.view.off_chip_share = off_chip / need if need else 0.0
        chip.ledger.declare_static(aux_bytes=need - off_chip)  # trainer state held on chip leaks
        return off_chip

    # ------------------------------------------------------------------------------------------------ running
    def step(self, batch: Batch, last: bool) -> None:
        """One trainer step and its write request; after the run's ``last`` step, the trainer's ``finish``
        request too."""
        if self.score_stream:
            self.view._expect_scoring()
        request, self.state = self.trainer.step(batch, self.state, self.view)
        if self.score_stream:
            predicted = self.view._scored_predictions()
            if predicted is not None and predicted.shape[0] == len(batch.y):
                self.scored += len(batch.y)
                self.scored_correct += int(np.count_nonzero(predicted == batch.y))
        before = self.chip.memory.cells_failed  # (wear-levelling moves the controller makes may fail cells too)
        self.chip.apply(request)
        self.steps += 1
        self.samples += len(batch.x)
        self._note_failures(before)
        if last:
            self.finish()

    def finish(self) -> None:
        """Apply the trainer's ``finish`` request (after the run's last step, or when a stop rule ends it early)."""
        before = self.chip.memory.cells_failed
        self.chip.apply(self.trainer.finish(self.state, self.view))
        self._note_failures(before)

    def _note_failures(self, failed_before: int) -> None:
        if self.chip.memory.cells_failed > failed_before and self.first_failure_step is None:
            self.first_failure_step = self.steps

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Accuracy and loss on ``(x, y)``, uncounted, its wall time taken out of the training time."""
        t0 = time.perf_counter()
        result = evaluate(self.chip, x, y)
        self._excluded += time.perf_counter() - t0
        return result

    def training_seconds(self) -> float:
        return time.perf_counter() - self._t0 - self._excluded

    @property
    def writes_total(self) -> int:
        """Cell writes since the run began."""
        return int(self.chip.ledger.writes_total - self._start_ledger.writes_total)

    # --------------------------------------------------------------------------------------------- recording
    def _ledger_since_start(self) -> dict[str, Any]:
        return (self.chip.ledger - self._start_ledger).to_dict()

    @property
    def online_accuracy(self) -> float | None:
        """Prequential accuracy over the stream so far (see ``score_stream``); None when nothing was scored."""
        return self.scored_correct / self.scored if self.scored else None

    def checkpoint(self, test_accuracy: float) -> None:
        """Keep an evaluation point (with the run's counts so far); a later one at the same step (e.g. after the
        converters are recalibrated at an epoch's end) replaces the earlier, so that curves end where tables do."""
        if self.checkpoints and self.checkpoints[-1].step == self.steps:
            self.checkpoints.pop()
        self.checkpoints.append(Checkpoint(step=self.steps, samples=self.samples,
                                           wall_time_s=self.training_seconds(), test_accuracy=test_accuracy,
                                           writes_total=self.writes_total, ledger=self._ledger_since_start(),
                                           online_accuracy=self.online_accuracy if self.score_stream else None))

    def record_epoch(self, epoch: int, train: tuple[float, float], test: tuple[float, float]) -> EpochRecord:
        """Keep the state after ``epoch`` (0: before training) with ``(accuracy, loss)`` on train and test data."""
        ledger = self.chip.ledger - self._start_ledger
        memory = self.chip.memory
        writes = ledger.writes_total
        record = EpochRecord(
            epoch=epoch, steps=self.steps, train_accuracy=train[0], train_loss=train[1], test_accuracy=test[0],
            test_loss=test[1], writes_total=writes,
            writes_max_cell=int((memory.write_counts - self._start_counts).max()),
            write_density=writes / (memory.n_cells * self.steps) if self.steps else 0.0,
            cells_failed=memory.cells_failed - self._failed_before, aux_memory_bytes=sum(self.aux.values()),
            wall_time_s=self.training_seconds() if epoch else 0.0, ledger=ledger.to_dict())
        self.epochs.append(record)
        return record

    def record(self, data: dict[str, Any], run_info: dict[str, Any]) -> RunRecord:
        """The finished run's record. ``data`` describes the data (name, n_train, n_test); ``run_info`` may carry
        ``model_spec`` (how the user named the model) and anything else worth keeping."""
        chip = self.chip
        steps = max(self.steps, 1)
        summary = chip.memory.summary(steps=steps)
        lifetime = chip.memory.lifetime(steps=steps, since=self._start_counts,
                                        first_failure_step=self.first_failure_step).to_dict()
        lifetime["samples_per_step"] = self.samples / steps  # lifetimes in samples: steps x this
        model = chip.model
        return RunRecord(
            schema_version=SCHEMA_VERSION, package_version=__version__, profile=profile_entry(chip.profile),
            executor=chip.executor.name,
            model={"name": model.name, "spec": run_info.get("model_spec", model.name), "n_weights": model.n_weights,
                   "cells": chip.memory.n_cells, "tiles": chip.mapping.n_tiles},
            trainer={"name": self.trainer.name, "params": json_safe(self.trainer.get_params())},
            data=dict(data), seed=self.seed, batch_size=self.batch_size, steps=self.steps, epochs=list(self.epochs),
            checkpoints=list(self.checkpoints), aux_memory=dict(self.aux), lifetime=lifetime,
            memory={"writes_total": self.writes_total, "writes_max_cell": self.epochs[-1].writes_max_cell,
                    "cells_failed": summary.cells_failed - self._failed_before,
                    "cells_failed_before": self._failed_before,
                    "aux_capacity_bytes": int(chip.profile.aux_memory.capacity_bytes),
                    "aux_off_chip_bytes": self.aux_off_chip, "aux_overflow": chip.profile.aux_memory.overflow,
                    "cells_faulty_at_manufacture": summary.cells_faulty_at_manufacture,
                    "refused_writes": chip.refused_writes - self._refused_before,
                    "write_budget": None if chip.budget is None else chip.budget.budget,
                    "wear_levelling": None if chip.wear is None else chip.wear.summary()},
            ledger=self._ledger_since_start(), programming_ledger=chip.programming_ledger.to_dict(),
            run_info={k: v for k, v in run_info.items() if k != "model_spec"},
            write_map=write_map(chip, self._start_counts))


def write_map(chip: Chip, start_counts: np.ndarray, max_side: int = 96) -> dict[str, Any]:
    """Writes per weight of the largest analog layer since ``start_counts`` (the most written cell of each
    weight), max-pooled to at most ``max_side`` x ``max_side`` blocks: the data of a write heat map."""
    delta = np.asarray(chip.memory.write_counts) - np.asarray(start_counts)
    lt = max(chip.mapping.tilings, key=lambda t: t.fan_in * t.fan_out)
    per_weight = delta[lt.cell_index].reshape(lt.fan_in, lt.fan_out, -1).max(axis=2)
    bi, bj = -(-lt.fan_in // max_side), -(-lt.fan_out // max_side)
    rows, cols = -(-lt.fan_in // bi), -(-lt.fan_out // bj)
    padded = np.zeros((rows * bi, cols * bj), dtype=np.int64)
    padded[: lt.fan_in, : lt.fan_out] = per_weight
    pooled = padded.reshape(rows, bi, cols, bj).max(axis=(1, 3))
    return {"layer": lt.layer, "shape": [lt.fan_in, lt.fan_out], "block": [bi, bj], "values": pooled.tolist()}


__all__ = ["TrainingSession", "evaluate", "write_map", "check_count", "ProgressFn"]
