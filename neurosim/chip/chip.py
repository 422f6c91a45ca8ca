"""The simulated chip: a profile, a mapped model, the NVM that holds its weights, its registers and an executor.

``Chip(profile, model)`` maps the model, programs its weights through the memory's one door (counted), and runs
it with an executor from the registry (``"analog"`` by default: DAC-quantised inputs, an MVM per tile on the
cells' effective levels, ADCs, digital shift-add, activation). Every event an execution causes is counted in the
chip's ledger; :meth:`Chip.report` returns an inference report that prices them when read.

:meth:`Chip.apply` is the only way anything is written: weight codes through ``memory.program`` (the one door),
then the digital registers. Trainers never call it: the training loop does.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as MappingType
from typing import Any

import numpy as np

from ..errors import ModelError
from ..ledger import Ledger, stage_times
from ..mapping.mapper import Mapping, map_model
from ..memory import NVMArray, ProgramResult
from ..nn.model import Model
from ..nn.model_io import load_model
from ..profiles import Profile, load_profile
from ..record import InferenceReport, profile_entry
from .contract import LayerTrace, WriteRequest
from .executors import Executor, make_executor
from .held import HeldState
from .registers import Registers
from .requests import RequestEncoder
from .wear import LogicalCells, WearLevelling, WriteBudget

DEFAULT_EXECUTOR = "analog"


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
        Inputs used to set the executor's periphery (narrow converters' ranges for ``analog``).
    executor : str
        A registered executor (``neurosim.chip.EXECUTORS``).
    executor_options : mapping, optional
        Settings the executor declares (e.g. ``{"timesteps": 64}`` for ``spiking``); checked, defaults filled.

    Attributes
    ----------
    memory : NVMArray
        The cells (read-only for everything but :meth:`apply`).
    ledger : Ledger
        Every event counted on this chip (programming, writes, executions).
    programming_ledger : Ledger
        The events of the initial programming (a snapshot).
    held : HeldState
        What the chip holds, read-only: decoded weights and registers.
    executor : Executor

    Raises
    ------
    MappingError
        When the model does not fit the chip.
    ExecutorError
        For an unknown executor, or a model it cannot run.

    Notes
    -----
    A chip is not thread-safe: its executor reuses work arrays between calls and splits large batches over the
    cores itself (``NEUROSIM_NUM_THREADS``), so call one chip from one thread at a time (use one chip per thread).
    """

    def __init__(self, profile: Profile | str, model: Model | str, *, seed: int = 0, placement: str = "optimized",
                 calibration: Any = None, executor: str = DEFAULT_EXECUTOR,
                 executor_options: MappingType[str, Any] | None = None):
        self.profile = load_profile(profile)
        self.model = load_model(model)
        self.mapping: Mapping = map_model(self.model, self.profile, placement)
        self.executor: Executor = make_executor(executor, self.mapping, seed=seed, options=executor_options)
        self.ledger = Ledger(self.profile.device.levels)
        self.ledger.declare_stages(self.executor.stages())
        self.ledger.declare_static(cores=self.mapping.placement.n_cores)  # cores in use leak; the others are off
        self.memory = NVMArray(self.mapping.n_cells, self.profile, seed=seed, ledger=self.ledger)
        self.registers = Registers(self.mapping)
        # the write controller's row map: only with a levelling policy (without one, reads go straight to cells)
        self.wear: WearLevelling | None = None
        cells = self.memory
        if self.profile.write_policy.wear_levelling != "none":
            self.wear = WearLevelling(self.memory, self.mapping)
            cells = LogicalCells(self.memory, self.wear)
        self.budget: WriteBudget | None = None
        self.held = HeldState(cells, self.mapping, self.registers)
        self._encoder = RequestEncoder(self.held)
        self._program_references()
        self._levelling = False  # the initial programming is not an update step of the controller
        self.apply(WriteRequest(codes={lt.layer: self.model.layers[lt.layer].codes for lt in self.mapping.tilings}))
        self._levelling = self.wear is not None
        self.executor.record_reference(self.held)  # what the fresh chip reads (drift compensation's reference)
        self.programming_ledger = self.ledger.copy()  # events of the initial programming
        self.inferences = 0
        if calibration is not None:
            self.calibrate(calibration)

    # ------------------------------------------------------------------------------------------------ writing
    def apply(self, request: WriteRequest) -> ProgramResult | None:
        """Apply a write request: the one door for every write.

        Register values are checked first, then the weight codes are encoded and programmed through
        ``memory.program`` (one program call, one update step, whenever the request names codes), then the
        registers are set. A bad request raises :class:`~neurosim.errors.WriteRequestError` and changes nothing.

        Returns
        -------
        ProgramResult or None
            What the memory did (None when the request names no weight codes).
        """
        if not isinstance(request, WriteRequest):
            raise TypeError(f"Chip.apply takes a WriteRequest (got {type(request).__name__})")
        registers = self.registers.checked(request.scales, request.biases, request.corrections)
        result = None
        if request.writes_cells:
            cells, levels = self._encoder.encode(request.codes, request.updates)
            if self.wear is not None:  # logical cells -> the physical cells that hold them now
                cells, levels = self.wear.physical_request(cells, levels)
            if self.budget is not None:
                cells, levels = self.budget.enforce(cells, levels)
            result = self.memory.program(cells, levels)  # the memory's version keys every cache of stored state
        self.registers.commit(*registers)
        if result is not None and self._levelling:
            self.wear.after_step(self.budget)
        return result

    def set_write_budget(self, budget: int | None) -> None:
        """Let every cell take at most ``budget`` more writes (None: no budget). Requests beyond it are refused at
        the door, a weight's change whole (see :class:`~neurosim.chip.wear.WriteBudget`): the cells keep their
        levels and the refusals are counted (:attr:`refused_writes`); wear-levelling moves that would go over it
        are not made."""
        if budget is None:
            self.budget = None
            return
        layer_of, index_of = self.held.owners  # a chip-wide id per weight (-1: a cell holding none)
        stride = 1 + max(lt.fan_in * lt.fan_out for lt in self.mapping.tilings)
        weight_of = np.where(layer_of >= 0, layer_of.astype(np.int64) * stride + index_of, -1)
        p2l = None if self.wear is None else (lambda cells: self.wear.p2l[cells])
        self.budget = WriteBudget(self.memory, budget, weight_of=weight_of, p2l=p2l)

    @property
    def refused_writes(self) -> int:
        """Cell writes refused by the write budget so far."""
        return 0 if self.budget is None else self.budget.refused

    def remaining_writes(self, index: int) -> np.ndarray:
        """Writes left to each weight of analog layer ``index`` before one of its cells reaches its limit,
        (fan_in, fan_out) int64: the write budget's remaining writes when one is set, else the profile's median
        endurance less the writes so far (what a controller knowing its write counts can tell; cells' own
        endurance draws are not known on a chip). Stuck cells count as 0."""
        lt = self.held.tiling(index)
        cells = lt.cell_index.reshape(lt.fan_in, lt.fan_out, -1)
        physical = cells if self.wear is None else self.wear.l2p[cells]
        if self.budget is not None:
            left = self.budget.remaining(physical)
        else:
            left = int(self.profile.device.endurance_cycles) - self.memory.writes_at(physical)
        left = np.where(self.memory.stuck_at(physical), 0, np.maximum(left, 0))
        return left.min(axis=2)

    def program_codes(self, codes_by_layer: dict[int, np.ndarray]) -> ProgramResult | None:
        """Store new weight codes of whole layers: ``apply(WriteRequest(codes=codes_by_layer))``."""
        return self.apply(WriteRequest(codes=dict(codes_by_layer)))

    def _program_references(self) -> None:
        # reference columns (reference_column encoding) are part of the chip's construction, not of a request
        refs = [lt.ref_index.reshape(-1) for lt in self.mapping.tilings if lt.ref_index is not None]
        if refs:
            cells = np.unique(np.concatenate(refs))
            level = self.mapping.tilings[0].encoding.reference_level(self.profile.device.levels)
            self.memory.program(cells, np.full(cells.size, level, dtype=np.uint8))

    # ------------------------------------------------------------------------------------------------ reading
    def analog_layers(self) -> list[int]:
        """Indices of the layers stored in crossbars."""
        return self.held.analog_layers()

    def stored_codes(self, index: int) -> np.ndarray:
        """The weight codes the chip holds for layer ``index`` (stuck cells show up as changed weights)."""
        return self.held.codes(index)

    @property
    def scales(self) -> MappingType[int, float]:
        return self.registers.scales

    @property
    def biases(self) -> MappingType[int, np.ndarray]:
        return self.registers.biases

    @property
    def corrections(self) -> MappingType[int, tuple[np.ndarray, np.ndarray]]:
        return self.registers.corrections

    # ---------------------------------------------------------------------------------------------- execution
    def forward(self, x: Any, *, count: bool = True) -> np.ndarray:
        """Logits of the chip for a batch of inputs, counting every event when ``count``.

        Parameters
        ----------
        x : array_like, shape (N, *model.input_shape) or (N, prod(input_shape))
        """
        x = self.model.check_input(x)
        execution = self.executor.run(self.held, x)
        if count:
            self._count(execution.events, x.shape[0])
        return execution.logits

    def trace(self, x: Any, *, count: bool = True) -> tuple[np.ndarray, list[LayerTrace]]:
        """Logits and, per layer, a :class:`~neurosim.chip.contract.LayerTrace` for a backward pass."""
        x = self.model.check_input(x)
        execution = self.executor.run(self.held, x, trace=True)
        if count:
            self._count(execution.events, x.shape[0])
        return execution.logits, execution.traces

    def predict(self, x: Any, *, count: bool = True) -> np.ndarray:
        """Predicted class of each sample."""
        return np.argmax(self.forward(x, count=count), axis=1)

    def count_backward(self, batch: int, above: int) -> None:
        """Count ``batch`` samples' errors carried down through every layer after layer ``above`` (the executor
        says what that costs; for ``analog``, the transposed MVMs)."""
        self.ledger.merge(self.executor.backward_events(self.held, batch, above))

    def calibrate(self, x: Any) -> None:
        """Set the executor's periphery from inputs ``x`` (not counted as inference: calibration happens once, on
        the host's side of the test bench)."""
        x = self.model.check_input(x)
        if x.shape[0] == 0:
            raise ModelError("calibration needs at least one sample")
        self.executor.calibrate(self.held, x)

    def age(self, seconds: float) -> None:
        """Let ``seconds`` of simulated wall-clock time pass: stored conductances drift as the profile says
        (``device.drift_nu``, ``drift_t0_s``); nothing is counted (time passing is not an event)."""
        self.memory.advance(seconds)

    def compensate_drift(self) -> None:
        """Measure the drift of every layer against the freshly programmed chip and correct for it in the
        periphery (global drift compensation; the measurement reads are counted)."""
        self.ledger.merge(self.executor.compensate_drift(self.held))

    def _count(self, events: Ledger, batch: int) -> None:
        self.ledger.merge(events)
        self.inferences += batch

    # ------------------------------------------------------------------------------------------------ reports
    @property
    def latency_s(self) -> float:
        """Seconds for one sample through the pipeline (first input to its logits)."""
        return sum(stage_times(self.ledger, self.profile).values())

    def evaluate(self, x: np.ndarray, y: np.ndarray, *, batch: int = 256,
                 progress: Callable[[int, int], None] | None = None,
                 predictions: list | None = None) -> InferenceReport:
        """Infer ``x`` in forward calls of ``batch`` samples; the report of every inference so far with the
        accuracy against ``y`` and the reference model's (exact, float) accuracy on the same samples.

        Parameters
        ----------
        progress : callable, optional
            Called after every forward call with (samples done, samples in all).
        predictions : list, optional
            Receives the predicted classes (one array), for callers that compare them.
        """
        y = np.asarray(y)
        n = len(x)
        batches = []
        for start in range(0, n, batch):
            batches.append(self.predict(x[start: start + batch]))
            if progress is not None:
                progress(min(start + batch, n), n)
        predicted = np.concatenate(batches) if batches else np.zeros(0, dtype=int)
        if predictions is not None:
            predictions.append(predicted)
        accuracy = float(np.mean(predicted == y)) if n else None
        reference = float(np.mean(self.model.predict(x) == y)) if n else None
        return self.report(accuracy=accuracy, reference_accuracy=reference)

    def report(self, accuracy: float | None = None, reference_accuracy: float | None = None) -> InferenceReport:
        """Energy, latency, power and utilisation of the inferences run so far (programming and every later write
        excluded), priced from counts when read."""
        events = (self.ledger - self.programming_ledger).without_writes()
        return InferenceReport(profile=profile_entry(self.profile), model=self.model.name,
                               executor=self.executor.name, samples=self.inferences, accuracy=accuracy,
                               reference_accuracy=reference_accuracy, ledger=events.to_dict(),
                               mapping=self.mapping.report(), executor_options=dict(self.executor.settings))

    def __repr__(self) -> str:
        return (f"Chip(profile={self.profile.name!r}, model={self.model.name!r}, executor={self.executor.name!r}, "
                f"tiles={self.mapping.n_tiles}, cores={self.mapping.placement.n_cores})")


__all__ = ["Chip", "DEFAULT_EXECUTOR"]
