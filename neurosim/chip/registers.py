"""The cores' digital registers: per-layer scale and bias, and optional low-rank corrections.

They live outside the NVM (no cell writes): a write request sets them after its weight codes are programmed.
Values are checked before anything is written, so a bad request changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import WriteRequestError
from ..mapping.mapper import Mapping as ChipMapping


class Registers:
    """Scales, biases and corrections of every analog layer of a mapping (read-only views for readers)."""

    def __init__(self, mapping: ChipMapping):
        model = mapping.model
        self._fans = {lt.layer: (lt.fan_in, lt.fan_out) for lt in mapping.tilings}
        self._model_name = model.name
        self._scales = {i: float(model.layers[i].scale) for i in self._fans}
        self._biases = {i: _frozen(np.array(model.layers[i].bias, dtype=np.float64)) for i in self._fans}
        # optional digital low-rank corrections W_eff = scale * codes + left @ right (weight units), applied by the
        # cores' periphery to every MVM; set by trainers that keep a pending update in aux memory
        self._corrections: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.version = 0  # counts commits: a key for caches of anything derived from the registers

    # ---------------------------------------------------------------------------------------------- reading
    @property
    def scales(self) -> Mapping[int, float]:
        return MappingProxyType(self._scales)

    @property
    def biases(self) -> Mapping[int, np.ndarray]:
        return MappingProxyType(self._biases)

    @property
    def corrections(self) -> Mapping[int, tuple[np.ndarray, np.ndarray]]:
        return MappingProxyType(self._corrections)

    def correction_matrix(self, index: int) -> np.ndarray | None:
        """The layer's digital correction ``left @ right`` (fan_in, fan_out) in weight units, or None."""
        if index not in self._corrections:
            return None
        left, right = self._corrections[index]
        return left @ right

    # ---------------------------------------------------------------------------------------------- writing
    def checked(self, scales: dict[int, Any], biases: dict[int, Any],
                corrections: dict[int, Any]) -> tuple[dict, dict, dict]:
        """Validated copies of new register values (raises :class:`WriteRequestError`; changes nothing)."""
        new_scales, new_biases, new_corr = {}, {}, {}
        for index, value in scales.items():
            self._fan(index)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not (np.isfinite(value) and value > 0):
                raise WriteRequestError(f"layer {index}: scale must be a finite number > 0 (got {value!r})")
            new_scales[index] = float(value)
        for index, value in biases.items():
            _, fan_out = self._fan(index)
            try:
                arr = np.array(value, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise WriteRequestError(f"layer {index}: bias must be {fan_out} finite numbers") from None
            if arr.shape != (fan_out,) or not np.all(np.isfinite(arr)):
                raise WriteRequestError(f"layer {index}: bias must be {fan_out} finite values")
            new_biases[index] = _frozen(arr)
        for index, value in corrections.items():
            fan_in, fan_out = self._fan(index)
            new_corr[index] = None if value is None else _checked_correction(index, value, fan_in, fan_out)
        return new_scales, new_biases, new_corr

    def commit(self, scales: dict, biases: dict, corrections: dict) -> None:
        """Store values returned by :meth:`checked` (a correction of rank 0, or None, clears the layer's)."""
        if scales or biases or corrections:
            self.version += 1
        self._scales.update(scales)
        self._biases.update(biases)
        for index, value in corrections.items():
            if value is None or value[0].shape[1] == 0:
                self._corrections.pop(index, None)
            else:
                self._corrections[index] = value

    def _fan(self, index: int) -> tuple[int, int]:
        try:
            return self._fans[index]
        except (KeyError, TypeError):
            raise WriteRequestError(f"layer {index!r} is not an analog layer of model {self._model_name!r}; "
                                    f"analog layers: {sorted(self._fans)}") from None


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _checked_correction(index: int, value: Any, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate a low-rank correction ``(left, right)`` of layer ``index``; returns read-only float64 copies."""
    where = f"layer {index}: correction"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise WriteRequestError(f"{where} must be a pair (left, right) or None (got {type(value).__name__})")
    try:
        left, right = (np.array(v, dtype=np.float64) for v in value)
    except (TypeError, ValueError) as exc:
        raise WriteRequestError(f"{where} must hold numeric arrays ({exc})") from None
    if left.ndim != 2 or right.ndim != 2 or left.shape[0] != fan_in or right.shape[1] != fan_out \
            or left.shape[1] != right.shape[0]:
        raise WriteRequestError(f"{where} must be (fan_in={fan_in}, k) and (k, fan_out={fan_out}) matrices "
                                f"(got {left.shape} and {right.shape})")
    if not (np.all(np.isfinite(left)) and np.all(np.isfinite(right))):
        raise WriteRequestError(f"{where} must be finite")
    return _frozen(left), _frozen(right)


__all__ = ["Registers"]
