"""Benchmark: studies in parallel, and price-only axes re-priced instead of re-simulated.

(a) 16 training points (``sgd``, ``coordinate``, ``lowrank``, ``bitflip`` x 4 seeds; digits, 64-64-10, 15 epochs)
    run as one study with 1 worker process and again with 2, side by side in this run: the speed-up of the study's
    wall time (target >= 1.7x on 2 cores) and whether both runs stored identical records (wall times aside).
(b) a 40-point axis over ``device.set_energy_pj`` (a price): the study re-prices 39 points from the one it
    simulates; the same study with ``reprice=False`` simulates all 40. Printed: the time per point both ways and
    their ratio (target >= 100x), the studies' wall times, and whether every re-priced record and metric equals the
    re-simulated one (wall times aside).

Run: ``python benchmarks/bench_sweep.py [--repeats N] [--epochs E]`` (about two minutes on 2 cores with defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neurosim.experiments import run_study, study_spec_from_dict
from neurosim.experiments.store import StudyStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_main


def _strip(record: dict) -> dict:
    record = json.loads(json.dumps(record))
    for part in record.get("epochs", []) + record.get("checkpoints", []):
        part.pop("wall_time_s", None)
    return record


def _stored(folder: Path) -> dict[str, tuple[dict, dict, float, str | None]]:
    with StudyStore.open(folder) as store:
        return {p.key: (_strip(store.record(p.key)), {k: v for k, v in p.metrics.items() if k != "wall_time_s"},
                        p.wall_s, p.repriced_from) for p in store.points()}


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def parallel(tmp: Path, repeats: int, epochs: int) -> bool:
    spec = study_spec_from_dict({"name": "parallel", "kind": "train", "model": "64-64-10", "data": "digits",
                                 "epochs": epochs, "trainers": ["sgd", "coordinate", "lowrank", "bitflip"],
                                 "seeds": 4})
    times: dict[int, list[float]] = {1: [], 2: []}
    identical = True
    for r in range(repeats):
        for workers in (1, 2):  # alternated, so that both see the same machine load
            folder = tmp / f"parallel_{r}_{workers}"
            t0 = time.perf_counter()
            outcome = run_study(spec, folder, workers=workers, progress=False)
            times[workers].append(time.perf_counter() - t0)
            assert outcome.computed == 16 and outcome.failed == 0, outcome
        one, two = _stored(tmp / f"parallel_{r}_1"), _stored(tmp / f"parallel_{r}_2")
        identical &= all(one[k][:2] == two[k][:2] for k in one) and one.keys() == two.keys()
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    speedup = t1 / t2
    print(f"(a) 16 training points (digits 64-64-10, {epochs} epochs; sgd, coordinate, lowrank, bitflip x 4 seeds), "
          f"median of {repeats}")
    print(f"    1 worker   {t1:7.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times[1])})")
    print(f"    2 workers  {t2:7.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times[2])})")
    ok = speedup >= 1.7
    print(f"    speed-up   {speedup:7.2f} x  target >= 1.7x: {'PASS' if ok else 'FAIL'}; records identical: "
          f"{identical}")
    return ok and identical


def repricing(tmp: Path) -> bool:
    energies = [float(e) for e in np.round(np.geomspace(0.5, 20.0, 40), 4)]
    spec = study_spec_from_dict({"name": "prices", "kind": "train", "model": "64-64-10", "data": "digits",
                                 "epochs": 5, "trainers": ["sgd"], "seeds": 1,
                                 "axes": {"device.set_energy_pj": energies}})
    t0 = time.perf_counter()
    fast = run_study(spec, tmp / "repriced", workers=2, progress=False)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = run_study(spec, tmp / "simulated", workers=2, progress=False, reprice=False)
    t_slow = time.perf_counter() - t0
    assert (fast.computed, fast.repriced) == (1, 39) and (slow.computed, slow.repriced) == (40, 0)
    a, b = _stored(tmp / "repriced"), _stored(tmp / "simulated")
    derived = [k for k, v in a.items() if v[3] is not None]
    identical = all(a[k][0] == b[k][0] and a[k][1] == b[k][1] for k in a)
    # re-pricing as the coordinator does it, store writes included: from the simulated point's commit to the
    # last re-priced point's commit, per point
    with sqlite3.connect(tmp / "repriced" / "study.sqlite") as db:
        finished = sorted(t for (t,) in db.execute("SELECT finished FROM points"))
    per_repriced = (finished[-1] - finished[0]) / len(derived)
    per_simulated = statistics.median(b[k][2] for k in derived)
    ratio = per_simulated / per_repriced
    ok = ratio >= 100
    print("(b) 40 points over device.set_energy_pj (0.5 to 20 pJ), sgd, digits 64-64-10, 5 epochs, 2 workers")
    print(f"    per point: simulated {per_simulated * 1e3:8.1f} ms (median of the worker's wall time per point), "
          f"re-priced {per_repriced * 1e3:6.2f} ms (coordinator, store write included)")
    print(f"    ratio      {ratio:8.0f} x  target >= 100x: {'PASS' if ok else 'FAIL'}")
    print(f"    study wall time: re-priced {t_fast:.2f} s (1 simulated + 39 re-priced), re-simulated {t_slow:.2f} s "
          f"(40 simulated): {t_slow / t_fast:.1f}x")
    print(f"    every re-priced record and metric equals the re-simulated one: {identical}")
    return ok and identical


def main(argv: list[str] | None = None) -> bool:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="repeats of (a) (median reported)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of each point of (a)")
    parser.add_argument("--only", choices=("parallel", "repricing"), default=None)
    args = parser.parse_args(argv)
    print(f"load average before: {_load()} (1/5/15 min), cores available: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        ok = True
        if args.only in (None, "parallel"):
            ok &= parallel(Path(tmp), args.repeats, args.epochs)
        if args.only in (None, "repricing"):
            ok &= repricing(Path(tmp))
    print(f"load average after: {_load()}")
    return ok


if __name__ == "__main__":
    run_main(main)
