"""Tiles onto cores, cores onto the chip's 2D mesh, XY routing and NoC traffic.

Two strategies, both always computed so reports can compare them:

- ``naive``: tiles fill cores in layer / row-block / column-block order, cores take mesh positions in row-major
  order.
- ``optimized``: tiles of one column block (which exchange partial sums) are packed together, cores start on a
  serpentine path (consecutive cores adjacent) and pairwise swaps then lower the total flit-hops
  (sum over transfers of flits x Manhattan distance), for at most 20 passes (a numba kernel, :mod:`._kernels`).

Mapping scales with the cores in use, not with the mesh: nothing lists every mesh position (only
:func:`mesh_graph`, when asked for).

The chip's I/O port sits at mesh position (0, 0): inputs enter and outputs leave there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MappingError
from ..nn.model import Model
from ..profiles import Profile
from . import _kernels
from .tiling import LayerTiling

if TYPE_CHECKING:
    import networkx as nx

PORT = -1  # pseudo-core id of the I/O port at mesh position (0, 0)
STRATEGIES = ("optimized", "naive")


@dataclass(frozen=True)
class Transfer:
    """Data moved per inference (per sample) from one core to another."""

    src: int
    dst: int
    flits: int
    layer: int
    kind: str  # "activations", "partial_sums", "outputs"


@dataclass(frozen=True, eq=False)
class Placement:
    """Which core holds each tile and where each core sits on the mesh."""

    strategy: str
    tile_core: np.ndarray  # (n_tiles,) core id of each tile
    positions: dict[int, tuple[int, int]]  # core id (and PORT) -> (row, col)
    transfers: tuple[Transfer, ...]

    @property
    def n_cores(self) -> int:
        return int(self.tile_core.max()) + 1 if self.tile_core.size else 0

    def hops(self, src: int, dst: int) -> int:
        (r1, c1), (r2, c2) = self.positions[src], self.positions[dst]
        return abs(r1 - r2) + abs(c1 - c2)

    @property
    def flit_hops(self) -> int:
        """Flit-hops per inference (XY routing: hops = Manhattan distance)."""
        return sum(t.flits * self.hops(t.src, t.dst) for t in self.transfers)

    def link_loads(self) -> dict[tuple[tuple[int, int], tuple[int, int]], int]:
        """Flits per inference crossing each directed mesh link, routing X (columns) first, then Y."""
        loads: dict = {}
        for t in self.transfers:
            for link in xy_route(self.positions[t.src], self.positions[t.dst]):
                loads[link] = loads.get(link, 0) + t.flits
        return loads


def mesh_graph(profile: Profile) -> nx.Graph:
    """The chip's cores as a networkx 2D grid graph (nodes are (row, col))."""
    import networkx as nx  # only here: importing networkx costs ~0.1 s at `import neurosim`

    return nx.grid_2d_graph(profile.chip.mesh_rows, profile.chip.mesh_cols)


def xy_route(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Links of the dimension-ordered route from ``a`` to ``b``: along the row (columns) first, then the column."""
    (r, c), (r2, c2) = a, b
    links = []
    while c != c2:
        nxt = (r, c + (1 if c2 > c else -1))
        links.append(((r, c), nxt))
        c = nxt[1]
    while r != r2:
        nxt = (r + (1 if r2 > r else -1), c)
        links.append(((r, c), nxt))
        r = nxt[0]
    return links


def pack_tiles(tilings: list[LayerTiling], profile: Profile, strategy: str) -> np.ndarray:
    """Assign tiles to cores in order (``"naive"``: layer, row block, column block; ``"column_blocks"``: layer,
    column block, row block) within each core's capacity (crossbars and neurons); returns core id per tile."""
    core = profile.core
    n_tiles = sum(len(t.tiles) for t in tilings)
    available = profile.chip.mesh_rows * profile.chip.mesh_cols
    order = []
    for lt in tilings:
        if strategy == "naive":
            order += list(lt.tiles)
        else:  # "column_blocks": tiles of one column block together, their partial sums stay inside a core
            order += sorted(lt.tiles, key=lambda t: (t.col_block, t.row_block))
    tile_core = np.empty(n_tiles, dtype=np.int64)
    current, used_xbars, used_neurons = 0, 0, 0
    for tile in order:
        if tile.weights_used > core.neurons:
            raise MappingError(f"layer {tile.layer}: a tile drives {tile.weights_used} neurons, a core has "
                               f"{core.neurons} (core.neurons)")
        if used_xbars + 1 > core.crossbars_per_core or used_neurons + tile.weights_used > core.neurons:
            current, used_xbars, used_neurons = current + 1, 0, 0
        if current >= available:
            needed = _cores_needed(tilings, profile)
            raise MappingError(f"model does not fit: layer {tile.layer} runs out of cores; the model needs "
                               f"{n_tiles} tiles on about {needed} cores, the chip has {available} cores "
                               f"({profile.chip.mesh_rows}x{profile.chip.mesh_cols} mesh) of "
                               f"{core.crossbars_per_core} crossbars = {available * core.crossbars_per_core} tiles")
        tile_core[tile.index] = current
        used_xbars += 1
        used_neurons += tile.weights_used
    return tile_core


def _cores_needed(tilings: list[LayerTiling], profile: Profile) -> int:
    n_tiles = sum(len(t.tiles) for t in tilings)
    return -(-n_tiles // profile.core.crossbars_per_core)


def _layer_routes(model: Model, tilings: list[LayerTiling], tile_core: np.ndarray):
    """Per analog layer, where each element of its input comes from and which cores need it: yields
    ``(tiling, input shape, source core of every element (PORT for the network's input), {core: mask of the
    elements it needs})``, then once more ``(None, None, output channel -> core, {})`` for the network's outputs."""
    shapes = model.input_shapes()
    channel_core = None  # output channel of the previous analog layer -> core accumulating it (None: I/O port)
    for lt in tilings:
        layer, in_shape = model.layers[lt.layer], shapes[lt.layer]
        n_elements = int(np.prod(in_shape))
        # the producing channel of every input element: NHWC flattening and pooling keep the channel last
        element_channel = np.arange(n_elements) % (in_shape[-1] if len(in_shape) > 1 or channel_core is None
                                                   else n_elements)
        if len(in_shape) == 1 and channel_core is not None and len(channel_core) < n_elements:
            element_channel = np.arange(n_elements) % len(channel_core)  # a flattened (H, W, C) map
        needed: dict[int, np.ndarray] = {}
        for tile in lt.tiles:
            rows = layer.rows_needing_inputs(lt.row_range(tile.row_block), in_shape)
            core = int(tile_core[tile.index])
            mask = needed.setdefault(core, np.zeros(n_elements, dtype=bool))
            mask[rows] = True
        sources = (np.full(n_elements, PORT, dtype=np.int64) if channel_core is None
                   else np.asarray(channel_core, dtype=np.int64)[element_channel])
        yield lt, in_shape, sources, needed
        channel_core = [int(tile_core[lt.tile(0, j // lt.weights_per_tile).index]) for j in range(lt.fan_out)]
    yield None, None, np.asarray(channel_core, dtype=np.int64), {}


def traffic(model: Model, tilings: list[LayerTiling], tile_core: np.ndarray, profile: Profile) -> list[Transfer]:
    """Transfers per inference: activations between layers (each input value sent once to every core that needs
    it), partial sums from row blocks to the core accumulating their column block, inputs from and outputs to the
    I/O port. Activations travel at the DAC width (at most 16 bits), partial sums at ADC width + 8 bits."""
    flit_bits = profile.chip.flit_bits
    act_bits = profile.periphery.input_bits  # an activation travels as one input word
    psum_bits = min(32, profile.periphery.adc_bits + 8)
    flows: dict[tuple[int, int, int, str], int] = {}  # (src, dst, layer, kind) -> bits per inference

    def add(src: int, dst: int, layer: int, kind: str, bits: int) -> None:
        if src != dst and bits > 0:
            flows[(src, dst, layer, kind)] = flows.get((src, dst, layer, kind), 0) + bits

    for lt, in_shape, sources, needed in _layer_routes(model, tilings, tile_core):
        if lt is None:  # the network's outputs go to the I/O port
            for src, count in zip(*np.unique(sources, return_counts=True)):
                add(int(src), PORT, tilings[-1].layer, "outputs", int(count) * 16)
            break
        for dst, mask in needed.items():
            for src, count in zip(*np.unique(sources[mask], return_counts=True)):
                add(int(src), dst, lt.layer, "activations", int(count) * act_bits)
        layer = model.layers[lt.layer]
        vectors = layer.vectors_per_sample(in_shape)
        for tile in lt.tiles:  # partial sums of every row block travel to the core of row block 0
            home = int(tile_core[lt.tile(0, tile.col_block).index])
            add(int(tile_core[tile.index]), home, lt.layer, "partial_sums", tile.weights_used * vectors * psum_bits)
    return [Transfer(src=s, dst=d, flits=-(-bits // flit_bits), layer=layer, kind=kind)
            for (s, d, layer, kind), bits in flows.items()]


def element_hops(model: Model, tilings: list[LayerTiling], placement: Placement) -> dict[int, np.ndarray]:
    """Mesh hops of one packet per input element of every analog layer (keyed by layer index), sent from the core
    that produces it (the I/O port for the network's input) to every core that needs it, and under key -1 the hops
    of each network output to the I/O port: what one spike of that element costs on the NoC."""
    out: dict[int, np.ndarray] = {}
    for lt, _, sources, needed in _layer_routes(model, tilings, placement.tile_core):
        if lt is None:
            out[-1] = np.array([placement.hops(int(s), PORT) for s in sources], dtype=np.int64)
            break
        hops = np.zeros(len(sources), dtype=np.int64)
        for dst, mask in needed.items():
            for src in np.unique(sources[mask]):
                chosen = mask & (sources == src)
                hops[chosen] += placement.hops(int(src), dst)
        out[lt.layer] = hops
    return out


def _start_positions(n_cores: int, profile: Profile, path: str) -> dict[int, tuple[int, int]]:
    """Where cores ``0 .. n_cores - 1`` start: row-major, or serpentine (consecutive cores are always neighbours).
    Computed per core, never by listing the mesh: a 4096 x 4096 mesh costs what its used cores cost."""
    cols = profile.chip.mesh_cols
    positions = {PORT: (0, 0)}
    for core in range(n_cores):
        r, c = divmod(core, cols)
        positions[core] = (r, c if path == "row_major" or r % 2 == 0 else cols - 1 - c)
    return positions


def _search_spots(n_cores: int, profile: Profile) -> list[tuple[int, int]]:
    """Mesh positions the local search may use: a square-ish region near the port big enough for every core
    with room to spare (searching a 64x64 mesh for a 9-core model would only cost time)."""
    rows, cols = profile.chip.mesh_rows, profile.chip.mesh_cols
    side = int(np.ceil(np.sqrt(2 * n_cores + 8)))
    r_max, c_max = min(rows, side), min(cols, max(side, -(-(2 * n_cores + 8) // min(rows, side))))
    return [(r, c) for r in range(r_max) for c in range(c_max)]


def _neighbour_lists(nodes: list[int], transfers: list[Transfer]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR neighbour lists over node indices (``nodes[i]`` is node ``i``): every transfer in both directions, the
    flits of repeated (node, other) pairs summed (integers: the same costs as separate entries)."""
    index = {node: i for i, node in enumerate(nodes)}
    src = np.array([index[t.src] for t in transfers], dtype=np.int64)
    dst = np.array([index[t.dst] for t in transfers], dtype=np.int64)
    flits = np.array([t.flits for t in transfers], dtype=np.int64)
    n = len(nodes)
    pair, inverse = np.unique(np.concatenate([src * n + dst, dst * n + src]), return_inverse=True)
    summed = np.zeros(pair.size, dtype=np.int64)
    np.add.at(summed, inverse, np.concatenate([flits, flits]))
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair // n, minlength=n), out=ptr[1:])
    return ptr, pair % n, summed


def _improve_by_swaps(positions: dict[int, tuple[int, int]], transfers: list[Transfer],
                      spots: list[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Local search: move a core to any spot (swapping with its occupant) while that lowers total flit-hops.

    Cores are visited in increasing id order and spots in the given order, at most 20 passes; every core must sit
    on one of the (distinct) ``spots``. The search itself is :func:`._kernels.improve_by_swaps`.
    """
    cores = sorted(c for c in positions if c != PORT)
    nodes = cores + [c for c in positions if c == PORT]  # the port (when there is one) never moves
    pos = np.array([positions[c] for c in nodes], dtype=np.int64).reshape(-1, 2)
    spot_array = np.array(spots, dtype=np.int64).reshape(-1, 2)
    spot_index = {spot: i for i, spot in enumerate(map(tuple, spot_array.tolist()))}
    if len(spot_index) != len(spot_array):
        raise ValueError("_improve_by_swaps: spots must be distinct")
    occupant = np.full(len(spot_array), -1, dtype=np.int64)
    core_spot = np.empty(len(cores), dtype=np.int64)
    for i, core in enumerate(cores):
        s = spot_index.get(tuple(int(v) for v in positions[core]))
        if s is None or occupant[s] >= 0:
            raise ValueError(f"_improve_by_swaps: core {core} at {positions[core]} is not alone on a spot")
        core_spot[i], occupant[s] = s, i
    ptr, nbr, flits = _neighbour_lists(nodes, transfers)
    _kernels.improve_by_swaps(pos, ptr, nbr, flits, spot_array, core_spot, occupant, 20)
    moved = {node: (int(r), int(c)) for node, (r, c) in zip(nodes, pos.tolist())}
    return {c: moved[c] for c in positions}


def _flit_hops(positions: dict[int, tuple[int, int]], transfers: list[Transfer]) -> int:
    return sum(t.flits * (abs(positions[t.src][0] - positions[t.dst][0])
                          + abs(positions[t.src][1] - positions[t.dst][1]))
               for t in transfers)


def place(model: Model, tilings: list[LayerTiling], profile: Profile, strategy: str) -> Placement:
    """Pack tiles, compute traffic, place cores: a complete :class:`Placement`.

    ``optimized`` tries both packings (column blocks together, layer order) from both starting paths (serpentine,
    row-major), improves each by swaps and keeps the lowest flit-hops; since one candidate starts from the naive
    layout and every accepted move lowers the total (a swap's gain is its exact change of flit-hops), it is never
    worse than ``naive``.
    """
    if strategy not in STRATEGIES:
        raise MappingError(f"placement must be one of {STRATEGIES} (got {strategy!r})")
    if strategy == "naive":
        tile_core = pack_tiles(tilings, profile, "naive")
        transfers = traffic(model, tilings, tile_core, profile)
        positions = _start_positions(int(tile_core.max()) + 1, profile, "row_major")
        return Placement(strategy=strategy, tile_core=tile_core, positions=positions, transfers=tuple(transfers))
    best = None
    for packing in ("column_blocks", "naive"):
        tile_core = pack_tiles(tilings, profile, packing)
        transfers = traffic(model, tilings, tile_core, profile)
        n_cores = int(tile_core.max()) + 1
        for path in ("serpentine", "row_major"):
            positions = _start_positions(n_cores, profile, path)
            if n_cores > 1:
                spots = sorted(set(_search_spots(n_cores, profile)) | {positions[c] for c in range(n_cores)})
                positions = _improve_by_swaps(positions, transfers, spots)
            cost = _flit_hops(positions, transfers)
            if best is None or cost < best[0]:
                best = (cost, tile_core, positions, transfers)
    _, tile_core, positions, transfers = best
    return Placement(strategy=strategy, tile_core=tile_core, positions=positions, transfers=tuple(transfers))
