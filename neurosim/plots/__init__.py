"""Figures (matplotlib is imported lazily, inside each function)."""

from .floorplan import plot_floorplan

__all__ = ["plot_floorplan"]
