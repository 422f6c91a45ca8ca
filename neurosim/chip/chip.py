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
from ..ledger import FLOAT_BYTES, Ledger, step_latencies
from ..mapping.mapper import Mapping, map_model
from ..memory import NVMArray, ProgramResult
from ..nn.grad_ops import maxpool_forward
from ..nn.layers import activate
from ..nn.model import Model
from ..nn.model_io import load_model
from ..profiles import Profile, load_profile
from . import _kernels
from .accounting import latency_per_inference, record_inference, stage_events
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
        self._cache_key: int | None = None
        self._codes_cache: dict[int, tuple[int, np.ndarray]] = {}
        self._weights: dict[int, list[np.ndarray]] = {}
        self._sorted = {lt.layer: np.argsort(lt.cell_index.reshape(-1), kind="stable") for lt in self.mapping.tilings}
        # per-layer scale and bias live in the cores' digital registers, not in the NVM
        self.scales = {lt.layer: float(self.model.layers[lt.layer].scale) for lt in self.mapping.tilings}
        self.biases = {lt.layer: np.array(self.model.layers[lt.layer].bias, dtype=np.float64)
                       for lt in self.mapping.tilings}
        # optional digital low-rank corrections W_eff = scale * codes + left @ right (weight units), applied by the
        # cores' periphery to every MVM; set by trainers that keep a pending update in aux memory
        self.corrections: dict[int, tuple[np.ndarray, np.ndarray]] = {}
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
    def weight_request(self, codes_by_layer: dict[int, np.ndarray] | None = None,
                       updates: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """The write request (cells, levels) that stores the given weight codes, cells in increasing order.

        Parameters
        ----------
        codes_by_layer : dict of int to ndarray, optional
            Model layer index -> all integer codes of that layer (its shape).
        updates : dict of int to (ndarray, ndarray), optional
            Model layer index -> (flat weight indices into the (fan_in, fan_out) matrix, their new codes); only
            those weights' cells are requested.
        """
        cells, levels = [], []
        for index, codes in (codes_by_layer or {}).items():
            lt = self._tiling(index)
            shape = np.shape(codes)
            if shape not in (self.model.layers[index].codes.shape, (lt.fan_in, lt.fan_out)):
                raise WriteRequestError(f"layer {index}: codes must have shape {self.model.layers[index].codes.shape}"
                                        f" or ({lt.fan_in}, {lt.fan_out}) (got {shape})")
            codes = self._checked_codes(index, codes, self.model.layers[index].codes.size)
            lv = lt.encoding.encode(codes.reshape(lt.fan_in, lt.fan_out), lt.max_code, self.profile.device.levels)
            order = self._sorted[index]
            cells.append(lt.cell_index.reshape(-1)[order])
            levels.append(lv.reshape(-1)[order])
        for index, (flat, codes) in (updates or {}).items():
            lt = self._tiling(index)
            flat = np.asarray(flat, dtype=np.int64).reshape(-1)
            if flat.size and (flat.min() < 0 or flat.max() >= lt.fan_in * lt.fan_out):
                raise WriteRequestError(f"layer {index}: weight indices must be in [0, {lt.fan_in * lt.fan_out})")
            codes = self._checked_codes(index, codes, flat.size)
            lv = lt.encoding.encode(codes, lt.max_code, self.profile.device.levels).reshape(flat.size, -1)
            c = lt.cell_index.reshape(lt.fan_in * lt.fan_out, -1)[flat].reshape(-1)
            order = np.argsort(c, kind="stable")
            cells.append(c[order])
            levels.append(lv.reshape(-1)[order])
        if not cells:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
        return np.concatenate(cells), np.concatenate(levels)

    def _checked_codes(self, index: int, codes: Any, size: int) -> np.ndarray:
        lt = self._tiling(index)
        codes = np.asarray(codes)
        if codes.size != size:
            raise WriteRequestError(f"layer {index}: expected {size} codes (layer shape "
                                    f"{self.model.layers[index].codes.shape}), got shape {codes.shape}")
        if codes.dtype.kind not in "iu":
            raise WriteRequestError(f"layer {index}: codes must be integers (got dtype {codes.dtype})")
        if codes.size and int(np.abs(codes.astype(np.int64)).max()) > lt.max_code:
            raise WriteRequestError(f"layer {index}: codes must lie in [-{lt.max_code}, {lt.max_code}]")
        return codes.reshape(-1)

    def program_codes(self, codes_by_layer: dict[int, np.ndarray]) -> ProgramResult:
        """Store new weight codes: one write request through the memory's door (counted, wearing)."""
        return self.apply(*self.weight_request(codes_by_layer))

    def apply(self, cells: np.ndarray, levels: np.ndarray) -> ProgramResult:
        """Apply a write request to the chip's memory (the only path by which weights change)."""
        return self.memory.program(cells, levels)  # the memory's version keys every cache of stored state

    def _program_references(self) -> None:
        levels = self.profile.device.levels
        refs = [lt.ref_index.reshape(-1) for lt in self.mapping.tilings if lt.ref_index is not None]
        if refs:
            cells = np.unique(np.concatenate(refs))
            level = self.mapping.tilings[0].encoding.reference_level(levels)
            self.apply(cells, np.full(cells.size, level, dtype=np.uint8))

    # ------------------------------------------------------------------------------------------------ reading
    def _tiling(self, index: int):
        try:
            return self.mapping.tiling_of(index)
        except KeyError:
            raise WriteRequestError(f"layer {index} is not an analog layer of model {self.model.name!r}; analog "
                                    f"layers: {[lt.layer for lt in self.mapping.tilings]}") from None

    def effective_weights(self, index: int) -> list[np.ndarray]:
        """Analog value of each slice of layer ``index`` as the crossbar sees it: (fan_in, fan_out) per slice."""
        key = self.memory.version
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
        cached = self._codes_cache.get(index)
        if cached is not None and cached[0] == self.memory.version:
            return cached[1].copy()
        stored = self.memory.stored_levels  # decode() converts the cells it reads to float
        ref = None
        if lt.ref_index is not None:
            ref = stored[lt.ref_index][:, np.arange(lt.fan_out) // lt.weights_per_tile]
        codes = lt.encoding.decode(stored[lt.cell_index], ref, lt.max_code, self.profile.device.levels)
        codes = np.clip(np.rint(codes), -lt.max_code, lt.max_code).astype(np.int64).reshape(
            self.model.layers[index].codes.shape)
        self._codes_cache[index] = (self.memory.version, codes)
        return codes.copy()

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
            self._count_forward(x.shape[0])
        return out

    def trace(self, x: Any, *, count: bool = True) -> tuple[np.ndarray, list]:
        """Logits and, per layer, what a backward pass needs (on-chip training).

        Returns
        -------
        logits : ndarray
        caches : list
            Per layer: analog ``(rows, mask, x_shape, pre)`` with the DAC-quantised MVM inputs, the ReLU mask (None
            without ReLU) and the pre-activations (n_vectors, fan_out); max pooling ``(argmax index, x_shape)``;
            flatten ``x_shape``.
        """
        x = self.model._check_input(x)
        caches: list = []
        out = self._run(x, observe=None, caches=caches)
        if count:
            self._count_forward(x.shape[0])
        return out, caches

    def _count_forward(self, batch: int) -> None:
        record_inference(self.ledger, self._stages, batch, self._latency)
        self._count_corrections(batch, above=-1)
        self.inferences += batch

    def count_transposed_reads(self, batch: int, above: int) -> None:
        """Count ``batch`` transposed MVMs (error back-propagation) through every analog layer after layer
        ``above``: the same conversions, reads and traffic as their forward MVMs."""
        stages = [st for st in self._stages if st.layer > above]
        if stages:
            record_inference(self.ledger, stages, batch, self._latency)
        self._count_corrections(batch, above=above)

    def _count_corrections(self, batch: int, above: int) -> None:
        """Digital work of the low-rank corrections of layers after ``above``: ``k (fan_in + fan_out)`` MACs per
        MVM vector, one read of the factors from aux memory per batch, ``k`` serial neuron steps per vector."""
        for st in self._stages:
            if st.layer not in self.corrections or st.layer <= above or batch <= 0:
                continue
            left, right = self.corrections[st.layer]
            vectors = batch * st.vectors
            size = left.size + right.size
            self.ledger.add(neuron_updates=vectors * size, aux_bytes_read=FLOAT_BYTES * size)
            self.ledger.add_steps(neuron=vectors * left.shape[1])

    def set_registers(self, scales: dict[int, float] | None = None, biases: dict[int, np.ndarray] | None = None,
                      corrections: dict[int, Any] | None = None) -> None:
        """Set per-layer digital state held outside the NVM (no cell writes): scales, biases, and low-rank
        corrections ``(left (fan_in, k), right (k, fan_out))`` in weight units, or ``None`` to clear one."""
        for index, value in (scales or {}).items():
            self._tiling(index)
            if not (np.isfinite(value) and value > 0):
                raise WriteRequestError(f"layer {index}: scale must be a finite number > 0 (got {value!r})")
            self.scales[index] = float(value)
        for index, value in (biases or {}).items():
            lt = self._tiling(index)
            arr = np.asarray(value, dtype=np.float64).reshape(-1)
            if arr.shape != (lt.fan_out,) or not np.all(np.isfinite(arr)):
                raise WriteRequestError(f"layer {index}: bias must be {lt.fan_out} finite values")
            self.biases[index] = arr.copy()
        for index, value in (corrections or {}).items():
            lt = self._tiling(index)
            if value is None:
                self.corrections.pop(index, None)
                continue
            left, right = _checked_correction(index, value, lt.fan_in, lt.fan_out)
            if left.shape[1] == 0:
                self.corrections.pop(index, None)
            else:
                self.corrections[index] = (left, right)

    def correction_matrix(self, index: int) -> np.ndarray | None:
        """The layer's digital correction ``left @ right`` (fan_in, fan_out) in weight units, or None."""
        if index not in self.corrections:
            return None
        left, right = self.corrections[index]
        return left @ right

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

    def _run(self, x: np.ndarray, observe: dict | None, caches: list | None = None) -> np.ndarray:
        for index, layer in enumerate(self.model.layers):
            if layer.analog:
                x = self._analog(index, layer, x, observe, caches)
            elif caches is not None and layer.kind == "maxpool2d":
                pooled, idx = maxpool_forward(x, layer.size)
                caches.append((idx, x.shape))
                x = pooled
            else:
                if caches is not None:
                    caches.append(x.shape)
                x = layer.forward(x)
        return x

    def _analog(self, index: int, layer: Any, x: np.ndarray, observe: dict | None,
                caches: list | None = None) -> np.ndarray:
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
        pre = acc * self.scales[index] + self.biases[index]
        if index in self.corrections:
            left, right = self.corrections[index]
            pre += (xq @ left) @ right
        out = activate(pre, layer.activation)
        if caches is not None:
            caches.append((xq, pre > 0 if layer.activation == "relu" else None, x.shape, pre))
        return out.reshape(x.shape[0], *layer.output_shape(tuple(x.shape[1:])))

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


def _checked_correction(index: int, value: Any, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate a low-rank correction ``(left, right)`` of layer ``index``; returns float64 copies."""
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
    return left, right
