"""Slow pure-Python twins of the placement kernels in ``_kernels.py`` (private; the tests compare them).

The twin is the local search written plainly, on the kernel's array inputs.
"""

from __future__ import annotations

import numpy as np


def improve_by_swaps_python(pos: np.ndarray, nbr_ptr: np.ndarray, nbr: np.ndarray, flits: np.ndarray,
                            spots: np.ndarray, core_spot: np.ndarray, occupant: np.ndarray, max_passes: int) -> int:
    """Twin of :func:`neurosim.mapping._kernels.improve_by_swaps` (same arguments, same in-place updates)."""
    n_cores = core_spot.size

    def cost_at(core: int, where: tuple[int, int], exclude: int | None = None) -> float:
        return sum(int(flits[k]) * (abs(where[0] - int(pos[nbr[k], 0])) + abs(where[1] - int(pos[nbr[k], 1])))
                   for k in range(nbr_ptr[core], nbr_ptr[core + 1]) if nbr[k] != exclude)

    passes = 0
    for _ in range(max_passes):
        passes += 1
        improved = False
        for core in range(n_cores):
            here = (int(pos[core, 0]), int(pos[core, 1]))
            best_gain, best_spot = 0.0, None
            for s in range(len(spots)):
                spot = (int(spots[s, 0]), int(spots[s, 1]))
                if spot == here:
                    continue
                other = int(occupant[s]) if occupant[s] >= 0 else None
                # the two swapped cores' flits to each other keep their distance: left out on both sides
                gain = cost_at(core, here, exclude=other) - cost_at(core, spot, exclude=other)
                if other is not None:
                    gain += cost_at(other, spot, exclude=core) - cost_at(other, here, exclude=core)
                if gain > best_gain + 1e-9:
                    best_gain, best_spot = gain, s
            if best_spot is not None:
                hs = int(core_spot[core])
                other = int(occupant[best_spot])
                occupant[hs] = other
                if other >= 0:
                    core_spot[other] = hs
                    pos[other] = here
                occupant[best_spot] = core
                core_spot[core] = best_spot
                pos[core] = spots[best_spot]
                improved = True
        if not improved:
            break
    return passes
