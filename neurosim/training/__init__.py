"""On-chip training: the trainer protocol and registry, the trainers, and the loop that applies their writes."""

from . import bitflip as _bitflip  # noqa: F401  (registers bitflip)
from . import coordinate as _coordinate  # noqa: F401  (registers coordinate)
from . import lowrank as _lowrank  # noqa: F401  (registers lowrank)
from . import sgd as _sgd  # noqa: F401  (registers sgd, nvm_sgd)
from .base import (TRAINERS, Batch, Trainer, TrainingError, TrainingView, WriteRequest, make_trainer, register)
from .loop import apply_request, evaluate, train

__all__ = ["TRAINERS", "Trainer", "TrainingView", "TrainingError", "WriteRequest", "Batch", "make_trainer",
           "register", "train", "evaluate", "apply_request"]
