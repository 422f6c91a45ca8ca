"""The trainer protocol (optax-like) and what a trainer may see of the chip.

A trainer never touches stored weights. Each :meth:`Trainer.step` reads the chip through a :class:`TrainingView`
and returns a :class:`WriteRequest`; the training loop (:mod:`neurosim.training.loop`) is the only code that
applies it, through the memory's one door. Hyper-parameters are constructor keywords only; :meth:`get_params`
returns them for the run record.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import NeurosimError


class TrainingError(NeurosimError, ValueError):
    """A trainer was given bad hyper-parameters, or cannot train this model."""


@dataclass
class WriteRequest:
    """What a trainer wants written.

    Attributes
    ----------
    codes : dict of int to ndarray
        Full new weight codes of some analog layers (the whole layer is requested, as a trainer that rewrites its
        quantised weights after every update does; unchanged cells are skipped by read-before-write).
    updates : dict of int to (ndarray, ndarray)
        Sparse requests: flat weight indices and their new codes (only the named weights are requested).
    scales, biases : dict
        New per-layer scales and biases (digital registers, not NVM).
    corrections : dict of int to (ndarray, ndarray) or None
        New per-layer digital low-rank corrections ``(left (fan_in, k), right (k, fan_out))`` in weight units,
        applied by the periphery on top of the stored weights (aux memory, not NVM); ``None`` clears one.
    """

    codes: dict[int, np.ndarray] = field(default_factory=dict)
    updates: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    scales: dict[int, float] = field(default_factory=dict)
    biases: dict[int, np.ndarray] = field(default_factory=dict)
    corrections: dict[int, tuple[np.ndarray, np.ndarray] | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.codes or any(len(i) for i, _ in self.updates.values()) or self.scales or self.biases
                    or self.corrections)


@dataclass(frozen=True)
class Batch:
    """One training mini-batch."""

    x: np.ndarray
    y: np.ndarray
    step: int
    epoch: int


class TrainingView:
    """Read access to a chip for trainers, plus event counting for their digital work.

    Trainers see the weight codes the chip *holds* (stuck cells included), may run counted forward passes on the
    chip, and report their auxiliary-memory traffic and digital operations so that they are priced.
    """

    def __init__(self, chip: Any):
        self._chip = chip

    @property
    def model(self):
        return self._chip.model

    @property
    def profile(self):
        return self._chip.profile

    def analog_layers(self) -> list[int]:
        """Indices of the layers stored in crossbars."""
        return [lt.layer for lt in self._chip.mapping.tilings]

    def codes(self, index: int) -> np.ndarray:
        """Weight codes the chip holds for layer ``index`` (a fresh array)."""
        return self._chip.stored_codes(index)

    def scale(self, index: int) -> float:
        return self._chip.scales[index]

    def bias(self, index: int) -> np.ndarray:
        return self._chip.biases[index].copy()

    def weights(self, index: int) -> np.ndarray:
        """The weights layer ``index`` computes with, (fan_in, fan_out) in weight units: ``scale x codes`` the
        chip holds plus any digital low-rank correction."""
        layer = self._chip.model.layers[index]
        w = self.codes(index).reshape(layer.fan_in, layer.fan_out) * self.scale(index)
        corr = self._chip.correction_matrix(index)
        return w if corr is None else w + corr

    def trace(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        """Counted forward pass on the chip: logits and per-layer caches for a backward pass."""
        return self._chip.trace(x)

    def count_backward(self, batch: int, lowest_layer: int) -> None:
        """Count the transposed crossbar reads that carry errors down through the analog layers above
        ``lowest_layer`` (priced like their forward MVMs)."""
        self._chip.count_transposed_reads(batch, above=lowest_layer)

    def count(self, **events: int) -> None:
        """Count digital work and aux-memory traffic, e.g. ``count(aux_bytes_read=..., neuron_updates=...)``."""
        self._chip.ledger.add(**{k: int(v) for k, v in events.items()})


class Trainer(ABC):
    """Base class of on-chip trainers. Subclasses set ``name`` and implement :meth:`init` and :meth:`step`."""

    name: ClassVar[str]
    default_batch_size: ClassVar[int] = 64  # mini-batch size the trainer is tuned for (the loop's default)

    def get_params(self) -> dict[str, Any]:
        """Constructor hyper-parameters (name -> value), for the run record."""
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self"}

    @abstractmethod
    def init(self, view: TrainingView, x_train: np.ndarray, y_train: np.ndarray, seed: int) -> Any:
        """Return the initial trainer state (may read the chip; must not write)."""

    @abstractmethod
    def step(self, batch: Batch, state: Any, view: TrainingView) -> tuple[WriteRequest, Any]:
        """Return the write request for this batch and the new state."""

    @abstractmethod
    def aux_memory(self, view: TrainingView, batch_size: int) -> dict[str, int]:
        """Bytes of auxiliary memory the trainer needs besides the NVM weights, by buffer name."""

    def finish(self, state: Any, view: TrainingView) -> WriteRequest:
        """The last request of a run, after the last step (default: nothing). A trainer that holds part of its
        model outside the NVM (a pending update, digital corrections) writes it here, so that the run ends with
        the whole model in the memory."""
        return WriteRequest()

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def check_positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> Any:
    """Validate a hyper-parameter; raises :class:`TrainingError` naming it, the constraint and the value."""
    ok_type = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok_type or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "an integer" if integer else "a finite number"
        raise TrainingError(f"hyper-parameter {name!r} must be {kind} {'>= 0' if allow_zero else '> 0'} "
                            f"(got {value!r})")
    return value


TRAINERS: dict[str, type[Trainer]] = {}


def register(cls: type[Trainer]) -> type[Trainer]:
    """Class decorator adding a trainer to the registry under ``cls.name``."""
    TRAINERS[cls.name] = cls
    return cls


def make_trainer(name: str, **params: Any) -> Trainer:
    """Instantiate the registered trainer ``name`` with hyper-parameters.

    Raises
    ------
    TrainingError
        Unknown name (listing the registered ones) or a bad hyper-parameter.
    """
    if name not in TRAINERS:
        raise TrainingError(f"unknown trainer {name!r}; registered trainers: {', '.join(sorted(TRAINERS))}")
    cls = TRAINERS[name]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in params:
        if key not in accepted:
            raise TrainingError(f"trainer {name!r} has no hyper-parameter {key!r}; it takes: {', '.join(accepted)}")
    return cls(**params)
