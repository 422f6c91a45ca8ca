"""Online adaptation: one pass over a shifted stream, on the chip, while its memory drifts (a driver of the
:class:`~neurosim.training.session.TrainingSession` skeleton).

The chip holds a model pre-trained on the host; stream samples arrive in order (no shuffling, no second pass) in
groups of ``batch_size``; after each group the trainer's write request is applied (the trainer's ``finish``
request follows the last step) and the memory drifts by the scenario's amount for that many samples. Accuracy on
the shifted test part is recorded along the stream, and so is the online (prequential) accuracy: each stream batch
as the chip classified it just before the update it takes part in (from the trainer's own forward pass, so scoring
adds no chip read), the figure Gural et al. (2020) report for online training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..chip import Chip
from ..data.streams import OnlineData
from ..record import RunRecord
from .base import Batch, Trainer, TrainingError
from .endurance import LifeTracker, UsefulLife
from .session import ProgressFn, TrainingSession, check_count


def adapt(chip: Chip, trainer: Trainer, online: OnlineData, *, batch_size: int | None = None, seed: int = 0,
          evaluations: int = 20, calibration_samples: int = 256, progress: ProgressFn | None = None,
          run_info: dict[str, Any] | None = None, stream: int | None = None, until: UsefulLife | None = None,
          write_budget: int | None = None) -> RunRecord:
    """Adapt ``chip`` to ``online``'s stream with ``trainer``; returns the run record.

    The record's epoch 0 is the state before adaptation, epoch 1 after the whole stream; its checkpoints hold
    ``evaluations`` points along the stream (samples seen, test accuracy, writes, counts, training wall time).

    Parameters
    ----------
    batch_size : int, optional
        Stream samples per trainer step (default: the trainer's own ``default_batch_size``).
    calibration_samples : int
        Pre-training samples used once to calibrate the executor's periphery before the stream starts (0: none).
    stream : int, optional
        Run a continual stream of this many samples (the shifted stream repeated, in order) instead of one pass;
        with ``until`` it stops earlier at the end of the chip's useful life (:mod:`neurosim.training.endurance`),
        and the record's ``lifetime["stream"]`` holds the times to first failure, to 1 % failed cells and to the
        end of useful life.
    until : UsefulLife, optional
        The stop rules of a continual stream (default with ``stream``: ``UsefulLife()``).
    write_budget : int, optional
        Writes each cell may take during the run; requests beyond are refused at the door and counted.
    """
    trainer = trainer.for_adaptation()  # fine-tuning defaults for what the caller did not set
    batch_size = check_count("batch_size", batch_size or trainer.default_batch_size)
    check_count("evaluations", evaluations)
    x, y = online.x_stream, online.y_stream
    if len(x) == 0:
        raise TrainingError("the stream is empty")
    if stream is not None:
        check_count("stream", stream)
        until = until or UsefulLife()
    elif until is not None:
        raise TrainingError("a useful-life rule needs a continual stream (stream = number of samples)")
    if write_budget is not None:
        check_count("write_budget", write_budget)
    scenario = online.scenario
    if calibration_samples > 0:
        chip.calibrate(online.pretrain.x_train[:calibration_samples])
    if write_budget is not None:
        chip.set_write_budget(write_budget)
    session = TrainingSession(chip, trainer, x, y, seed=seed, batch_size=batch_size, score_stream=True)
    samples_total = len(x) if stream is None else stream
    steps_total = -(-samples_total // batch_size)
    eval_every = max(1, steps_total // (evaluations if until is None else until.evaluations))
    tracker = None
    if until is not None:
        tracker = LifeTracker(until, chip.memory.n_cells)
        window = (online.x_test[: until.window], online.y_test[: until.window])
    test = session.evaluate(online.x_test, online.y_test)
    session.record_epoch(0, (float("nan"), float("nan")), test)
    session.checkpoint(test[0])
    # drift per step: a random walk over b samples moves sqrt(b) times as far; flips compound per sample
    walk = scenario.analog_drift * np.sqrt(batch_size)
    flip = 1.0 - (1.0 - scenario.digital_drift) ** batch_size
    test_acc = test[0]
    failed_before = chip.memory.cells_failed
    for step in range(steps_total):
        rows = np.arange(step * batch_size, min((step + 1) * batch_size, samples_total)) % len(x)
        last = step + 1 == steps_total
        session.step(Batch(x=x[rows], y=y[rows], step=step, epoch=1), last=last)
        chip.memory.analog_drift(float(walk))
        chip.memory.digital_drift(float(flip))
        stop = False
        if tracker is not None:
            stop = tracker.after_step(session.samples, chip.memory.cells_failed - failed_before)
        if (step + 1) % eval_every == 0 or last or stop:
            if tracker is not None:
                acc = session.evaluate(*window)[0]
                stop |= tracker.evaluated(session.samples, acc, chip.memory.cells_failed - failed_before,
                                          session.writes_total)
            test_acc = session.evaluate(online.x_test, online.y_test)[0]
            session.checkpoint(test_acc)
        if progress is not None:
            progress({"epoch": 1, "epochs": 1, "step": step + 1, "steps_per_epoch": steps_total,
                      "writes_total": session.writes_total, "test_accuracy": test_acc})
        if stop:
            if not last:  # the run ends here: the trainer's pending state is written as at a stream's end
                session.finish()
            break
    test = session.evaluate(online.x_test, online.y_test)
    session.record_epoch(1, session.evaluate(x, y), test)
    info = dict(run_info or {})
    info.update({"scenario": {"shift": scenario.shift, "analog_drift": scenario.analog_drift,
                              "digital_drift": scenario.digital_drift, "strength": scenario.strength},
                 "cells_disturbed": int(chip.memory.disturbed_cells)})
    record = session.record({"name": online.name, "n_train": int(len(x)), "n_test": int(len(online.x_test))},
                            info)
    if tracker is not None:
        record.lifetime["stream"] = tracker.summary(session.samples)
        record.lifetime["endurance_scale"] = until.endurance_scale
    return record


__all__ = ["adapt"]
