"""Benchmark: cost of NVM write accounting against a bare numpy assignment of the same levels.

A 1,000,000-cell memory on the default profile (rram_hfo2: read-before-write, programming noise per written cell);
each call changes the level of 1 % of the cells. Three request shapes, each timed side by side with its bare numpy
equivalent in the same run (medians of --repeats calls, min-max beside them):

- whole-array request  ``program(None, levels)``       vs ``stored[:] = levels``        (target <= 5x)
- all cells by index    ``program(all_cells, levels)``  vs ``stored[all_cells] = levels``
- changed cells only    ``program(changed, new)``       vs ``stored[changed] = new``     (target <= 10x)

A fourth line times the *floor* of per-cell accounting in bare numpy: for the changed cells, the level, a write
counter, a pulse counter and a fresh programming-noise offset (what any simulator that counts each cell's writes
and draws its noise must touch), so that the ratio program / floor shows what the bookkeeping itself costs.
Run: ``python benchmarks/bench_memory.py [--repeats 60]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import neurosim

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, run_main, spread, verdict

TARGETS = {"whole-array request": 5.0, "changed cells only": 10.0}


def _times(fn, prepare, repeats: int) -> list[float]:
    times = []
    for i in range(repeats):
        args = prepare(i)
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> list[tuple[str, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--fraction", type=float, default=0.01, help="fraction of cells changing per call")
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--profile", default="rram_hfo2")
    args = parser.parse_args(argv)

    profile = neurosim.load_profile(args.profile)
    n, levels = args.cells, profile.device.levels
    rng = np.random.default_rng(0)
    n_change = int(round(n * args.fraction))
    # Pre-compute every call's request so that request generation is not timed.
    requests = []
    current = np.zeros(n, dtype=np.uint8)
    for _ in range(args.repeats + 1):
        changed = np.sort(rng.choice(n, n_change, replace=False))
        new = ((current[changed].astype(np.int64) + rng.integers(1, levels, n_change)) % levels).astype(np.uint8)
        current = current.copy()
        current[changed] = new
        requests.append((changed, new, current))
    all_cells = np.arange(n, dtype=np.int64)

    load = Load()
    rows = []
    for label, make_prog, make_bare in [
        ("whole-array request", lambda r: (None, r[2]), lambda r: (slice(None), r[2])),
        ("all cells by index", lambda r: (all_cells, r[2]), lambda r: (all_cells, r[2])),
        ("changed cells only", lambda r: (r[0], r[1]), lambda r: (r[0], r[1])),
    ]:
        memory = neurosim.NVMArray(n, profile, seed=0)
        memory.program(*make_prog(requests[0]))  # JIT warm-up (cached after the first run)
        bare = np.zeros(n, dtype=np.uint8)

        def assign(index, values, bare=bare):
            bare[index] = values

        t_prog = _times(memory.program, lambda i, prog=make_prog: prog(requests[i + 1]), args.repeats)
        t_bare = _times(assign, lambda i, bare_args=make_bare: bare_args(requests[i + 1]), args.repeats)
        summary = memory.summary()
        assert summary.writes_total <= (args.repeats + 1) * n_change  # manufacture-stuck cells are skipped
        rows.append((label, statistics.median(t_prog), statistics.median(t_bare),
                     statistics.median(t_prog) / statistics.median(t_bare), t_prog, t_bare))

    # the floor: what per-cell write accounting must touch, in bare numpy (see the module docstring)
    stored, writes, pulses = np.zeros(n, np.uint8), np.zeros(n, np.uint32), np.zeros(n, np.uint32)
    offsets, rng_floor = np.zeros(n, np.float32), np.random.default_rng(1)
    sigma = np.float32(profile.device.write_noise_sigma)

    def floor(index, values):
        stored[index] = values
        writes[index] += 1
        pulses[index] += 1
        offsets[index] = sigma * rng_floor.standard_normal(index.size, dtype=np.float32)

    t_floor = _times(floor, lambda i: (requests[i + 1][0], requests[i + 1][1]), args.repeats)

    print(f"program() on {n:,} cells, {n_change:,} changing per call, profile {profile.name}, "
          f"median of {args.repeats} calls [min-max]")
    print(f"{'request':<22}{'program (ms)':>28}{'bare numpy (ms)':>28}{'ratio':>8}  target")
    for label, _, _, ratio, t_prog, t_bare in rows:
        target = TARGETS.get(label)
        text = "" if target is None else f"  <= {target:g}x {verdict(ratio <= target)}"
        print(f"{label:<22}{spread(t_prog, 1e3):>28}{spread(t_bare, 1e3):>28}{ratio:>8.2f}{text}")
    changed = rows[2]
    print(f"{'accounting floor':<22}{'':>28}{spread(t_floor, 1e3):>28}"
          f"   changed-only program / floor: {changed[1] / statistics.median(t_floor):.2f}x")
    print(load.describe())
    rows = [r[:4] for r in rows]
    return rows


if __name__ == "__main__":
    run_main(main)
