"""The ``lut`` executor: integer-only inference by lookup tables (Baluja et al. 2018, ALGORITHMS.md section 5).

Every analog layer's input activations take one of ``A = activation_levels`` levels, ``lo + k d`` for an index
``k`` in ``0 .. A - 1`` (``d = (hi - lo) / (A - 1)`` over the layer's input range), and its weights are the integer
codes ``c`` the chip holds (``|c| <= m``, value ``c x scale``). A product table per layer holds every product that
can occur, in fixed point: ``T[k, c + m] = round(k d c scale 2**s)``; the layer's integer sums are
``S[n, j] = B[j] + sum_i T[k[n, i], c[i, j]]`` with the bias folded into an integer ``B[j] = round((b[j] + lo scale
sum_i c[i, j]) 2**s)`` (the range's offset ``lo`` times the column sum, so that index 0 stands for no input). The
next layer's index is the number of the layer's integer thresholds ``theta_m = round((lo' + (m - 1/2) d') 2**s)``,
``m = 1 .. A - 1``, that are ``<= S`` (for a ReLU layer ``lo' = 0``: ReLU, rounding and the clip at ``A - 1`` in
one), found by a binary search of integer comparisons. Max pooling takes the integer max of indices (the quantiser
is monotone, so the max of the indices is the index of the max); flatten is a reshape; a convolution unfolds the
index map (im2col keeps integers). The last layer returns its integer sums; only the logits handed back
(``S / 2**s`` as float) leave the integer path, so the prediction is the integer argmax. Between the sensor and
the logits nothing is multiplied, divided or held in floating point: :func:`integer_forward` is that path
(numba kernels in :mod:`neurosim.chip._lut_kernels`, numpy twins in :mod:`neurosim.chip._lut_twins`).

Events (counted, priced later): a lookup per non-zero index and non-zero code (a zero index or code is skipped:
no lookup, no addition), each lookup one integer addition and ``ceil(entry_bits / 8)`` table bytes read (an
accumulator starts from its integer bias: a register load, not an addition); the
comparisons of every threshold search, every max-pool compare (and the ReLU compare of a final ReLU layer) one
integer addition each; the weights' cells read from the crossbar row by row, once per MVM vector for every row
whose input index is not zero (a row read charges its word line once per tile and its used bit lines), counted by
the level each cell holds as the analog executor counts a driven row; activations read from and written to the
cores' buffers at one byte per index (``A <= 256``), the last layer's sums at four bytes; NoC flit-hops and
multiply-accumulates (work, unpriced) of the mapping's closed-form stage events (:mod:`neurosim.chip.accounting`).

Modelling choices (documented here because they change numbers):

- *Shift rule.* The neurons' accumulators are 32-bit (the profile prices a 32-bit integer addition). Per layer,
  ``s`` is the largest integer such that every table entry fits in ``entry_bits`` signed bits, and every sum the
  layer can reach (``|B[j]| + sum_i |T[A - 1, c[i, j]]|``, over its actual codes) and every threshold fits in a
  signed 32-bit word. The kernels compute in int64; the rule makes that a simulation convenience, not a wider
  adder.
- *Activation ranges.* Layer outputs that feed another analog layer are quantised over ``[0, a]`` (ReLU) with ``a``
  the ``percentile`` of the positive outputs seen by :meth:`LutExecutor.calibrate` (a float forward pass of the
  codes, scales and biases the chip holds); outputs without a ReLU use the ``100 - percentile`` and ``percentile``
  points of all outputs. Before any calibration the model's guaranteed (looser) bounds are used
  (:meth:`neurosim.nn.model.Model.input_bounds`). The network's input range is the model's ``input_range``.
- *The sensor.* The one float-to-integer conversion is the sensor's, at the boundary: the input is clipped to the
  input range, taken to a 30-bit fixed-point word and quantised to an index by the same threshold search; neither
  that conversion nor its comparisons are counted.
- *Time.* A stage (one analog layer and the digital layers after it) takes, per sample, one crossbar read per row
  of its tallest tile per MVM vector (tiles read in parallel; row reads are not overlapped with the additions),
  and clock cycles for its additions spread over the ``P`` neurons of the cores its tiles occupy, one addition per
  neuron per cycle: a neuron accumulates one output's lookups over one row block (``R`` rows at most), then one
  neuron per output adds the ``B`` row blocks' partial sums and searches the thresholds (``ceil(log2 A)``
  comparisons), so with ``O = vectors x fan_out`` outputs: ``ceil(O B / P) R + ceil(O / P) (B - 1 +
  comparisons)`` cycles, plus the max-pool compares spread over the same neurons. Time is the worst case (every
  row and code non-zero); energy counts what the data did. NoC steps are the analog stage's.
- *NoC traffic* is the mapping's (activations at the profile's input width, partial sums at the ADC width + 8),
  not re-derived for one-byte indices and 32-bit partial sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..._fields import Rule
from ...errors import ExecutorError
from ...ledger import Ledger
from ...mapping.mapper import Mapping
from ...nn.layers import activate
from .. import _lut_kernels, _lut_twins
from ..accounting import stage_events
from ..contract import Execution, LayerTrace
from ..held import HeldState
from .registry import Executor, ExecutorOption, register_executor

ACC_BITS = 32  # the neurons' integer accumulators (and the biases and thresholds compared with them)
ACC_LIMIT = 2 ** (ACC_BITS - 1) - 1
NEVER = ACC_LIMIT + 1  # a threshold no sum reaches: pads a threshold table to 2**depth - 1 entries
SENSOR_BITS = 30  # the sensor's fixed-point word: |input| < 2**30 units
SHIFT_LIMIT = 62  # |s| beyond this cannot matter: every constrained value then is 0 or out of int64
INDEX_BYTES = 1  # an activation index in the buffers (activation_levels <= 256)


@dataclass(frozen=True)
class LutLayer:
    """The integer form of one analog layer (every array integer; the floats say what the integers mean).

    Attributes
    ----------
    layer : int
        Index of the layer in the model.
    shift : int
        ``s``: a sum ``S`` stands for the value ``S / 2**s``.
    table : ndarray of int64, shape (A, 2 m + 1)
        ``T[k, c + m]``: the product of input index ``k`` and code ``c`` in fixed point.
    row_ptr, nz_col, nz_code : ndarray of int64
        The non-zero codes by row (compressed sparse rows): output column and table column (``c + m``).
    bias : ndarray of int64, shape (fan_out,)
        The integer bias the accumulators start from.
    thresholds : ndarray of int64 or None
        ``2**depth - 1`` ascending thresholds of the output's quantiser (padded with values no sum reaches), or
        None when the output is not quantised (the last analog layer).
    depth : int
        Comparisons per quantised output (``ceil(log2 A)``).
    relu : bool
        Whether a non-quantised output takes a ReLU (an integer max with 0).
    in_lo, in_step, out_lo, out_step : float
        The input grid (``lo + k d``) and the output grid (for dequantised traces and analysis only).
    """

    layer: int
    shift: int
    table: np.ndarray
    row_ptr: np.ndarray
    nz_col: np.ndarray
    nz_code: np.ndarray
    bias: np.ndarray
    thresholds: np.ndarray | None
    depth: int
    relu: bool
    in_lo: float
    in_step: float
    out_lo: float = 0.0
    out_step: float = 0.0


@dataclass(frozen=True)
class LutProgram:
    """Everything the integer path needs: the layers' integer forms and the sensor's quantiser."""

    layers: dict[int, LutLayer]
    sensor_shift: int
    sensor_thresholds: np.ndarray
    depth: int
    input_lo: float
    input_hi: float


@dataclass(frozen=True)
class LayerRecord:
    """What one layer of a kept :func:`integer_forward` pass saw: its input shape and, for an analog layer, its MVM
    rows of indices and its integer sums, for max pooling the argmax within each window."""

    input_shape: tuple[int, ...]
    rows: np.ndarray | None = None
    sums: np.ndarray | None = None
    pool_index: np.ndarray | None = None


@dataclass
class IntegerPass:
    """What one pass of :func:`integer_forward` did.

    Attributes
    ----------
    sums : ndarray of int64, shape (N, n_classes)
        The last layer's integer sums (``sums / 2**shift`` are the logits).
    lookups : dict of int to int
        Table lookups (= accumulating additions) per analog layer.
    driven : dict of int to ndarray of int64
        Per analog layer and logical row: the MVM vectors whose input index on that row is not zero.
    records : list of LayerRecord or None
        One per layer, when asked for.
    """

    sums: np.ndarray
    lookups: dict[int, int] = field(default_factory=dict)
    driven: dict[int, np.ndarray] = field(default_factory=dict)
    records: list[LayerRecord] | None = None


def _kernels(twin: bool):
    if twin:
        return _lut_twins.lut_accumulate_numpy, _lut_twins.lut_quantize_numpy
    return _lut_kernels.lut_accumulate, _lut_kernels.lut_quantize


def integer_forward(program: LutProgram, layers, indices: np.ndarray, *, twin: bool = False,
                    keep: bool = False) -> IntegerPass:
    """The integer path: input indices to the last layer's integer sums, by table lookups, integer additions and
    comparisons only.

    Parameters
    ----------
    program : LutProgram
        The tables, integer biases and thresholds (:meth:`LutExecutor.program`).
    layers : sequence
        The model's layers (their geometry: MVM rows, pooling, output shapes).
    indices : ndarray of unsigned integers, shape (N, *input_shape)
        The sensor's activation indices (:meth:`LutExecutor.sensor`).
    twin : bool
        Run the numpy twins instead of the numba kernels.
    keep : bool
        Keep every layer's rows and sums (for traces).

    Returns
    -------
    IntegerPass
    """
    accumulate, quantize = _kernels(twin)
    result = IntegerPass(sums=indices, records=[] if keep else None)
    x = indices
    for index, layer in enumerate(layers):
        if not layer.analog:
            # the max of indices / a reshape: integers stay integers
            if keep:
                out, pool_index = layer.forward_indexed(x)
                result.records.append(LayerRecord(input_shape=x.shape, pool_index=pool_index))
                x = out
            else:
                x = layer.forward(x)
            continue
        lp = program.layers[index]
        rows = layer.rows(x)
        if not rows.flags.c_contiguous:  # (im2col and reshapes give contiguous rows; ascontiguousarray drops types)
            rows = np.ascontiguousarray(rows)
        # outputs take the type of the data (np.*_like), so that a checking array type follows it through
        sums = np.empty_like(rows, dtype=np.int64, shape=(rows.shape[0], lp.bias.shape[0]))
        result.lookups[index] = int(accumulate(rows, lp.row_ptr, lp.nz_col, lp.nz_code, lp.table, lp.bias, sums))
        result.driven[index] = np.count_nonzero(rows, axis=0).astype(np.int64)
        if keep:
            result.records.append(LayerRecord(input_shape=x.shape, rows=rows, sums=sums))
        shape = (x.shape[0], *layer.output_shape(tuple(x.shape[1:])))
        if lp.thresholds is not None:
            out = np.empty_like(sums, dtype=np.uint8)
            quantize(sums, lp.thresholds, lp.depth, out)
            x = out.reshape(shape)
        else:
            x = (np.maximum(sums, 0) if lp.relu else sums).reshape(shape)
    result.sums = x
    return result


@register_executor
class LutExecutor(Executor):
    """Integer-only inference: product lookup tables, integer additions, threshold searches."""

    name = "lut"
    summary = "integer-only inference: product lookup tables and integer adds over the held codes (Baluja 2018)"
    options = {
        "activation_levels": ExecutorOption(32, Rule("int", "levels |A| of every layer's activation (and of the "
                                                      "input), indices 0 .. A - 1", lo=2, hi=256)),
        "percentile": ExecutorOption(99.9, Rule("float", "the percentile of a layer's calibration outputs that "
                                                "sets the top of its activation range", "%", lo=50, hi=100,
                                                lo_open=True)),
        "entry_bits": ExecutorOption(16, Rule("int", "bits of one signed product-table entry (sets each layer's "
                                              "fixed-point shift)", "bit", lo=8, hi=32)),
    }

    def __init__(self, mapping: Mapping, *, seed: int = 0, options=None):
        super().__init__(mapping, seed=seed, options=options)
        self.activation_levels: int = self.settings["activation_levels"]
        self.depth = (self.activation_levels - 1).bit_length()  # comparisons of one threshold search
        self.entry_bytes = -(-self.settings["entry_bits"] // 8)
        model = mapping.model
        self._analog = [lt.layer for lt in mapping.tilings]
        self._stage_events = {st.layer: st for st in stage_events(mapping)}
        self._shapes = model.input_shapes()
        bounds = model.input_bounds()
        # an analog layer's output range is the next analog layer's input range (pooling and flatten keep it)
        self.ranges: dict[int, tuple[float, float]] = {
            layer: _widened(*bounds[nxt]) for layer, nxt in zip(self._analog, self._analog[1:])}
        self._cache: tuple | None = None
        self._stages = {str(layer): self._stage_steps(layer) for layer in self._analog}
        self._check_padding(self.ranges)

    # ------------------------------------------------------------------------------------------------- stages
    def _digital_after(self, layer: int) -> list[int]:
        n = self._analog.index(layer)
        end = self._analog[n + 1] if n + 1 < len(self._analog) else len(self.mapping.model.layers)
        return list(range(layer + 1, end))

    def _quantised(self, layer: int) -> bool:
        return layer in self.ranges

    def _compares(self, layer: int) -> int:
        """Integer comparisons per output value of ``layer``: a threshold search, a final ReLU, or none."""
        if self._quantised(layer):
            return self.depth
        return 1 if self.mapping.model.layers[layer].activation == "relu" else 0

    def _stage_steps(self, layer: int) -> dict[str, int]:
        lt = self.mapping.tiling_of(layer)
        model, profile = self.mapping.model, self.mapping.profile
        cores = {int(self.mapping.placement.tile_core[t.index]) for t in lt.tiles}
        neurons = len(cores) * profile.core.neurons
        vectors = self._stage_events[layer].vectors
        digital = sum(model.layers[i].neuron_ops(self._shapes[i]) for i in self._digital_after(layer))
        rows = max(t.rows_used for t in lt.tiles)
        outputs = vectors * lt.fan_out
        # one neuron accumulates one output's lookups over one row block; the row blocks' partial sums are then
        # added and the threshold searched for by one neuron per output (see the module docstring)
        clock = (-(-outputs * lt.row_blocks // neurons) * rows
                 + -(-outputs // neurons) * (lt.row_blocks - 1 + self._compares(layer)) + -(-digital // neurons))
        return {"crossbar_read": vectors * rows, "clock": clock,
                "noc_hop": self._stage_events[layer].steps["noc_hop"]}

    def stages(self) -> dict[str, dict[str, int]]:
        return self._stages

    # ------------------------------------------------------------------------------------------- calibration
    def calibrate(self, held: HeldState, x: np.ndarray) -> None:
        """Set every quantised layer's activation range from the outputs of a float forward pass of ``x`` through
        the codes, scales and biases the chip holds (``percentile`` of the positive outputs of a ReLU layer)."""
        p = self.settings["percentile"]
        ranges = {}
        for index, layer in enumerate(self.mapping.model.layers):
            if not layer.analog:
                x = layer.forward(x)
                continue
            w = held.codes(index).reshape(layer.fan_in, layer.fan_out).astype(np.float64) * held.scale(index)
            pre = layer.rows(x) @ w + held.bias(index)
            out = activate(pre, layer.activation)
            if self._quantised(index):
                fallback = self.ranges[index]
                if layer.activation == "relu":
                    positive = out[out > 0]
                    top = float(np.percentile(positive, p)) if positive.size else fallback[1]
                    ranges[index] = _widened(0.0, top)
                else:
                    ranges[index] = _widened(float(np.percentile(out, 100 - p)), float(np.percentile(out, p)))
            x = out.reshape(x.shape[0], *layer.output_shape(tuple(x.shape[1:])))
        self._check_padding(ranges)
        self.ranges = ranges
        self._cache = None

    def _check_padding(self, ranges: dict[int, tuple[float, float]]) -> None:
        """Refuse a layer that pads its input with zeros when its input grid does not start at 0: index 0 stands
        for the range's bottom, so a padded zero would have no index (raises :class:`ExecutorError`)."""
        lo = self.mapping.model.input_range[0]
        for index in self._analog:
            if lo != 0.0 and _pads(self.mapping.model.layers[index], self._shapes[index]):
                raise ExecutorError(f"executor 'lut': layer {index} pads its input with zeros, but its input range "
                                    f"starts at {lo:g}, not 0, so a padded zero has no activation index")
            lo = ranges.get(index, (0.0, 0.0))[0]

    # ---------------------------------------------------------------------------------------------- programs
    def program(self, held: HeldState) -> LutProgram:
        """The integer form of what the chip holds (tables, integer biases, thresholds), rebuilt when its codes,
        scales, biases or the activation ranges change."""
        ranges = dict(self.ranges)
        if self._cache is not None and self._cache[0] == held.version and self._cache[1] == ranges:
            return self._cache[2]
        inputs = [(held.codes(i), held.scale(i), np.array(held.bias(i))) for i in self._analog]
        program = self._build(inputs)
        self._cache = (held.version, ranges, program)
        return program

    def _build(self, inputs) -> LutProgram:
        model, a = self.mapping.model, self.activation_levels
        lo, hi = model.input_range
        layers = {}
        in_range = (lo, hi)
        for index, (codes, scale, bias) in zip(self._analog, inputs):
            layer = model.layers[index]
            lt = self.mapping.tiling_of(index)
            in_lo, in_hi = in_range
            out_range = self.ranges.get(index)
            layers[index] = self._layer(index, layer, lt.max_code, codes.reshape(layer.fan_in, layer.fan_out), scale,
                                        bias, (in_lo, (in_hi - in_lo) / (a - 1)), out_range)
            if out_range is not None:
                in_range = out_range
        sensor_shift = _largest_shift([(max(abs(lo), abs(hi)), 2.0 ** SENSOR_BITS)])
        step = (hi - lo) / (a - 1)
        sensor = _padded(np.rint(np.ldexp(lo + (np.arange(1, a) - 0.5) * step, sensor_shift)), self.depth)
        return LutProgram(layers=layers, sensor_shift=sensor_shift, sensor_thresholds=sensor, depth=self.depth,
                          input_lo=lo, input_hi=hi)

    def _layer(self, index: int, layer, top: int, codes: np.ndarray, scale: float, bias: np.ndarray,
               grid: tuple[float, float], out_range: tuple[float, float] | None) -> LutLayer:
        a, entry_bits = self.activation_levels, self.settings["entry_bits"]
        in_lo, d = grid
        k = np.arange(a, dtype=np.float64)[:, None]
        c = np.arange(-top, top + 1, dtype=np.float64)[None, :]
        products = k * d * c * scale  # the real products the table holds
        folded = bias + in_lo * scale * codes.sum(axis=0)  # the range's offset times the column sums
        reach = (a - 1) * d * scale * np.abs(codes).sum(axis=0) + np.abs(folded)  # largest |sum| per output
        out_lo, out_step, real_thresholds = 0.0, 0.0, np.zeros(0)
        if out_range is not None:
            out_lo, out_step = out_range[0], (out_range[1] - out_range[0]) / (a - 1)
            real_thresholds = out_lo + (np.arange(1, a) - 0.5) * out_step
        limits = [(float(np.abs(products).max()), 2.0 ** (entry_bits - 1) - 1),
                  (float(reach.max(initial=0.0)), float(ACC_LIMIT)),
                  (float(np.abs(real_thresholds).max(initial=0.0)), float(ACC_LIMIT))]
        s = _largest_shift(limits)
        while True:  # rounding can push a bound over by a unit: check the integers themselves
            table = np.rint(np.ldexp(products, s)).astype(np.int64)
            bias_int = np.rint(np.ldexp(folded, s)).astype(np.int64)
            columns = codes + top
            worst = np.abs(table[a - 1][columns]).sum(axis=0) + np.abs(bias_int)
            thresholds = np.rint(np.ldexp(real_thresholds, s)).astype(np.int64)
            fits = (np.abs(table).max() <= 2 ** (entry_bits - 1) - 1 and worst.max(initial=0) <= ACC_LIMIT
                    and np.abs(thresholds).max(initial=0) <= ACC_LIMIT)
            if fits or s <= -SHIFT_LIMIT:
                break
            s -= 1
        nonzero = codes != 0
        row_ptr = np.concatenate([[0], np.cumsum(nonzero.sum(axis=1))]).astype(np.int64)
        nz_row, nz_col = np.nonzero(nonzero)  # row-major: grouped by row, as row_ptr says
        return LutLayer(layer=index, shift=s, table=table, row_ptr=row_ptr, nz_col=nz_col.astype(np.int64),
                        nz_code=columns[nz_row, nz_col].astype(np.int64), bias=bias_int,
                        thresholds=None if out_range is None else _padded(thresholds, self.depth), depth=self.depth,
                        relu=layer.activation == "relu", in_lo=in_lo, in_step=d, out_lo=out_lo, out_step=out_step)

    # ---------------------------------------------------------------------------------------------- execution
    def sensor(self, program: LutProgram, x: np.ndarray) -> np.ndarray:
        """The input as activation indices (uint8): the sensor's conversion, the one float step before the integer
        path (clip to the input range, a fixed-point word, the threshold search)."""
        fixed = np.rint(np.ldexp(np.clip(x, program.input_lo, program.input_hi), program.sensor_shift))
        out = np.empty(x.shape, dtype=np.uint8)
        _lut_kernels.lut_quantize(np.ascontiguousarray(fixed.astype(np.int64)), program.sensor_thresholds,
                                  program.depth, out)
        return out

    def integer_forward(self, held: HeldState, indices: np.ndarray, *, twin: bool = False) -> IntegerPass:
        """:func:`integer_forward` on what ``held`` holds (indices from :meth:`sensor`)."""
        return integer_forward(self.program(held), self.mapping.model.layers, indices, twin=twin)

    def run(self, held: HeldState, x: np.ndarray, *, trace: bool = False) -> Execution:
        if x.shape[0] == 0:  # nothing to run (and Flatten cannot reshape an empty batch)
            return Execution(logits=np.zeros((0, self.mapping.model.n_classes)), traces=[] if trace else None,
                             events=self.new_events())
        program = self.program(held)
        indices = self.sensor(program, x)
        done = integer_forward(program, self.mapping.model.layers, indices, keep=trace)
        last = program.layers[self._analog[-1]]
        logits = np.ldexp(done.sums.astype(np.float64), -last.shift)  # leaves the integer path: logits only
        traces = self._traces(program, done) if trace else None
        return Execution(logits=logits, traces=traces, events=self._events(held, x.shape[0], done))

    def _traces(self, program: LutProgram, done: IntegerPass) -> list[LayerTrace]:
        traces = []
        for index, record in enumerate(done.records):
            if record.sums is None:
                traces.append(LayerTrace(layer=index, input_shape=record.input_shape, pool_index=record.pool_index))
                continue
            lp = program.layers[index]
            pre = np.ldexp(record.sums.astype(np.float64), -lp.shift)
            traces.append(LayerTrace(layer=index, input_shape=record.input_shape,
                                     mvm_inputs=lp.in_lo + record.rows * lp.in_step, pre_activation=pre,
                                     relu_mask=pre > 0 if lp.relu else None))
        return traces

    # ------------------------------------------------------------------------------------------------- events
    def _events(self, held: HeldState, batch: int, done: IntegerPass) -> Ledger:
        events = self.new_events()
        if batch <= 0:
            return events
        model = self.mapping.model
        first = self._analog[0]
        adds = batch * sum(model.layers[i].neuron_ops(self._shapes[i]) for i in range(first))
        for index in self._analog:
            lt = self.mapping.tiling_of(index)
            st = self._stage_events[index]
            layer = model.layers[index]
            lookups, driven = done.lookups[index], done.driven[index]
            outputs = st.vectors * lt.fan_out
            digital = sum(model.layers[i].neuron_ops(self._shapes[i]) for i in self._digital_after(index))
            adds += lookups + batch * (outputs * self._compares(index) + digital)
            per_block = np.array([int(driven[lt.row_range(rb)].sum()) for rb in range(lt.row_blocks)])
            block_cols = np.array([sum(lt.tile(rb, cb).cols_used for cb in range(lt.col_blocks))
                                   for rb in range(lt.row_blocks)])
            out_bytes = INDEX_BYTES if self._quantised(index) else ACC_BITS // 8
            events.add(lut_lookups=lookups, lut_bytes_read=lookups * self.entry_bytes,
                       wordline_activations=int(per_block.sum()) * lt.col_blocks,
                       bitline_reads=int(per_block @ block_cols),
                       buffer_bytes_read=batch * int(np.prod(self._shapes[index])) * INDEX_BYTES,
                       buffer_bytes_written=batch * int(np.prod(layer.output_shape(self._shapes[index]))) * out_bytes,
                       noc_flit_hops=batch * st.counts["noc_flit_hops"], macs=batch * st.counts["macs"])
            events.add_cell_reads(driven @ held.row_level_counts(index))
        events.add(int_adds=adds)
        events.add_pipeline(tuple(self._stages), samples=batch)
        return events

    # ------------------------------------------------------------------------------------------------- memory
    def deployable_bytes(self) -> dict[str, int]:
        """Bytes of the network as deployed for integer inference, and of a float32 network of the same layers.

        Returns
        -------
        dict
            ``"integer"``: per analog layer, its codes packed at ``weight_bits`` bits each, its product table
            without the row of index 0 and the column of code 0 (never read) at ``entry_bits`` rounded up to bytes
            per entry, its integer biases and (when its output is quantised) its ``A - 1`` thresholds at 32 bits
            each. ``"float32"``: weights and biases at four bytes each.
        """
        integer = floating = 0
        acc_bytes = ACC_BITS // 8
        for lt in self.mapping.tilings:
            layer = self.mapping.model.layers[lt.layer]
            codes = -(-lt.fan_in * lt.fan_out * layer.weight_bits // 8)
            table = (self.activation_levels - 1) * 2 * lt.max_code * self.entry_bytes
            thresholds = (self.activation_levels - 1) * acc_bytes if self._quantised(lt.layer) else 0
            integer += codes + table + thresholds + lt.fan_out * acc_bytes
            floating += 4 * (lt.fan_in * lt.fan_out + lt.fan_out)
        return {"integer": integer, "float32": floating}


def _widened(lo: float, hi: float) -> tuple[float, float]:
    """A range with room for ``A`` distinct levels (a dead layer's empty range becomes [lo, lo + 1])."""
    lo, hi = float(lo), float(hi)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _largest_shift(limits: list[tuple[float, float]]) -> int:
    """The largest ``s`` in [-SHIFT_LIMIT, SHIFT_LIMIT] with ``value x 2**s <= limit`` for every (value, limit)."""
    s = SHIFT_LIMIT
    for value, limit in limits:
        if value > 0:
            s = min(s, math.floor(math.log2(limit / value)))
    return max(s, -SHIFT_LIMIT)


def _padded(thresholds: np.ndarray, depth: int) -> np.ndarray:
    """Thresholds as an int64 table of ``2**depth - 1`` entries, padded with a value no 32-bit sum reaches."""
    out = np.full((1 << depth) - 1, NEVER, dtype=np.int64)
    out[: thresholds.size] = thresholds
    return out


def _pads(layer, shape: tuple[int, ...]) -> bool:
    """Whether the layer's MVM rows hold padding (a zero not taken from the input)."""
    return bool((layer.rows(np.ones((1, *shape), dtype=np.int8)) == 0).any())


__all__ = ["LutExecutor", "LutLayer", "LutProgram", "LayerRecord", "IntegerPass", "integer_forward"]
