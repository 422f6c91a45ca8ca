"""numba kernels of the placement (private). Each has a slow twin in ``_twins.py`` that the tests compare against.

Kernels take plain arrays. The mesh graph of a placement is given as CSR neighbour lists over node indices:
``nbr[nbr_ptr[i]:nbr_ptr[i + 1]]`` are the nodes node ``i`` exchanges ``flits[...]`` flits with (one entry per
transfer and direction; repeated entries simply add up). Nodes ``0 .. n_cores - 1`` are the movable cores, in the
order the search visits them; any further node (the I/O port) has a fixed position.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def improve_by_swaps(pos, nbr_ptr, nbr, flits, spots, core_spot, occupant, max_passes):
    """Greedy local search: move each core in turn to the spot (swapping with its occupant) that lowers total
    flit-hops the most, until a pass moves nothing or ``max_passes`` passes ran.

    Parameters
    ----------
    pos : int64 array (n_nodes, 2)
        (row, col) of every node; the rows of the movable cores are updated in place.
    nbr_ptr, nbr, flits : int64 arrays
        CSR neighbour lists (see the module docstring). The placement's are symmetric (every transfer in both
        directions); the search does not rely on it.
    spots : int64 array (n_spots, 2)
        Distinct mesh positions the search may use, in the order they are tried.
    core_spot : int64 array (n_cores,)
        Index in ``spots`` of every movable core (each core sits on a spot); updated in place.
    occupant : int64 array (n_spots,)
        Movable core on each spot, or -1; updated in place.
    max_passes : int

    Returns
    -------
    int
        Passes run.

    Notes
    -----
    Exactly the decisions of ``_twins.improve_by_swaps_python``: the first spot of largest strictly positive gain
    wins. Gains are integers (flits x hops), so integer arithmetic is exact in any order and ``gain > best`` equals
    the twin's ``gain > best + 1e-9``. A gain is the exact change of total flit-hops: the flits between the two
    swapped cores keep their distance and count for nothing (an earlier search counted them as saved, and could
    take a swap that raised the total), so every accepted move lowers the total.

    Speed: the cost of core ``c`` at spot ``s`` splits into a row part and a column part, each computed once per row
    / column the spots span (O(degree x (rows + cols)) instead of O(degree x spots)); the occupant's part needs its
    own neighbour list, walked only when a bound (its flits x the distance moved) says the spot could beat the best
    so far (an exact test: a skipped spot could not have won).
    """
    n_cores = core_spot.size
    n_spots = spots.shape[0]
    r0 = spots[:, 0].min() if n_spots else 0
    c0 = spots[:, 1].min() if n_spots else 0
    row_cost = np.empty((spots[:, 0].max() - r0 + 1) if n_spots else 0, dtype=np.int64)  # index: row - r0
    col_cost = np.empty((spots[:, 1].max() - c0 + 1) if n_spots else 0, dtype=np.int64)
    total = np.zeros(nbr_ptr.size - 1, dtype=np.int64)  # flits of each node: bounds what moving it can change
    for i in range(total.size):
        for k in range(nbr_ptr[i], nbr_ptr[i + 1]):
            total[i] += flits[k]
    link = np.zeros(nbr_ptr.size - 1, dtype=np.int64)  # flits between the core being moved and every node
    passes = 0
    for _ in range(max_passes):
        passes += 1
        improved = False
        for c in range(n_cores):
            hs = core_spot[c]
            hr = pos[c, 0]
            hc = pos[c, 1]
            lo = nbr_ptr[c]
            hi = nbr_ptr[c + 1]
            base = 0
            for k in range(lo, hi):
                m = nbr[k]
                base += flits[k] * (abs(hr - pos[m, 0]) + abs(hc - pos[m, 1]))
                link[m] += flits[k]
            # c's cost at a spot: the occupant's own term is 0 there (it sits on the spot), so excluding it, as the
            # original does, changes nothing
            for i in range(row_cost.size):
                acc = 0
                for k in range(lo, hi):
                    acc += flits[k] * abs(r0 + i - pos[nbr[k], 0])
                row_cost[i] = acc
            for i in range(col_cost.size):
                acc = 0
                for k in range(lo, hi):
                    acc += flits[k] * abs(c0 + i - pos[nbr[k], 1])
                col_cost[i] = acc
            best_gain = 0
            best = -1
            for s in range(n_spots):
                if s == hs:
                    continue
                gain = base - row_cost[spots[s, 0] - r0] - col_cost[spots[s, 1] - c0]
                o = occupant[s]
                if o >= 0:  # the occupant moves to c's spot: its change, without its flits to c
                    sr = spots[s, 0]
                    sc = spots[s, 1]
                    # base holds c's flits to o at distance |here - spot|; swapped, they are still that far apart
                    gain -= link[o] * (abs(sr - hr) + abs(sc - hc))
                    # each of its flits gains at most the distance moved: skip a spot that cannot beat the best
                    if gain + total[o] * (abs(sr - hr) + abs(sc - hc)) <= best_gain:
                        continue
                    for k in range(nbr_ptr[o], nbr_ptr[o + 1]):
                        m = nbr[k]
                        if m == c:
                            continue
                        mr = pos[m, 0]
                        mc = pos[m, 1]
                        gain += flits[k] * (abs(sr - mr) + abs(sc - mc) - abs(hr - mr) - abs(hc - mc))
                if gain > best_gain:
                    best_gain = gain
                    best = s
            for k in range(lo, hi):
                link[nbr[k]] = 0
            if best >= 0:
                o = occupant[best]
                occupant[hs] = o
                if o >= 0:
                    core_spot[o] = hs
                    pos[o, 0] = hr
                    pos[o, 1] = hc
                occupant[best] = c
                core_spot[c] = best
                pos[c, 0] = spots[best, 0]
                pos[c, 1] = spots[best, 1]
                improved = True
        if not improved:
            break
    return passes
