"""Benchmark: cost of NVM write accounting against a bare numpy assignment of the same levels.

A 1,000,000-cell memory on the default profile (rram_hfo2); each call changes the level of 1 % of the cells.
Three request shapes, each timed side by side with its bare numpy equivalent in the same run:

- whole-array request  ``program(None, levels)``       vs ``stored[:] = levels``
- all cells by index    ``program(all_cells, levels)``  vs ``stored[all_cells] = levels``
- changed cells only    ``program(changed, new)``       vs ``stored[changed] = new``

Prints medians of --repeats calls and the ratio program / bare (target: at most 3x). Run:
``python benchmarks/bench_memory.py``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import neurosim


def _median_time(fn, prepare, repeats: int) -> float:
    times = []
    for i in range(repeats):
        args = prepare(i)
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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

        t_prog = _median_time(memory.program, lambda i, prog=make_prog: prog(requests[i + 1]), args.repeats)
        t_bare = _median_time(assign, lambda i, bare_args=make_bare: bare_args(requests[i + 1]), args.repeats)
        summary = memory.summary()
        assert summary.writes_total <= (args.repeats + 1) * n_change  # manufacture-stuck cells are skipped
        rows.append((label, t_prog, t_bare, t_prog / t_bare))

    print(f"program() on {n:,} cells, {n_change:,} changing per call, profile {profile.name}, "
          f"median of {args.repeats} calls")
    print(f"{'request':<22}{'program (ms)':>14}{'bare numpy (ms)':>17}{'ratio':>8}")
    for label, tp, tb, ratio in rows:
        print(f"{label:<22}{tp * 1e3:>14.3f}{tb * 1e3:>17.3f}{ratio:>8.2f}")
    return rows


if __name__ == "__main__":
    from neurosim.errors import NeurosimError

    try:
        main()
    except NeurosimError as exc:  # bad input (e.g. no MNIST folder): one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
