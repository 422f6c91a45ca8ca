"""Figures drawn from records and mappings (matplotlib is imported lazily, inside each function)."""

from ._pyplot import pyplot
from .floorplan import plot_floorplan
from .study import plot_study
from .timesteps import plot_timesteps

__all__ = ["plot_floorplan", "plot_study", "plot_timesteps", "pyplot"]
