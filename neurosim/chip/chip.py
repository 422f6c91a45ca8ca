"""The simulated chip: a profile, a mapped model, and the NVM that holds its weights.

``Chip(profile, model)`` maps the model, programs its weights through the memory's one door (counted), and
``forward(x)`` runs inference the way the hardware does: DAC-quantised inputs, an analog MVM per tile on the cells'
*effective* levels (stuck cells, programming noise, drift), ADC quantisation per column, digital shift-add of
slices and partial sums, bias and activation. Every conversion, cell read, neuron update and flit-hop is counted in
the chip's ledger; :meth:`Chip.report` prices them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError, WriteRequestError
from ..ledger import Ledger
from ..mapping.mapper import Mapping, map_model
from ..memory import NVMArray, ProgramResult
from ..nn.model import Model
from ..nn.model_io import load_model
from ..profiles import Profile, load_profile
from . import _kernels
from .accounting import latency_per_inference, record_inference, stage_events, step_latencies
from .converters import LayerConverters, make_converters
from .report import InferenceReport


class Chip:
    """A chip running ``model`` on the hardware described by ``profile``.

    Parameters
    ----------
    profile : Profile or str
        Shipped name, path or Profile.
    model : Model or str
        Shipped model name, path to a model TOML, or a Model.
    seed : int
        Seeds the memory (endurance draws, manufacture faults, programming noise).
    placement : {"optimized", "naive"}
        Placement strategy of tiles on the mesh.
    calibration : array_like, optional
        Inputs used to set narrow converters' ranges (see :mod:`neurosim.chip.converters`).

    Raises
    ------
    MappingError
        When the model does not fit the chip.
    """

    def __init__(self, profile: Profile | str, model: Model | str, *, seed: int = 0, placement: str = "optimized",
                 calibration: Any = None):
        self.profile = load_profile(profile)
        self.model = load_model(model)
        self.mapping: Mapping = map_model(self.model, self.profile, placement)
        self.ledger = Ledger(self.profile.device.levels)
        self.memory = NVMArray(self.mapping.n_cells, self.profile, seed=seed, ledger=self.ledger)
        self._stages = stage_events(self.mapping)
        self._latency = step_latencies(self.profile)
        self._cache_key: tuple | None = None
        self._weights: dict[int, list[np.ndarray]] = {}
        self._sorted = {lt.layer: np.argsort(lt.cell_index.reshape(-1), kind="stable") for lt in self.mapping.tilings}
        self._program_references()
        self.program_codes({lt.layer: self.model.layers[lt.layer].codes for lt in self.mapping.tilings})
        self.programming_ledger = self.ledger.copy()  # events of the initial programming
        bounds = self.model.input_bounds()
        self._converters: dict[int, LayerConverters] = {
            lt.layer: make_converters(lt, self.profile, bounds[lt.layer]) for lt in self.mapping.tilings}
        self.inferences = 0
        if calibration is not None:
            self.calibrate(calibration)

    # ----------------------------------------------------------------------------------------------- writing
    def weight_request(self, codes_by_layer: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The write request (cells, levels) that stores the given weight codes; cells in increasing order.

        Parameters
        ----------
        codes_by_layer : dict of int to ndarray
            Model layer index -> integer codes of that layer's shape.
        """
        cells, levels = [], []
        for index, codes in codes_by_layer.items():
            lt = self._tiling(index)
            codes = np.asarray(codes)
            layer = self.model.layers[index]
            if codes.shape != layer.codes.shape and codes.size != layer.codes.size:
                raise WriteRequestError(f"layer {index}: codes must have shape {layer.codes.shape} "
                                        f"(got {codes.shape})")
            if codes.size and int(np.abs(codes.astype(np.int64)).max()) > lt.max_code:
                raise WriteRequestError(f"layer {index}: codes must lie in [-{lt.max_code}, {lt.max_code}]")
            lv = lt.encoding.encode(codes.reshape(lt.fan_in, lt.fan_out), lt.max_code, self.profile.device.levels)
            order = self._sorted[index]
            cells.append(lt.cell_index.reshape(-1)[order])
            levels.append(lv.reshape(-1)[order])
        return np.concatenate(cells), np.concatenate(levels)

    def program_codes(self, codes_by_layer: dict[int, np.ndarray]) -> ProgramResult:
        """Store new weight codes: one write request through the memory's door (counted, wearing)."""
        return self.apply(*self.weight_request(codes_by_layer))

    def apply(self, cells: np.ndarray, levels: np.ndarray) -> ProgramResult:
        """Apply a write request to the chip's memory (the only path by which weights change)."""
        result = self.memory.program(cells, levels)
        self._cache_key = None
        return result

    def _program_references(self) -> None:
        levels = self.profile.device.levels
        refs = [lt.ref_index.reshape(-1) for lt in self.mapping.tilings if lt.ref_index is not None]
        if refs:
            cells = np.unique(np.concatenate(refs))
            level = self.mapping.tilings[0].encoding.reference_level(levels)
            self.memory.program(cells, np.full(cells.size, level, dtype=np.uint8))

    # ------------------------------------------------------------------------------------------------ reading
    def _tiling(self, index: int):
        try:
            return self.mapping.tiling_of(index)
        except KeyError:
            raise WriteRequestError(f"layer {index} is not an analog layer of model {self.model.name!r}; analog "
                                    f"layers: {[lt.layer for lt in self.mapping.tilings]}") from None

    def effective_weights(self, index: int) -> list[np.ndarray]:
        """Analog value of each slice of layer ``index`` as the crossbar sees it: (fan_in, fan_out) per slice."""
        key = (self.memory.steps, self.memory.clock_s)
        if key != self._cache_key:
            read = self.memory.read()
            levels = self.profile.device.levels
            self._weights = {}
            for lt in self.mapping.tilings:
                cells = read[lt.cell_index]
                ref = None
                if lt.ref_index is not None:
                    cb = np.arange(lt.fan_out) // lt.weights_per_tile
                    ref = read[lt.ref_index][:, cb]
                values = lt.encoding.slice_values(cells, ref, levels)
                self._weights[lt.layer] = [np.ascontiguousarray(values[..., s]) for s in range(lt.layout.slices)]
            self._cache_key = key
        return self._weights[index]

    def stored_codes(self, index: int) -> np.ndarray:
        """The weight codes the chip currently holds for layer ``index`` (decoded from stored levels; stuck cells
        show up here as changed weights)."""
        lt = self._tiling(index)
        stored = self.memory.stored_levels.astype(np.float64)
        ref = None
        if lt.ref_index is not None:
            ref = stored[lt.ref_index][:, np.arange(lt.fan_out) // lt.weights_per_tile]
        codes = lt.encoding.decode(stored[lt.cell_index], ref, lt.max_code, self.profile.device.levels)
        return np.clip(np.rint(codes), -lt.max_code, lt.max_code).astype(np.int64).reshape(
            self.model.layers[index].codes.shape)

    # ---------------------------------------------------------------------------------------------- inference
    def forward(self, x: Any, *, count: bool = True) -> np.ndarray:
        """Logits of the chip for a batch of inputs, counting every event when ``count``.

        Parameters
        ----------
        x : array_like, shape (N, *model.input_shape) or (N, prod(input_shape))
        """
        x = self.model._check_input(x)
        out = self._run(x, observe=None)
        if count:
            record_inference(self.ledger, self._stages, x.shape[0], self._latency)
            self.inferences += x.shape[0]
        return out

    def predict(self, x: Any, *, count: bool = True) -> np.ndarray:
        """Predicted class of each sample."""
        return np.argmax(self.forward(x, count=count), axis=1)

    def calibrate(self, x: Any) -> None:
        """Set narrow converters' ranges from the inputs and partial sums seen on ``x`` (not counted as
        inference: calibration happens once, on the host's side of the test bench)."""
        x = self.model._check_input(x)
        if x.shape[0] == 0:
            raise ModelError("calibration needs at least one sample")
        observed: dict[int, list] = {}
        self._run(x, observe=observed)
        bounds = self.model.input_bounds()
        self._converters = {lt.layer: make_converters(lt, self.profile, bounds[lt.layer], *observed[lt.layer])
                            for lt in self.mapping.tilings}

    def _run(self, x: np.ndarray, observe: dict | None) -> np.ndarray:
        for index, layer in enumerate(self.model.layers):
            x = self._analog(index, layer, x, observe) if layer.analog else layer.forward(x)
        return x

    def _analog(self, index: int, layer: Any, x: np.ndarray, observe: dict | None) -> np.ndarray:
        lt = self.mapping.tiling_of(index)
        conv = self._converters[index]
        rows = layer.rows(x)
        if observe is not None:  # calibration pass: exact inputs, record ranges
            xq = rows
        else:
            xq = np.empty_like(rows)
            _kernels.dac_quantize(np.ascontiguousarray(rows), conv.dac_lo, conv.dac_hi, float(conv.dac_steps), xq)
        weights = self.effective_weights(index)
        acc = np.zeros((rows.shape[0], lt.fan_out))
        base = float(lt.layout.base)
        seen = np.zeros((lt.row_blocks, lt.layout.slices, lt.fan_out)) if observe is not None else None
        for rb in range(lt.row_blocks):
            r = lt.row_range(rb)
            xr = xq[:, r]
            for s, w in enumerate(weights):
                partial = xr @ w[r]
                if seen is not None:
                    seen[rb, s] = np.abs(partial).max(axis=0) if partial.size else 0.0
                    acc += base ** s * partial
                else:
                    _kernels.adc_accumulate(partial, acc, conv.adc_step[rb, s], float(conv.adc_qmin),
                                            float(conv.adc_qmax), base ** s)
        if lt.layout.offset:
            acc -= lt.layout.offset * xq.sum(axis=1, keepdims=True)
        if observe is not None:
            observe[index] = [float(rows.max()) if rows.size else 0.0, seen]
        return layer.finish(acc, x.shape)

    # ------------------------------------------------------------------------------------------------ reports
    @property
    def latency_s(self) -> float:
        """Seconds for one sample through the pipeline (first input to its logits)."""
        return latency_per_inference(self._stages, self._latency)

    def report(self, accuracy: float | None = None, reference_accuracy: float | None = None) -> InferenceReport:
        """Energy, latency, power and utilisation of the inferences run so far (programming excluded)."""
        return InferenceReport.of(self, accuracy=accuracy, reference_accuracy=reference_accuracy)

    def __repr__(self) -> str:
        return (f"Chip(profile={self.profile.name!r}, model={self.model.name!r}, tiles={self.mapping.n_tiles}, "
                f"cores={self.mapping.placement.n_cores})")
