"""Executors: the ways a mapped network runs on the chip (a registry; see :mod:`.registry` for the contract)."""

from . import analog as _analog  # noqa: F401  (registers "analog")
from . import lut as _lut  # noqa: F401  (registers "lut")
from . import spiking as _spiking  # noqa: F401  (registers "spiking")
from .analog import AnalogExecutor
from .registry import EXECUTORS, Executor, ExecutorOption, make_executor, register_executor

__all__ = ["EXECUTORS", "Executor", "ExecutorOption", "AnalogExecutor", "make_executor", "register_executor"]
