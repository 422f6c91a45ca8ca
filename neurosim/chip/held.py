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
    memory : NVMArray or LogicalCells
        The cells (read through ``read``, ``stored_at``, ``changes_at`` and ``version`` only), or, under wear
        levelling, the chip's logical view of them (:class:`~neurosim.chip.wear.LogicalCells`).
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
        self._ir_at: int | None = None  # the map version the IR-drop paths were worked out for
        self._ir_paths = None
        self._owner = cell_owners(mapping, memory.n_cells)
        self._change_memo: tuple[int | None, dict | None] = (None, None)

    # ------------------------------------------------------------------------------------- incremental caches
    def _changed_weights(self, cached_version: int | None) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]
                                                                    ] | None:
        """What one write changed since ``cached_version``, per layer: ``{layer: (weights, cells, levels
        before)}`` (flat (fan_in, fan_out) indices of the weights with a changed cell, the changed cells and what
        they held). None when a cache must be rebuilt instead: it is older than the last step, the step was not a
        single program call, or it touched a reference cell (which every weight of its row reads)."""
        version = self._memory.version
        if cached_version is None or cached_version != version - 1:
            return None
        if self._change_memo[0] != version:  # three caches ask after each write: work it out once
            self._change_memo = (version, self._weights_changed_at(version))
        return self._change_memo[1]

    def _weights_changed_at(self, version: int) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
        change = self._memory.changes_at(version)
        if change is None:
            return None
        cells, before = change
        layer_of, weight_of = self._owner
        layers = layer_of[cells]
        if layers.size and layers.min() < -1:  # a reference cell
            return None
        out = {}
        for lt in self.mapping.tilings:
            mine = layers == lt.layer
            if mine.any():
                out[lt.layer] = (np.unique(weight_of[cells[mine]]), cells[mine], before[mine])
        return out

    @property
    def owners(self) -> tuple[np.ndarray, np.ndarray]:
        """Per (logical) cell: its layer (-1: none, -2: a reference cell) and its weight's flat index in that layer
        (read-only; see :func:`cell_owners`)."""
        return self._owner

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
            changed = self._changed_weights(self._slices_version)
            if changed is None:
                read = self._memory.read()
                self._slices = {lt.layer: self._slice_arrays(lt, read) for lt in self.mapping.tilings}
            else:  # one write since: recompute the weights it touched (the arrays are updated in place)
                for layer, (weights, _, _) in changed.items():
                    lt = self.mapping.tiling_of(layer)
                    values = self._slice_values_of(lt, weights)
                    for s, arr in enumerate(self._slices[layer]):
                        arr.reshape(-1)[weights] = values[:, s]
            self._slices_version = version
        return self._slices[index]

    def _slice_arrays(self, lt: LayerTiling, read: np.ndarray) -> list[np.ndarray]:
        """Every slice value of layer ``lt`` from the effective levels ``read`` of every cell."""
        cells = read[lt.cell_index]
        ref = None if lt.ref_index is None else read[lt.ref_index]
        cells, ref = self._after_ir_drop(lt, cells, ref, None)
        if ref is not None:
            ref = ref[:, np.arange(lt.fan_out) // lt.weights_per_tile]
        values = lt.encoding.slice_values(cells, ref, self.profile.device.levels)
        return [np.ascontiguousarray(values[..., s]) for s in range(lt.layout.slices)]

    def _slice_values_of(self, lt: LayerTiling, weights: np.ndarray) -> np.ndarray:
        """Slice values (len(weights), slices) of the flat weights ``weights`` of layer ``lt``, reading only
        their cells."""
        cell_index = lt.cell_index.reshape(lt.fan_in * lt.fan_out, lt.layout.slices, -1)[weights]
        cells = self._memory.read(cell_index)
        ref = None
        if lt.ref_index is not None:
            ref_index = lt.ref_index[weights // lt.fan_out, (weights % lt.fan_out) // lt.weights_per_tile]
            ref = self._memory.read(ref_index)
        cells, ref = self._after_ir_drop(lt, cells, ref, weights)
        return lt.encoding.slice_values(cells, ref, self.profile.device.levels)

    def _after_ir_drop(self, lt: LayerTiling, cells: np.ndarray, ref: np.ndarray | None,
                       weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Effective levels as the periphery sees them through the wires (all of the layer's cells, or those of
        ``weights``)."""
        ir = self._ir
        if ir is None:
            return cells, ref
        g_step, paths = ir
        cell_path, ref_path = paths[lt.layer]
        if weights is not None:
            cell_path = cell_path.reshape(lt.fan_in * lt.fan_out, lt.layout.slices, -1)[weights]
            if ref_path is not None:
                ref_path = ref_path[weights // lt.fan_out, (weights % lt.fan_out) // lt.weights_per_tile]
        cells = cells / (1.0 + g_step * cells * cell_path)
        if ref is not None:
            ref = ref / (1.0 + g_step * ref * ref_path)
        return cells, ref

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
        version = self._memory.version
        cached = self._codes.get(index)
        if cached is not None and cached[0] != version:
            changed = self._changed_weights(cached[0])
            if changed is not None:  # one write since: decode only the weights it touched
                codes = cached[1]
                if index in changed:
                    weights = changed[index][0]
                    codes.reshape(-1)[weights] = self._decode(lt, weights)
                cached = (version, codes)
                self._codes[index] = cached
        if cached is not None and cached[0] == version:
            return cached[1].copy()
        codes = self._decode(lt, None).reshape(self.model.layers[index].codes.shape)
        self._codes[index] = (version, codes)
        return codes.copy()

    def _decode(self, lt: LayerTiling, weights: np.ndarray | None) -> np.ndarray:
        """Codes (int64) decoded from the stored levels: every weight of the layer (fan_in, fan_out), or the flat
        weights ``weights``."""
        stored = self._memory.stored_at  # decode() converts the cells it reads to float
        if weights is None:
            cells = stored(lt.cell_index)
            ref = None if lt.ref_index is None else stored(lt.ref_index)[:, np.arange(lt.fan_out)
                                                                        // lt.weights_per_tile]
        else:
            cells = stored(lt.cell_index.reshape(lt.fan_in * lt.fan_out, lt.layout.slices, -1)[weights])
            ref = None if lt.ref_index is None else stored(
                lt.ref_index[weights // lt.fan_out, (weights % lt.fan_out) // lt.weights_per_tile])
        codes = lt.encoding.decode(cells, ref, lt.max_code, self.profile.device.levels)
        return np.clip(np.rint(codes), -lt.max_code, lt.max_code).astype(np.int64)

    def row_level_counts(self, index: int) -> np.ndarray:
        """Cells of layer ``index`` at each stored level, per logical row (fan_in, levels), int64: the cells one
        driven input row reads (every slice, every column block, and the row's reference cells)."""
        lt = self.tiling(index)
        version = self._memory.version
        cached = self._level_counts.get(index)
        if cached is not None and cached[0] != version:
            changed = self._changed_weights(cached[0])
            if changed is not None:  # one write since: move its cells from the level they held to the one they hold
                counts = cached[1]
                if index in changed:
                    weights, cells, before = changed[index]
                    levels = self.profile.device.levels
                    slot = (self._owner[1][cells] // lt.fan_out) * levels
                    now = self._memory.stored_at(cells)
                    delta = (np.bincount(slot + now, minlength=lt.fan_in * levels)
                             - np.bincount(slot + before, minlength=lt.fan_in * levels))
                    counts = counts + delta.reshape(lt.fan_in, levels)
                    counts.flags.writeable = False
                cached = (version, counts)
                self._level_counts[index] = cached
        if cached is not None and cached[0] == version:
            return cached[1]
        stored = self._memory.stored_at
        levels = self.profile.device.levels
        parts = [stored(lt.cell_index).reshape(lt.fan_in, -1)]
        if lt.ref_index is not None:
            parts.append(stored(lt.ref_index).reshape(lt.fan_in, -1))
        rows = np.arange(lt.fan_in, dtype=np.int64)[:, None] * levels
        counts = np.zeros(lt.fan_in * levels, dtype=np.int64)
        for part in parts:
            counts += np.bincount((rows + part).ravel(), minlength=lt.fan_in * levels)
        counts = counts.reshape(lt.fan_in, levels)
        counts.flags.writeable = False
        self._level_counts[index] = (version, counts)
        return counts

    @property
    def _ir(self) -> tuple[float, dict[int, tuple[np.ndarray, np.ndarray | None]]] | None:
        """The IR-drop paths at the cells' physical positions (worked out again when wear levelling moved rows)."""
        at = getattr(self._memory, "map_version", 0)
        if self._ir_at != at:
            self._ir_paths, self._ir_at = self._ir_drop_paths(), at
        return self._ir_paths

    def _ir_drop_paths(self) -> tuple[float, dict[int, tuple[np.ndarray, np.ndarray | None]]] | None:
        """Per layer, the wire resistance (ohm) between each cell (and reference cell) and its circuits; None when
        the profile has no wire resistance or no conductance."""
        profile = self.profile
        segment, g_on = profile.costs.wire_segment_ohm, profile.device.on_conductance_siemens
        if segment <= 0 or g_on <= 0:
            return None
        rows, cols = profile.crossbar.rows, profile.crossbar.cols

        physical = getattr(self._memory, "physical", None)  # logical -> physical cells under wear levelling

        def path(index: np.ndarray) -> np.ndarray:
            if physical is not None:
                index = physical(index)
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


def cell_owners(mapping: Mapping, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Per memory cell: the analog layer whose weight it stores (-1: none, -2: a reference cell) and that weight's
    flat (fan_in, fan_out) index."""
    layer_of = np.full(n_cells, -1, dtype=np.int32)
    weight_of = np.zeros(n_cells, dtype=np.int64)
    for lt in mapping.tilings:
        cells = lt.cell_index.reshape(lt.fan_in * lt.fan_out, -1)
        layer_of[cells] = lt.layer
        weight_of[cells] = np.arange(lt.fan_in * lt.fan_out, dtype=np.int64)[:, None]
        if lt.ref_index is not None:
            layer_of[lt.ref_index] = -2
    return layer_of, weight_of


__all__ = ["HeldState", "cell_owners"]
