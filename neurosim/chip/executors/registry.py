"""The executor contract and registry: how a mapped network is run on the chip.

An executor is one way of executing what the chip holds: analog crossbar MVMs, integer lookup tables, spiking
neurons. The contract (ARCHITECTURE.md, floor 6, "an executor gets what the chip holds and returns logits, traces
and the events it caused"):

- It is built once per chip from the :class:`~neurosim.mapping.Mapping` (model, profile, tiles, placement) and may
  keep its own periphery settings (converter ranges, thresholds), set by :meth:`Executor.calibrate`.
- It reads the chip only through a :class:`~neurosim.chip.held.HeldState` (effective weights as the cells hold
  them, decoded codes, scales, biases, corrections). It has no way to write: writing is
  :meth:`neurosim.Chip.apply`'s job alone.
- :meth:`Executor.run` returns an :class:`~neurosim.chip.contract.Execution`: logits, per-layer
  :class:`~neurosim.chip.contract.LayerTrace` when a trace is asked for (on-chip training), and a
  :class:`~neurosim.ledger.Ledger` of the events the batch caused. It counts, it never prices: the chip adds the
  events to its ledger (when the pass counts) and records price them later.
- :meth:`Executor.stages` declares the per-sample serial steps of its pipeline stages, so that time is priced from
  counts (pipeline runs) with the slowest stage chosen at pricing time.
- :meth:`Executor.backward_events` counts the work of carrying errors down through the layers above a given one
  (on-chip training); an executor that cannot do it says so with an :class:`ExecutorError`.

Adding an executor is adding one module with a subclass decorated by :func:`register_executor`; ``Chip(profile,
model, executor=NAME)`` and ``neurosim infer --executor NAME`` then find it. An executor's own settings (timesteps
of spiking execution, activation levels of the lookup tables) are declared in its ``options`` (a default and a rule
each, like trainer hyper-parameters) and given as ``Chip(..., executor_options={...})``.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..._fields import Rule, shown
from ...errors import ExecutorError
from ...ledger import Ledger
from ...mapping.mapper import Mapping
from ..contract import Execution
from ..held import HeldState


@dataclass(frozen=True)
class ExecutorOption:
    """One declared setting of an executor: its default and the rule every value follows."""

    default: Any
    rule: Rule


class Executor(ABC):
    """Base class of executors (see the module docstring for the contract).

    Parameters
    ----------
    mapping : Mapping
        The model laid out on the chip; ``mapping.model`` and ``mapping.profile`` come with it.
    seed : int
        Seeds the executor's own random draws (read noise, Poisson spikes), apart from the memory's.
    options : mapping, optional
        Values of the executor's declared :attr:`options` (the rest take their defaults).
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    options: ClassVar[dict[str, ExecutorOption]] = {}

    def __init__(self, mapping: Mapping, *, seed: int = 0, options: MappingType[str, Any] | None = None):
        self.mapping = mapping
        self.seed = seed
        self.settings: dict[str, Any] = check_options(self.name, self.options, options or {})

    @property
    def levels(self) -> int:
        return self.mapping.profile.device.levels

    def new_events(self) -> Ledger:
        """An empty ledger for one execution's events, with this executor's stages declared."""
        events = Ledger(self.levels)
        events.declare_stages(self.stages())
        return events

    @abstractmethod
    def stages(self) -> dict[str, dict[str, int]]:
        """Pipeline stage name -> serial steps one sample takes in it, by kind (see ``SERIAL_STEPS``)."""

    @abstractmethod
    def run(self, held: HeldState, x: np.ndarray, *, trace: bool = False) -> Execution:
        """Execute a batch ``x`` (already checked against the model's input shape)."""

    def calibrate(self, held: HeldState, x: np.ndarray) -> None:  # noqa: B027 (an optional hook)
        """Set the executor's own periphery from inputs ``x`` (not counted: the test bench's work). Default:
        nothing to set."""

    def record_reference(self, held: HeldState) -> None:  # noqa: B027 (an optional hook)
        """Remember what the freshly programmed chip reads (drift compensation's reference). Default: nothing."""

    def compensate_drift(self, held: HeldState) -> Ledger:
        """Measure how far the stored conductances have drifted since :meth:`record_reference` and correct for it;
        returns the events the measurement caused."""
        raise ExecutorError(f"executor {self.name!r} has no drift compensation")

    def backward_events(self, held: HeldState, batch: int, above: int) -> Ledger:
        """Events of carrying ``batch`` samples' errors down through every layer after layer ``above``."""
        raise ExecutorError(f"executor {self.name!r} does not count a backward pass, so on-chip training cannot "
                            "run on it; use executor 'analog'")


def check_options(executor: str, declared: MappingType[str, ExecutorOption],
                  given: MappingType[str, Any]) -> dict[str, Any]:
    """Every declared option's value (given, else default), checked; raises :class:`ExecutorError` naming the
    executor, the option (with the closest declared one for a typo), the constraint and the value."""
    for key in given:
        if key not in declared:
            close = difflib.get_close_matches(str(key), list(declared), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ExecutorError(f"executor {executor!r} has no option {key!r}{hint} (its options: "
                                f"{', '.join(declared) or 'none'})")
    values = {}
    for key, option in declared.items():
        value = given.get(key, option.default)
        checked, problem = option.rule.check(value)
        if problem is not None:
            raise ExecutorError(f"executor {executor!r}: option {key!r} {problem} (got {shown(value)})")
        values[key] = checked
    return values


EXECUTORS: dict[str, type[Executor]] = {}


def register_executor(cls: type[Executor]) -> type[Executor]:
    """Class decorator adding an executor to the registry under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, Executor)) or not isinstance(getattr(cls, "name", None), str):
        raise TypeError("register_executor takes an Executor subclass with a string 'name'")
    EXECUTORS[cls.name] = cls
    return cls


def make_executor(name: str, mapping: Mapping, *, seed: int = 0,
                  options: MappingType[str, Any] | None = None) -> Executor:
    """The registered executor ``name`` built for ``mapping`` with ``options`` (raises :class:`ExecutorError`
    listing the names, or naming a bad option)."""
    if not isinstance(name, str) or name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}; registered executors: {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name](mapping, seed=seed, options=options)


__all__ = ["Executor", "ExecutorError", "ExecutorOption", "EXECUTORS", "register_executor", "make_executor",
           "check_options"]
