"""What a chip holds, read-only: its weights decoded from the memory, and its digital registers.

This is what an executor and a trainer's view see. Reads are state queries of the simulator, never counted here:
a read on the chip is counted by whoever performs it (an executor's MVMs). Decoded values are cached until the
memory changes (its ``version`` moves on every write, drift or clock step).

Modelling choice (documented here because it changes numbers): *IR drop*, first order. A cell at row r, column c
of its tile sees its read voltage reduced by the wire between it and the circuits: c + 1 word-line segments from
the row driver and rows - r bit-line segments down to the column's sense circuit, each segment of resistance
``crossbar.wire_segment_ohm``. A cell at level l conducts G(l) = G_on l / (L - 1) (off-state current neglected) and
passes ``1 / (1 + G(l) R_path)`` of its ideal current: larger crossbars and lower-resistance cells lose more.
Other cells' currents on the same wires (sneak and loading) are not modelled.
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
        self._level_counts: dict[int, tuple[int, np.ndarray]] = {}
        self._ir = self._ir_drop_paths()

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
                cells = read[lt.cell_index]
                ref = None
                if lt.ref_index is not None:
                    ref = read[lt.ref_index]
                if self._ir is not None:
                    g_step, paths = self._ir
                    cells = cells / (1.0 + g_step * cells * paths[lt.layer][0])
                    if ref is not None:
                        ref = ref / (1.0 + g_step * ref * paths[lt.layer][1])
                if ref is not None:
                    ref = ref[:, np.arange(lt.fan_out) // lt.weights_per_tile]
                values = lt.encoding.slice_values(cells, ref, levels)
                self._slices[lt.layer] = [np.ascontiguousarray(values[..., s]) for s in range(lt.layout.slices)]
            self._slices_version = version
        return self._slices[index]

    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the memory is written (or ages) or a register is set: a key for caches of anything
        derived from what the chip holds."""
        return (self._memory.version, self._registers.version)

    def effective_weights(self, index: int) -> np.ndarray:
        """The weights of layer ``index`` as the crossbar's cells realise them, as one float (fan_in, fan_out)
        matrix: ``(sum over slices of base^s x slice - offset) x scale``, what an analog MVM multiplies by
        (stuck cells, programming noise, drift and IR drop included)."""
        lt = self.tiling(index)
        base = float(lt.layout.base)
        acc = sum(base ** s * w for s, w in enumerate(self.slices(index)))
        return (acc - lt.layout.offset) * self.scale(index)

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

    def row_level_counts(self, index: int) -> np.ndarray:
        """Cells of layer ``index`` at each stored level, per logical row (fan_in, levels), int64: the cells one
        driven input row reads (every slice, every column block, and the row's reference cells)."""
        lt = self.tiling(index)
        cached = self._level_counts.get(index)
        if cached is not None and cached[0] == self._memory.version:
            return cached[1]
        stored = self._memory.stored_levels
        levels = self.profile.device.levels
        parts = [stored[lt.cell_index].reshape(lt.fan_in, -1)]
        if lt.ref_index is not None:
            parts.append(stored[lt.ref_index].reshape(lt.fan_in, -1))
        rows = np.arange(lt.fan_in, dtype=np.int64)[:, None] * levels
        counts = np.zeros(lt.fan_in * levels, dtype=np.int64)
        for part in parts:
            counts += np.bincount((rows + part).ravel(), minlength=lt.fan_in * levels)
        counts = counts.reshape(lt.fan_in, levels)
        counts.flags.writeable = False
        self._level_counts[index] = (self._memory.version, counts)
        return counts

    def _ir_drop_paths(self) -> tuple[float, dict[int, tuple[np.ndarray, np.ndarray | None]]] | None:
        """Per layer, the wire resistance (ohm) between each cell (and reference cell) and its circuits; None when
        the profile has no wire resistance or no conductance."""
        profile = self.profile
        segment, g_on = profile.costs.wire_segment_ohm, profile.device.on_conductance_siemens
        if segment <= 0 or g_on <= 0:
            return None
        rows, cols = profile.crossbar.rows, profile.crossbar.cols

        def path(index: np.ndarray) -> np.ndarray:
            offset = index % (rows * cols)
            return segment * ((offset % cols + 1) + (rows - offset // cols))

        paths = {lt.layer: (path(lt.cell_index), None if lt.ref_index is None else path(lt.ref_index))
                 for lt in self.mapping.tilings}
        return g_on / (profile.device.levels - 1), paths

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
