"""Ternary and low-bit networks: layers, models, quantisation and model files."""

from .layers import ACTIVATIONS, AnalogLayer, Conv2D, Dense, Flatten, MaxPool2D, activate
from .model import Model, sequential
from .model_io import list_models, load_model, save_model
from .quantize import max_code, quantize_symmetric, ternarize_twn

__all__ = ["Dense", "Conv2D", "MaxPool2D", "Flatten", "AnalogLayer", "ACTIVATIONS", "activate", "Model",
           "sequential", "load_model", "save_model", "list_models", "ternarize_twn", "quantize_symmetric",
           "max_code"]
