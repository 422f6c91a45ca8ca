"""The simulated chip: mapping, NVM-held weights, registers, executors, and the contract with the code above."""

from .chip import DEFAULT_EXECUTOR, Chip
from .contract import Execution, LayerTrace, WriteRequest
from .converters import WIDE_BITS, LayerConverters
from .executors import EXECUTORS, Executor, ExecutorOption, make_executor, register_executor
from .held import HeldState

__all__ = ["Chip", "DEFAULT_EXECUTOR", "WriteRequest", "LayerTrace", "Execution", "HeldState", "EXECUTORS",
           "Executor", "ExecutorOption", "make_executor", "register_executor", "LayerConverters", "WIDE_BITS"]
