"""The placement's numba kernel against its slow twin (the original pure-Python local search).

Each case builds a random instance (cores on distinct spots of a small mesh, fixed nodes such as the I/O port,
random neighbour lists with repeated pairs, self-loops and lists that are not symmetric),
runs the kernel and the twin on copies of it and compares every updated array and the passes run exactly. Small
flit counts make ties between spots common, so the first-best-spot rule is exercised too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from neurosim.mapping import _kernels, _twins
from neurosim.mapping.placement import PORT, Transfer, _improve_by_swaps


def _csr(n_nodes: int, edges: list[tuple[int, int, int]], symmetric: bool):
    """CSR lists in edge order (a stable sort by node), both directions of every edge when ``symmetric``."""
    entries = [(a, b, f) for a, b, f in edges] + ([(b, a, f) for a, b, f in edges] if symmetric else [])
    entries.sort(key=lambda e: e[0])  # stable: each node's entries keep the edge order
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    for a, _, _ in entries:
        ptr[a + 1] += 1
    np.cumsum(ptr, out=ptr)
    nbr = np.array([b for _, b, _ in entries], dtype=np.int64)
    flits = np.array([f for _, _, f in entries], dtype=np.int64)
    return ptr, nbr, flits


@st.composite
def instances(draw):
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    grid = [(r, c) for r in range(rows) for c in range(cols)]
    spots = draw(st.lists(st.sampled_from(grid), min_size=1, max_size=len(grid), unique=True))  # any scan order
    n_cores = draw(st.integers(1, len(spots)))
    core_spot = np.array(draw(st.permutations(range(len(spots))))[:n_cores], dtype=np.int64)
    fixed = draw(st.lists(st.tuples(st.integers(0, rows), st.integers(0, cols)), max_size=2))  # e.g. the port
    n_nodes = n_cores + len(fixed)
    edges = draw(st.lists(st.tuples(st.integers(0, n_nodes - 1), st.integers(0, n_nodes - 1), st.integers(1, 6)),
                          max_size=3 * n_nodes))
    symmetric = draw(st.booleans())
    spot_array = np.array(spots, dtype=np.int64).reshape(-1, 2)
    pos = np.concatenate([spot_array[core_spot], np.array(fixed, dtype=np.int64).reshape(-1, 2)])
    occupant = np.full(len(spots), -1, dtype=np.int64)
    occupant[core_spot] = np.arange(n_cores)
    ptr, nbr, flits = _csr(n_nodes, edges, symmetric)
    return dict(pos=pos, nbr_ptr=ptr, nbr=nbr, flits=flits, spots=spot_array, core_spot=core_spot,
                occupant=occupant, max_passes=draw(st.integers(1, 20)))


def _run(fn, case: dict):
    c = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
    passes = fn(c["pos"], c["nbr_ptr"], c["nbr"], c["flits"], c["spots"], c["core_spot"], c["occupant"],
                c["max_passes"])
    return int(passes), c


def _assert_same(case: dict) -> None:
    got, k = _run(_kernels.improve_by_swaps, case)
    want, t = _run(_twins.improve_by_swaps_python, case)
    assert got == want
    for key in ("pos", "core_spot", "occupant"):
        np.testing.assert_array_equal(k[key], t[key], err_msg=key)
    n_cores = case["core_spot"].size
    np.testing.assert_array_equal(k["pos"][n_cores:], case["pos"][n_cores:])  # fixed nodes never move
    np.testing.assert_array_equal(k["spots"][k["core_spot"]], k["pos"][:n_cores])  # positions and spots agree
    assert sorted(k["occupant"][k["occupant"] >= 0]) == list(range(n_cores))


@settings(max_examples=300, deadline=None)
@given(case=instances())
def test_improve_by_swaps_matches_twin(case):
    _assert_same(case)


@pytest.mark.parametrize("seed", range(6))
def test_improve_by_swaps_matches_twin_on_larger_meshes(seed):
    """Tens of cores with many passes (hypothesis' small cases rarely need more than a few)."""
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(4, 10)), int(rng.integers(4, 10))
    grid = np.array([(r, c) for r in range(rows) for c in range(cols)], dtype=np.int64)
    spots = grid[np.sort(rng.permutation(len(grid))[: int(rng.integers(len(grid) // 2, len(grid) + 1))])]
    n_cores = int(rng.integers(2, min(len(spots), 30) + 1))
    core_spot = rng.permutation(len(spots))[:n_cores].astype(np.int64)
    n_nodes = n_cores + 1  # the port at (0, 0) is the last node
    pos = np.concatenate([spots[core_spot], [[0, 0]]]).astype(np.int64)
    n_edges = int(rng.integers(n_cores, 4 * n_cores))
    edges = [(int(a), int(b), int(f)) for a, b, f in zip(rng.integers(0, n_nodes, n_edges),
                                                          rng.integers(0, n_nodes, n_edges),
                                                          rng.integers(1, 300, n_edges))]
    occupant = np.full(len(spots), -1, dtype=np.int64)
    occupant[core_spot] = np.arange(n_cores)
    ptr, nbr, flits = _csr(n_nodes, edges, symmetric=True)
    _assert_same(dict(pos=pos, nbr_ptr=ptr, nbr=nbr, flits=flits, spots=spots, core_spot=core_spot,
                      occupant=occupant, max_passes=20))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_wrapper_matches_twin_on_transfer_lists(data):
    """``_improve_by_swaps`` (core ids, the port, repeated transfers summed into one entry) makes the decisions of
    the twin fed one neighbour entry per transfer and direction, as the original search built them."""
    n_cores = data.draw(st.integers(1, 9))
    rows, cols = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 5))
    grid = [(r, c) for r in range(rows) for c in range(cols)]
    extra = data.draw(st.lists(st.sampled_from(grid), max_size=len(grid), unique=True))
    start = data.draw(st.permutations(grid + [(rows + r, 0) for r in range(n_cores)]))[:n_cores]
    positions = {PORT: (0, 0)} | {core: start[i] for i, core in enumerate(data.draw(st.permutations(range(n_cores))))}
    spots = sorted(set(extra) | set(start))
    nodes = list(range(n_cores)) + [PORT]
    pair = st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)).filter(lambda p: p[0] != p[1])
    transfers = [Transfer(src=a, dst=b, flits=f, layer=0, kind="activations")
                 for (a, b), f in data.draw(st.lists(st.tuples(pair, st.integers(1, 5)), max_size=4 * n_cores))]
    got = _improve_by_swaps(positions, transfers, spots)

    index = {node: i for i, node in enumerate(nodes)}
    ptr, nbr, flits = _csr(len(nodes), [(index[t.src], index[t.dst], t.flits) for t in transfers], symmetric=True)
    spot_array = np.array(spots, dtype=np.int64)
    core_spot = np.array([spots.index(positions[c]) for c in range(n_cores)], dtype=np.int64)
    occupant = np.full(len(spots), -1, dtype=np.int64)
    occupant[core_spot] = np.arange(n_cores)
    pos = np.array([positions[n] for n in nodes], dtype=np.int64)
    _twins.improve_by_swaps_python(pos, ptr, nbr, flits, spot_array, core_spot, occupant, 20)
    assert got == {node: tuple(int(v) for v in pos[index[node]]) for node in positions}
    assert list(got) == list(positions) and got[PORT] == (0, 0)


def test_wrapper_refuses_a_core_off_the_spots_or_shared_spots():
    with pytest.raises(ValueError, match="not alone on a spot"):
        _improve_by_swaps({PORT: (0, 0), 0: (0, 0), 1: (3, 3)}, [], [(0, 0), (0, 1)])
    with pytest.raises(ValueError, match="not alone on a spot"):
        _improve_by_swaps({PORT: (0, 0), 0: (0, 1), 1: (0, 1)}, [], [(0, 0), (0, 1)])
    with pytest.raises(ValueError, match="distinct"):
        _improve_by_swaps({PORT: (0, 0), 0: (0, 1)}, [], [(0, 0), (0, 1), (0, 1)])


def _total(case: dict, pos: np.ndarray) -> int:
    ptr, nbr, flits = case["nbr_ptr"], case["nbr"], case["flits"]
    return sum(int(flits[k]) * int(np.abs(pos[i] - pos[nbr[k]]).sum())
               for i in range(ptr.size - 1) for k in range(ptr[i], ptr[i + 1]))


@settings(max_examples=300, deadline=None)
@given(case=instances())
def test_every_pass_lowers_total_flit_hops_or_stops(case):
    """A swap's gain is its exact change of flit-hops: the search never raises the total (one pass at a time). For
    symmetric neighbour lists, as a placement's are (a core only sees its own list)."""
    ptr = case["nbr_ptr"]
    entries = sorted((i, int(case["nbr"][k]), int(case["flits"][k])) for i in range(ptr.size - 1)
                     for k in range(ptr[i], ptr[i + 1]))
    assume(entries == sorted((b, a, f) for a, b, f in entries))
    current = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
    total = _total(case, current["pos"])
    for _ in range(case["max_passes"]):
        current["max_passes"] = 1
        _, after = _run(_kernels.improve_by_swaps, current)
        new_total = _total(case, after["pos"])
        moved = not np.array_equal(after["pos"], current["pos"])
        assert new_total < total or (not moved and new_total == total)
        if not moved:
            break
        current, total = after, new_total
