"""Online adaptation: one pass over a shifted stream, on the chip, while its memory drifts.

The chip holds a model pre-trained on the host; stream samples arrive in order (no shuffling, no second pass) in
groups of ``batch_size``; after each group the trainer's write request is applied (through
:func:`~neurosim.training.loop.apply_request`, the loop's one door; the trainer's ``finish`` request follows the
last step) and the memory drifts by the scenario's amount for that many samples. Accuracy on the shifted test part is recorded along the stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..chip import Chip
from ..data.datasets import Dataset
from ..data.streams import OnlineData
from ..experiments.record import RunRecord, build_record
from .base import Batch, Trainer, TrainingError, TrainingView, check_positive
from .loop import ProgressFn, _epoch_record, _Stopwatch, apply_step


def adapt(chip: Chip, trainer: Trainer, online: OnlineData, *, batch_size: int | None = None, seed: int = 0,
          evaluations: int = 20, calibration_samples: int = 256, progress: ProgressFn | None = None,
          run_info: dict[str, Any] | None = None) -> RunRecord:
    """Adapt ``chip`` to ``online``'s stream with ``trainer``; returns the run record.

    The record's epoch 0 is the state before adaptation, epoch 1 after the whole stream; ``checkpoints`` hold
    ``evaluations`` points along the stream (samples seen, test accuracy, writes, training wall time).

    Parameters
    ----------
    batch_size : int, optional
        Stream samples per trainer step (default: the trainer's own ``default_batch_size``).
    calibration_samples : int
        Pre-training samples used once to calibrate narrow converters before the stream starts (0: none).
    """
    batch_size = check_positive("batch_size", batch_size or trainer.default_batch_size, integer=True)
    check_positive("evaluations", evaluations, integer=True)
    x, y = online.x_stream, online.y_stream
    if len(x) == 0:
        raise TrainingError("the stream is empty")
    scenario = online.scenario
    if calibration_samples > 0:
        chip.calibrate(online.pretrain.x_train[:calibration_samples])
    view = TrainingView(chip)
    start_ledger, start_counts = chip.ledger.copy(), chip.memory.write_counts.copy()
    state = trainer.init(view, x, y, seed)
    aux = trainer.aux_memory(view, batch_size)
    steps_total = -(-len(x) // batch_size)
    eval_every = max(1, steps_total // evaluations)
    watch = _Stopwatch()
    first_failure: int | None = None
    test_acc, test_loss = watch.evaluate(chip, online.x_test, online.y_test)
    records = [_epoch_record(chip, 0, 0, float("nan"), float("nan"), test_acc, test_loss, start_ledger,
                             start_counts, aux, 0.0)]
    checkpoints = [{"step": 0, "samples": 0, "wall_time_s": 0.0, "test_accuracy": test_acc, "writes_total": 0}]
    # drift per step: a random walk over b samples moves sqrt(b) times as far; flips compound per sample
    walk = scenario.analog_drift * np.sqrt(batch_size)
    flip = 1.0 - (1.0 - scenario.digital_drift) ** batch_size
    for step in range(steps_total):
        xb, yb = x[step * batch_size: (step + 1) * batch_size], y[step * batch_size: (step + 1) * batch_size]
        request, state = trainer.step(Batch(x=xb, y=yb, step=step, epoch=1), state, view)
        if apply_step(chip, trainer, request, state, view, step + 1 == steps_total) and first_failure is None:
            first_failure = step + 1
        chip.memory.analog_drift(float(walk))
        chip.memory.digital_drift(float(flip))
        if (step + 1) % eval_every == 0 or step + 1 == steps_total:
            acc, _ = watch.evaluate(chip, online.x_test, online.y_test)
            test_acc = acc
            checkpoints.append({"step": step + 1, "samples": min((step + 1) * batch_size, len(x)),
                                "wall_time_s": watch.training_seconds(), "test_accuracy": acc,
                                "writes_total": int((chip.ledger - start_ledger).writes_total)})
        if progress is not None:
            progress({"epoch": 1, "epochs": 1, "step": step + 1, "steps_per_epoch": steps_total,
                      "writes_total": int((chip.ledger - start_ledger).writes_total), "test_accuracy": test_acc})
    test_acc, test_loss = watch.evaluate(chip, online.x_test, online.y_test)
    stream_acc, stream_loss = watch.evaluate(chip, x, y)
    records.append(_epoch_record(chip, 1, steps_total, stream_acc, stream_loss, test_acc, test_loss, start_ledger,
                                 start_counts, aux, watch.training_seconds()))
    data = Dataset(name=online.name, x_train=x, y_train=y, x_test=online.x_test, y_test=online.y_test,
                   input_shape=online.pretrain.input_shape, n_classes=online.pretrain.n_classes)
    info = dict(run_info or {})
    info.update({"scenario": {"shift": scenario.shift, "analog_drift": scenario.analog_drift,
                              "digital_drift": scenario.digital_drift, "strength": scenario.strength},
                 "cells_disturbed": int(chip.memory.disturbed_cells)})
    return build_record(chip=chip, trainer=trainer, data=data, seed=seed, batch_size=batch_size, epochs=records,
                        training_ledger=chip.ledger - start_ledger, steps=steps_total, aux=aux,
                        checkpoints=checkpoints, run_info=info, start_counts=start_counts, first_failure_step=first_failure)
