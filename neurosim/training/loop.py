"""Offline training on the chip: epochs over a shuffled training split, one driver of the
:class:`~neurosim.training.session.TrainingSession` skeleton."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..chip import Chip
from ..data.datasets import Dataset
from ..record import RunRecord
from .base import Batch, Trainer, TrainingError
from .session import ProgressFn, TrainingSession, check_count


def train(chip: Chip, trainer: Trainer, data: Dataset, *, epochs: int, batch_size: int = 64, seed: int = 0,
          eval_train_samples: int | None = 2000, progress: ProgressFn | None = None,
          steps_per_eval: int | None = None, calibration_samples: int = 256,
          run_info: dict[str, Any] | None = None) -> RunRecord:
    """Train ``chip`` with ``trainer`` on ``data`` and return the :class:`~neurosim.record.RunRecord`.

    Parameters
    ----------
    epochs : int
        Passes over the training split (shuffled from ``seed``).
    batch_size : int
        Samples per trainer step (one write request per step).
    eval_train_samples : int or None
        Training samples used for the per-epoch training accuracy (None: all).
    progress : callable, optional
        Called after every step with a dict (epoch, step, steps_per_epoch, writes_total, last test accuracy) and
        with ``{"event": "cells_failed", ...}`` after an epoch in which cells wore out.
    steps_per_eval : int, optional
        Also record a checkpoint every this many steps (accuracy, writes and counts along the run).
    calibration_samples : int
        Training samples used to re-calibrate the executor's periphery before training and after every epoch
        (narrow converters' ranges follow the changing weights, as a chip's periodic ADC calibration would); 0
        disables. Calibration is the test bench's work and is not counted.
    """
    check_count("epochs", epochs)
    check_count("batch_size", batch_size)
    x, y = data.x_train, data.y_train
    if len(x) == 0:
        raise TrainingError("the training split is empty")
    rng = np.random.default_rng(seed)
    calibration = x[: min(calibration_samples, len(x))] if calibration_samples > 0 else None
    if calibration is not None:
        chip.calibrate(calibration)
    session = TrainingSession(chip, trainer, x, y, seed=seed, batch_size=batch_size)
    n_eval = len(x) if eval_train_samples is None else min(eval_train_samples, len(x))
    steps_per_epoch = -(-len(x) // batch_size)
    failed_before = 0  # cells worn out in this run (the session counts from its start)
    test = session.evaluate(data.x_test, data.y_test)
    session.record_epoch(0, session.evaluate(x[:n_eval], y[:n_eval]), test)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        for b in range(steps_per_epoch):
            idx = order[b * batch_size: (b + 1) * batch_size]
            session.step(Batch(x=x[idx], y=y[idx], step=session.steps, epoch=epoch),
                         last=epoch == epochs and b + 1 == steps_per_epoch)
            if steps_per_eval and session.steps % steps_per_eval == 0:
                session.checkpoint(session.evaluate(data.x_test, data.y_test)[0])
            if progress is not None:
                progress({"epoch": epoch, "epochs": epochs, "step": b + 1, "steps_per_epoch": steps_per_epoch,
                          "writes_total": session.writes_total, "test_accuracy": test[0],
                          "accuracy_after_epoch": epoch - 1})
        if calibration is not None:
            chip.calibrate(calibration)
        test = session.evaluate(data.x_test, data.y_test)
        if steps_per_eval:
            session.checkpoint(test[0])  # the epoch's end, as its row of the table sees it
        failed = session.record_epoch(epoch, session.evaluate(x[:n_eval], y[:n_eval]), test).cells_failed
        if progress is not None and failed > failed_before:
            progress({"event": "cells_failed", "epoch": epoch, "cells_failed": failed})
        failed_before = failed
    return session.record({"name": data.name, "n_train": int(len(x)), "n_test": int(len(data.x_test))},
                          run_info or {})


__all__ = ["train"]
