"""Simulated non-volatile memory: cells, the one write door, wear and faults."""

from .nvm import LifetimeProjection, MemorySummary, NVMArray, ProgramResult

__all__ = ["NVMArray", "ProgramResult", "MemorySummary", "LifetimeProjection"]
