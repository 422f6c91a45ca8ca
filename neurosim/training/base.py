"""The trainer protocol (optax-like), the trainer registry, and what a trainer may see of the chip.

A trainer never touches stored weights. Each :meth:`Trainer.step` reads the chip through a :class:`TrainingView`
and returns a :class:`~neurosim.chip.contract.WriteRequest`; the training loop is the only code that hands it to
:meth:`neurosim.Chip.apply`, the one door. Hyper-parameters are declared once per trainer in
``hyper_parameters`` (:mod:`neurosim.training.params`) and given as constructor keywords only; :meth:`get_params`
returns them for the run record.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..chip import Chip
from ..chip.contract import LayerTrace, WriteRequest
from ..nn.model import Model
from ..profiles import Profile
from .params import HyperParameter, TrainingError, check_params, docstring_section


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
    chip, and report their auxiliary-memory traffic and digital operations so that they are priced. There is no
    write method: the one-door rule holds by structure.
    """

    def __init__(self, chip: Chip):
        self._chip = chip
        # the share of trainer state held off chip (aux_memory.overflow = "off_chip"): that share of every aux
        # access is an off-chip transfer (the state is spread evenly over what it touches: a stated simplification)
        self.off_chip_share = 0.0
        # the classes predicted by the first counted forward pass since :meth:`_expect_scoring` (the step's prediction
        # on its batch before any update: what an online run's prequential accuracy scores, at no extra chip read);
        # taken at once, so a trainer that later works on its logits in place cannot change them
        self._first_predictions: np.ndarray | None = None
        self._scoring = False

    @property
    def model(self) -> Model:
        return self._chip.model

    @property
    def profile(self) -> Profile:
        return self._chip.profile

    def analog_layers(self) -> list[int]:
        """Indices of the layers stored in crossbars."""
        return self._chip.analog_layers()

    def codes(self, index: int) -> np.ndarray:
        """Weight codes the chip holds for layer ``index`` (a fresh array)."""
        return self._chip.held.codes(index)

    def scale(self, index: int) -> float:
        return self._chip.held.scale(index)

    def bias(self, index: int) -> np.ndarray:
        """The layer's bias (a fresh, writable copy)."""
        return self._chip.held.bias(index).copy()

    def weights(self, index: int) -> np.ndarray:
        """The weights layer ``index`` computes with, (fan_in, fan_out) in weight units: ``scale x codes`` the
        chip holds plus any digital low-rank correction."""
        layer = self._chip.model.layers[index]
        w = self.codes(index).reshape(layer.fan_in, layer.fan_out) * self.scale(index)
        corr = self._chip.held.correction_matrix(index)
        return w if corr is None else w + corr

    def remaining_writes(self, index: int) -> np.ndarray:
        """Writes left to each weight of layer ``index`` (fan_in, fan_out) before one of its cells reaches its
        limit: the write budget when one is set, else the profile's median endurance (a chip knows its write
        counts, not its cells' own endurance); 0 for a weight with a stuck cell. Reading it is free (the write
        controller's counters)."""
        return self._chip.remaining_writes(index)

    @property
    def write_limit(self) -> int:
        """What :meth:`remaining_writes` counts down from: the write budget, or the median endurance."""
        budget = self._chip.budget
        return budget.budget if budget is not None else max(1, int(self._chip.profile.device.endurance_cycles))

    def trace(self, x: np.ndarray) -> tuple[np.ndarray, list[LayerTrace]]:
        """Counted forward pass on the chip: logits and per-layer traces for a backward pass."""
        logits, traces = self._chip.trace(x)
        if self._scoring and self._first_predictions is None:
            self._first_predictions = np.asarray(logits).argmax(axis=1)
        return logits, traces

    def _expect_scoring(self) -> None:
        """(session) Keep the predicted classes of the next counted forward pass."""
        self._scoring, self._first_predictions = True, None

    def _scored_predictions(self) -> np.ndarray | None:
        """(session) The classes kept since :meth:`_expect_scoring` (None: the trainer ran no forward pass)."""
        self._scoring = False
        return self._first_predictions

    def count_backward(self, batch: int, lowest_layer: int) -> None:
        """Count carrying ``batch`` samples' errors down through the layers above ``lowest_layer`` (the executor
        prices it; for ``analog``, transposed crossbar reads at the cost of their forward MVMs)."""
        self._chip.count_backward(batch, above=lowest_layer)

    def count(self, **events: int) -> None:
        """Count digital work and aux-memory traffic, e.g. ``count(aux_bytes_read=..., neuron_updates=...)``; the
        off-chip share of aux traffic is counted as off-chip transfers."""
        counts = {k: int(v) for k, v in events.items()}
        if self.off_chip_share:
            for key, off in (("aux_bytes_read", "offchip_bytes_read"), ("aux_bytes_written", "offchip_bytes_written")):
                if key in counts:
                    moved = round(counts[key] * self.off_chip_share)
                    counts[key] -= moved
                    counts[off] = counts.get(off, 0) + moved
        self._chip.ledger.add(**counts)


class Trainer(ABC):
    """Base class of on-chip trainers.

    Subclasses set ``name``, declare ``hyper_parameters`` (name -> :class:`~neurosim.training.params.
    HyperParameter`) and implement :meth:`init`, :meth:`step` and :meth:`aux_memory`; :meth:`setup` derives any
    state from the hyper-parameters. The constructor takes the hyper-parameters as keywords, checks them against
    their declarations and sets them as attributes.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    default_batch_size: ClassVar[int] = 64  # mini-batch size the trainer is tuned for (the loop's default)

    @classmethod
    def batch_size_for(cls, n_train: int) -> int:
        """Default mini-batch size for offline training on ``n_train`` samples (``default_batch_size`` unless a
        trainer needs several steps an epoch on small data sets)."""
        return cls.default_batch_size
    hyper_parameters: ClassVar[dict[str, HyperParameter]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        section = docstring_section(cls.hyper_parameters)
        if section and cls.__doc__ and "Parameters\n" not in cls.__doc__:
            # numpydoc order: summary, Parameters, then any other section (Notes...)
            head, _, rest = inspect.cleandoc(cls.__doc__).partition("\n\n")
            cls.__doc__ = head + "\n\n" + section + ("\n\n" + rest if rest else "")

    #: Defaults that replace ``hyper_parameters``' own when a pre-trained model adapts online (fine-tuning wants
    #: smaller steps than training from scratch); used by :meth:`for_adaptation` for what the user did not set.
    adaptation_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any):
        for key, value in check_params(self.name, self.hyper_parameters, params).items():
            setattr(self, key, value)
        self._given = frozenset(params)
        self.setup()

    def for_adaptation(self) -> Trainer:
        """This trainer with :attr:`adaptation_defaults` for every hyper-parameter the user did not set (itself
        when there are none)."""
        missing = {k: v for k, v in self.adaptation_defaults.items() if k not in self._given}
        if not missing:
            return self
        return type(self)(**missing, **{k: getattr(self, k) for k in self._given})

    def setup(self) -> None:  # noqa: B027 (an optional hook)
        """Derive state from the hyper-parameters (called once by the constructor). Default: nothing."""

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters (name -> value), for the run record."""
        return {key: getattr(self, key) for key in self.hyper_parameters}

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


TRAINERS: dict[str, type[Trainer]] = {}


def register(cls: type[Trainer]) -> type[Trainer]:
    """Class decorator adding a trainer to the registry under ``cls.name``."""
    TRAINERS[cls.name] = cls
    return cls


def trainer_class(name: str) -> type[Trainer]:
    """The registered trainer ``name`` (raises :class:`TrainingError` listing the registered ones)."""
    if not isinstance(name, str) or name not in TRAINERS:
        raise TrainingError(f"unknown trainer {name!r}; registered trainers: {', '.join(sorted(TRAINERS))}")
    return TRAINERS[name]


def make_trainer(name: str, **params: Any) -> Trainer:
    """Instantiate the registered trainer ``name`` with hyper-parameters.

    Raises
    ------
    TrainingError
        Unknown name (listing the registered ones) or a bad hyper-parameter (naming it, the constraint, the value).
    """
    return trainer_class(name)(**params)


__all__ = ["Trainer", "TrainingView", "Batch", "TrainingError", "TRAINERS", "register", "trainer_class",
           "make_trainer", "WriteRequest"]
