"""Data sets for on-chip training, scaled to [0, 1] and split into train and test.

Start with :func:`load_dataset` (``"iris"``, ``"digits"``, ``"wine"``, ``"breast_cancer"``, ``"mnist"`` or
``"mnist:PATH"``); :func:`validation_split` carves validation images out of a training part (for choosing
hyper-parameters without looking at the test part); :func:`read_idx` reads one IDX file of the MNIST family.
"""

from .datasets import DATASETS, Dataset, load_dataset, validation_split
from .idx import read_idx

__all__ = ["load_dataset", "validation_split", "Dataset", "DATASETS", "read_idx"]
