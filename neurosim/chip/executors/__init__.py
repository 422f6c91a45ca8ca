"""Executors: the ways a mapped network runs on the chip (a registry; see :mod:`.registry` for the contract)."""

from . import analog as _analog  # noqa: F401  (registers "analog")
from .analog import AnalogExecutor
from .registry import EXECUTORS, Executor, make_executor, register_executor

__all__ = ["EXECUTORS", "Executor", "AnalogExecutor", "make_executor", "register_executor"]
