"""Online adaptation: one pass over a shifted stream, on the chip, while its memory drifts (a driver of the
:class:`~neurosim.training.session.TrainingSession` skeleton).

The chip holds a model pre-trained on the host; stream samples arrive in order (no shuffling, no second pass) in
groups of ``batch_size``; after each group the trainer's write request is applied (the trainer's ``finish``
request follows the last step) and the memory drifts by the scenario's amount for that many samples. Accuracy on
the shifted test part is recorded along the stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..chip import Chip
from ..data.streams import OnlineData
from ..record import RunRecord
from .base import Batch, Trainer, TrainingError
from .session import ProgressFn, TrainingSession, check_count


def adapt(chip: Chip, trainer: Trainer, online: OnlineData, *, batch_size: int | None = None, seed: int = 0,
          evaluations: int = 20, calibration_samples: int = 256, progress: ProgressFn | None = None,
          run_info: dict[str, Any] | None = None) -> RunRecord:
    """Adapt ``chip`` to ``online``'s stream with ``trainer``; returns the run record.

    The record's epoch 0 is the state before adaptation, epoch 1 after the whole stream; its checkpoints hold
    ``evaluations`` points along the stream (samples seen, test accuracy, writes, counts, training wall time).

    Parameters
    ----------
    batch_size : int, optional
        Stream samples per trainer step (default: the trainer's own ``default_batch_size``).
    calibration_samples : int
        Pre-training samples used once to calibrate the executor's periphery before the stream starts (0: none).
    """
    trainer = trainer.for_adaptation()  # fine-tuning defaults for what the caller did not set
    batch_size = check_count("batch_size", batch_size or trainer.default_batch_size)
    check_count("evaluations", evaluations)
    x, y = online.x_stream, online.y_stream
    if len(x) == 0:
        raise TrainingError("the stream is empty")
    scenario = online.scenario
    if calibration_samples > 0:
        chip.calibrate(online.pretrain.x_train[:calibration_samples])
    session = TrainingSession(chip, trainer, x, y, seed=seed, batch_size=batch_size)
    steps_total = -(-len(x) // batch_size)
    eval_every = max(1, steps_total // evaluations)
    test = session.evaluate(online.x_test, online.y_test)
    session.record_epoch(0, (float("nan"), float("nan")), test)
    session.checkpoint(test[0])
    # drift per step: a random walk over b samples moves sqrt(b) times as far; flips compound per sample
    walk = scenario.analog_drift * np.sqrt(batch_size)
    flip = 1.0 - (1.0 - scenario.digital_drift) ** batch_size
    test_acc = test[0]
    for step in range(steps_total):
        rows = slice(step * batch_size, (step + 1) * batch_size)
        session.step(Batch(x=x[rows], y=y[rows], step=step, epoch=1), last=step + 1 == steps_total)
        chip.memory.analog_drift(float(walk))
        chip.memory.digital_drift(float(flip))
        if (step + 1) % eval_every == 0 or step + 1 == steps_total:
            test_acc = session.evaluate(online.x_test, online.y_test)[0]
            session.checkpoint(test_acc)
        if progress is not None:
            progress({"epoch": 1, "epochs": 1, "step": step + 1, "steps_per_epoch": steps_total,
                      "writes_total": session.writes_total, "test_accuracy": test_acc})
    test = session.evaluate(online.x_test, online.y_test)
    session.record_epoch(1, session.evaluate(x, y), test)
    info = dict(run_info or {})
    info.update({"scenario": {"shift": scenario.shift, "analog_drift": scenario.analog_drift,
                              "digital_drift": scenario.digital_drift, "strength": scenario.strength},
                 "cells_disturbed": int(chip.memory.disturbed_cells)})
    return session.record({"name": online.name, "n_train": int(len(x)), "n_test": int(len(online.x_test))}, info)


__all__ = ["adapt"]
