"""What a chip holds, read-only: its weights decoded from the memory, and its digital registers.

This is what an executor and a trainer's view see. Reads are state queries of the simulator, never counted here:
a read on the chip is counted by whoever performs it (an executor's MVMs). Decoded values are cached until the
memory changes (its ``version`` moves on every write, drift or clock step).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType

import numpy as np

from ..errors import WriteRequestError
from ..mapping.mapper import Mapping
from ..mapping.tiling import LayerTiling
from ..memory import NVMArray
from ..nn.model import Model
from ..profiles import Profile
from .registers import Registers


class HeldState:
    """Read-only access to a chip's stored weights and registers.

    Parameters
    ----------
    memory : NVMArray
        The cells (read through :meth:`NVMArray.read` and ``stored_levels`` only).
    mapping : Mapping
        Which cells hold which weight.
    registers : Registers
    """

    def __init__(self, memory: NVMArray, mapping: Mapping, registers: Registers):
        self._memory = memory
        self.mapping = mapping
        self._registers = registers
        self._slices_version: int | None = None
        self._slices: dict[int, list[np.ndarray]] = {}
        self._codes: dict[int, tuple[int, np.ndarray]] = {}

    @property
    def model(self) -> Model:
        return self.mapping.model

    @property
    def profile(self) -> Profile:
        return self.mapping.profile

    def analog_layers(self) -> list[int]:
        """Indices of the layers stored in crossbars, in order."""
        return [lt.layer for lt in self.mapping.tilings]

    def tiling(self, index: int) -> LayerTiling:
        """The tiling of analog layer ``index`` (raises :class:`WriteRequestError` naming the analog layers)."""
        try:
            return self.mapping.tiling_of(index)
        except KeyError:
            raise WriteRequestError(f"layer {index!r} is not an analog layer of model {self.model.name!r}; analog "
                                    f"layers: {self.analog_layers()}") from None

    # ------------------------------------------------------------------------------------------------ weights
    def slices(self, index: int) -> list[np.ndarray]:
        """Analog value of each slice of layer ``index`` as the crossbar sees it: one (fan_in, fan_out) array per
        slice, from the cells' *effective* levels (stuck cells, programming noise, drift)."""
        version = self._memory.version
        if version != self._slices_version:
            read = self._memory.read()
            levels = self.profile.device.levels
            self._slices = {}
            for lt in self.mapping.tilings:
                ref = None
                if lt.ref_index is not None:
                    ref = read[lt.ref_index][:, np.arange(lt.fan_out) // lt.weights_per_tile]
                values = lt.encoding.slice_values(read[lt.cell_index], ref, levels)
                self._slices[lt.layer] = [np.ascontiguousarray(values[..., s]) for s in range(lt.layout.slices)]
            self._slices_version = version
        return self._slices[index]

    def codes(self, index: int) -> np.ndarray:
        """The weight codes the chip holds for layer ``index`` (a fresh int64 array of the layer's shape),
        decoded from the stored levels: stuck cells show up here as changed weights."""
        lt = self.tiling(index)
        cached = self._codes.get(index)
        if cached is not None and cached[0] == self._memory.version:
            return cached[1].copy()
        stored = self._memory.stored_levels  # decode() converts the cells it reads to float
        ref = None
        if lt.ref_index is not None:
            ref = stored[lt.ref_index][:, np.arange(lt.fan_out) // lt.weights_per_tile]
        codes = lt.encoding.decode(stored[lt.cell_index], ref, lt.max_code, self.profile.device.levels)
        codes = np.clip(np.rint(codes), -lt.max_code, lt.max_code).astype(np.int64).reshape(
            self.model.layers[index].codes.shape)
        self._codes[index] = (self._memory.version, codes)
        return codes.copy()

    # ---------------------------------------------------------------------------------------------- registers
    def scale(self, index: int) -> float:
        self.tiling(index)
        return self._registers.scales[index]

    def bias(self, index: int) -> np.ndarray:
        """The layer's bias register (read-only array)."""
        self.tiling(index)
        return self._registers.biases[index]

    def correction(self, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The layer's low-rank correction ``(left, right)`` (read-only arrays), or None."""
        return self._registers.corrections.get(index)

    @property
    def corrections(self) -> MappingType[int, tuple[np.ndarray, np.ndarray]]:
        return self._registers.corrections

    def correction_matrix(self, index: int) -> np.ndarray | None:
        return self._registers.correction_matrix(index)


__all__ = ["HeldState"]
