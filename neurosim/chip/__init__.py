"""The simulated chip: mapping, NVM-held weights, and inference with every event counted."""

from .chip import Chip
from .converters import WIDE_BITS, LayerConverters
from .report import InferenceReport

__all__ = ["Chip", "InferenceReport", "LayerConverters", "WIDE_BITS"]
