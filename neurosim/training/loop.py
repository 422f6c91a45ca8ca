"""The training loop: the only code that applies trainers' write requests to the chip's memory."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..chip import Chip
from ..data.datasets import Dataset
from ..experiments.record import EpochRecord, RunRecord, build_record
from ..ledger import price
from ..memory import ProgramResult
from ..nn.grad_ops import softmax_cross_entropy
from .base import Batch, Trainer, TrainingError, TrainingView, WriteRequest, check_positive

ProgressFn = Callable[[dict[str, Any]], None]


def apply_request(chip: Chip, request: WriteRequest) -> ProgramResult | None:
    """Apply one write request: weight codes through the memory's door, then the digital registers."""
    result = None
    if request.codes or request.updates:
        cells, levels = chip.weight_request(request.codes, request.updates)
        result = chip.apply(cells, levels)
    if request.scales or request.biases or request.corrections:
        chip.set_registers(request.scales, request.biases, request.corrections)
    return result


def _newly_failed(result: ProgramResult | None) -> bool:
    return bool(result is not None and result.newly_failed)


def apply_step(chip: Chip, trainer: Trainer, request: WriteRequest, state: Any, view: TrainingView,
               last: bool) -> bool:
    """Apply one step's request and, after the run's last step, the trainer's :meth:`~Trainer.finish` request.
    Returns whether a cell wore out."""
    failed = _newly_failed(apply_request(chip, request))
    if last:
        failed |= _newly_failed(apply_request(chip, trainer.finish(state, view)))
    return failed


class _Stopwatch:
    """Training wall time with the monitoring evaluations taken out (they are the test bench's time)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.excluded = 0.0

    def training_seconds(self) -> float:
        return time.perf_counter() - self.start - self.excluded

    def evaluate(self, chip: Chip, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        t0 = time.perf_counter()
        result = evaluate(chip, x, y)
        self.excluded += time.perf_counter() - t0
        return result


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


def train(chip: Chip, trainer: Trainer, data: Dataset, *, epochs: int, batch_size: int = 64, seed: int = 0,
          eval_train_samples: int | None = 2000, progress: ProgressFn | None = None,
          steps_per_eval: int | None = None, calibration_samples: int = 256,
          run_info: dict[str, Any] | None = None) -> RunRecord:
    """Train ``chip`` with ``trainer`` on ``data`` and return the :class:`RunRecord`.

    Parameters
    ----------
    epochs : int
        Passes over the training split (shuffled from ``seed``).
    batch_size : int
        Samples per trainer step (one write request per step).
    eval_train_samples : int or None
        Training samples used for the per-epoch training accuracy (None: all).
    progress : callable, optional
        Called after every step with a dict (epoch, step, steps_per_epoch, writes_total, last test accuracy,
        cells_failed) for progress display.
    steps_per_eval : int, optional
        Also record an evaluation point every this many steps (for accuracy-against-time curves).
    calibration_samples : int
        Training samples used to re-calibrate narrow converters before training and after every epoch (their
        ranges follow the changing weights, as a chip's periodic ADC calibration would); 0 disables. Calibration
        passes are the test bench's work and are not counted.
    """
    check_positive("epochs", epochs, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    x, y = data.x_train, data.y_train
    if len(x) == 0:
        raise TrainingError("the training split is empty")
    rng = np.random.default_rng(seed)
    view = TrainingView(chip)
    start_ledger = chip.ledger.copy()
    start_counts = chip.memory.write_counts.copy()
    calibration = x[: min(calibration_samples, len(x))] if calibration_samples > 0 else None
    if calibration is not None:
        chip.calibrate(calibration)
    state = trainer.init(view, x, y, seed)
    aux = trainer.aux_memory(view, batch_size)
    n_eval = len(x) if eval_train_samples is None else min(eval_train_samples, len(x))
    epochs_out: list[EpochRecord] = []
    checkpoints: list[dict[str, float]] = []
    watch = _Stopwatch()
    step = 0
    first_failure: int | None = None  # training step whose writes wore out the first cell
    steps_per_epoch = -(-len(x) // batch_size)
    failed_before = chip.memory.summary().cells_failed
    test_acc, test_loss = watch.evaluate(chip, data.x_test, data.y_test)
    train_acc, train_loss = watch.evaluate(chip, x[:n_eval], y[:n_eval])
    epochs_out.append(_epoch_record(chip, 0, 0, train_acc, train_loss, test_acc, test_loss, start_ledger,
                                    start_counts, aux, 0.0))
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        for b in range(steps_per_epoch):
            idx = order[b * batch_size: (b + 1) * batch_size]
            request, state = trainer.step(Batch(x=x[idx], y=y[idx], step=step, epoch=epoch), state, view)
            last = epoch == epochs and b + 1 == steps_per_epoch
            if apply_step(chip, trainer, request, state, view, last) and first_failure is None:
                first_failure = step + 1
            step += 1
            if steps_per_eval and step % steps_per_eval == 0:
                acc, _ = watch.evaluate(chip, data.x_test, data.y_test)
                checkpoints.append({"step": step, "wall_time_s": watch.training_seconds(), "test_accuracy": acc,
                                    "writes_total": int((chip.ledger - start_ledger).writes_total)})
            if progress is not None:
                progress({"epoch": epoch, "epochs": epochs, "step": b + 1, "steps_per_epoch": steps_per_epoch,
                          "writes_total": int((chip.ledger - start_ledger).writes_total), "test_accuracy": test_acc})
        if calibration is not None:
            chip.calibrate(calibration)
        test_acc, test_loss = watch.evaluate(chip, data.x_test, data.y_test)
        train_acc, train_loss = watch.evaluate(chip, x[:n_eval], y[:n_eval])
        epochs_out.append(_epoch_record(chip, epoch, step, train_acc, train_loss, test_acc, test_loss, start_ledger,
                                        start_counts, aux, watch.training_seconds()))
        failed = epochs_out[-1].cells_failed
        if progress is not None and failed > failed_before:
            progress({"event": "cells_failed", "epoch": epoch, "cells_failed": failed})
        failed_before = failed
    return build_record(chip=chip, trainer=trainer, data=data, seed=seed, batch_size=batch_size, epochs=epochs_out,
                        training_ledger=chip.ledger - start_ledger, steps=step, aux=aux, checkpoints=checkpoints,
                        run_info=run_info or {}, start_counts=start_counts, first_failure_step=first_failure)


def _epoch_record(chip: Chip, epoch: int, steps: int, train_acc: float, train_loss: float, test_acc: float,
                  test_loss: float, start_ledger, start_counts: np.ndarray, aux: dict[str, int],
                  wall: float) -> EpochRecord:
    ledger = chip.ledger - start_ledger
    report = price(ledger, chip.profile)
    summary = chip.memory.summary()
    cells = chip.memory.n_cells
    writes = ledger.writes_total
    return EpochRecord(epoch=epoch, steps=steps, train_accuracy=train_acc, train_loss=train_loss,
                       test_accuracy=test_acc, test_loss=test_loss, writes_total=writes,
                       writes_max_cell=int((chip.memory.write_counts - start_counts).max()),
                       write_density=writes / (cells * steps) if steps else 0.0,
                       cells_failed=summary.cells_failed, energy_j=dict(report.energy_j),
                       power_w=None if np.isnan(report.power_w) else report.power_w,
                       aux_memory_bytes=sum(aux.values()), wall_time_s=wall)
