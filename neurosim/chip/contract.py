"""The chip's contract with the code above it: what may be asked of it, and what an execution gives back.

- :class:`WriteRequest`: everything that changes a chip's state. :meth:`neurosim.Chip.apply` is the only way
  anything is written: weight codes go through the memory's one door (``NVMArray.program``: counted, priced,
  wearing), then the cores' digital registers (scales, biases, low-rank corrections) are set.
- :class:`LayerTrace`: what one layer of a traced forward pass leaves for a backward pass, by name.
- :class:`Execution`: what an executor returns for a batch: logits, the traces when asked, and the events the
  batch caused (a :class:`~neurosim.ledger.Ledger` of counts; the chip adds them to its own when the pass counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ledger import Ledger


@dataclass
class WriteRequest:
    """What a trainer (or a user) wants written.

    Attributes
    ----------
    codes : dict of int to ndarray
        Full new weight codes of some analog layers (the whole layer is requested, as a trainer that rewrites its
        quantised weights after every update does; unchanged cells are skipped by read-before-write).
    updates : dict of int to (ndarray, ndarray)
        Sparse requests: flat weight indices into the layer's (fan_in, fan_out) matrix and their new codes (only
        the named weights' cells are requested).
    scales, biases : dict
        New per-layer scales and biases (digital registers, not NVM).
    corrections : dict of int to (ndarray, ndarray) or None
        New per-layer digital low-rank corrections ``(left (fan_in, k), right (k, fan_out))`` in weight units,
        applied by the periphery on top of the stored weights (aux memory, not NVM); ``None`` clears one.
    """

    codes: dict[int, np.ndarray] = field(default_factory=dict)
    updates: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    scales: dict[int, float] = field(default_factory=dict)
    biases: dict[int, np.ndarray] = field(default_factory=dict)
    corrections: dict[int, tuple[np.ndarray, np.ndarray] | None] = field(default_factory=dict)

    @property
    def writes_cells(self) -> bool:
        """Whether the request names weight codes (then it is one program call of the memory, even if empty)."""
        return bool(self.codes or self.updates)

    @property
    def sets_registers(self) -> bool:
        return bool(self.scales or self.biases or self.corrections)

    def __bool__(self) -> bool:
        return bool(self.codes or any(len(i) for i, _ in self.updates.values()) or self.sets_registers)


@dataclass(frozen=True)
class LayerTrace:
    """What layer ``layer`` of a traced forward pass leaves for a backward pass.

    Attributes
    ----------
    layer : int
        Index of the layer in the model.
    input_shape : tuple of int
        Shape of the batch that entered the layer, ``(N, *per-sample shape)``.
    mvm_inputs : ndarray or None
        Analog layers: the MVM input vectors the crossbars saw (DAC-quantised), ``(n_vectors, fan_in)``.
    pre_activation : ndarray or None
        Analog layers: the pre-activations, ``(n_vectors, fan_out)``.
    relu_mask : ndarray or None
        Analog layers with a ReLU: where the pre-activation is positive (None without a ReLU).
    pool_index : ndarray or None
        Max pooling: the argmax within each pooling window.
    """

    layer: int
    input_shape: tuple[int, ...]
    mvm_inputs: np.ndarray | None = None
    pre_activation: np.ndarray | None = None
    relu_mask: np.ndarray | None = None
    pool_index: np.ndarray | None = None


@dataclass(frozen=True)
class Execution:
    """What an executor returns for one batch.

    Attributes
    ----------
    logits : ndarray, shape (N, n_classes)
    traces : list of LayerTrace or None
        One per model layer when a trace was asked for.
    events : Ledger
        Everything the batch caused, counted (conversions, reads, neuron updates, flit-hops, pipeline runs).
    """

    logits: np.ndarray
    traces: list[LayerTrace] | None
    events: Ledger


__all__ = ["WriteRequest", "LayerTrace", "Execution"]
