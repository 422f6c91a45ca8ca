"""On-chip training: the trainer protocol and registry, the trainers, and the loop that applies their writes."""

from . import bitflip as _bitflip  # noqa: F401  (registers bitflip)
from . import coordinate as _coordinate  # noqa: F401  (registers coordinate)
from . import lowrank as _lowrank  # noqa: F401  (registers lowrank)
from . import sgd as _sgd  # noqa: F401  (registers sgd, nvm_sgd)
from .base import TRAINERS, Batch, Trainer, TrainingView, WriteRequest, make_trainer, register, trainer_class
from .loop import train
from .online import adapt
from .params import HyperParameter, TrainingError, parse_param_text
from .session import TrainingSession, evaluate

__all__ = ["TRAINERS", "Trainer", "TrainingView", "TrainingError", "WriteRequest", "Batch", "HyperParameter",
           "make_trainer", "trainer_class", "register", "train", "adapt", "evaluate", "TrainingSession",
           "parse_param_text"]
