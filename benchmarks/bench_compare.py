"""Benchmark: online adaptation on MNIST, ternary and 8-bit weights, every gradient trainer side by side.

(a) The 10,000-image MNIST set: pre-train on the host on images 0-3,999, map onto the chip (rram_hfo2; 8-bit
weights take 7 binary digit slices per side of a differential pair, so ``crossbar.cells_per_weight`` = 14), adapt
on-chip on a shifted stream built from images 4,000-7,999 (one pass, per-sample updates for sgd and nvm_sgd, the
trainers' own batch sizes otherwise), and test on images 8,000-9,999 under the same shift. Prints accuracy before and
after adaptation, writes_total and writes_max_cell per trainer, and the worst-cell write ratios
(target at 8 bits: lowrank needs at least 100x fewer worst-cell writes than nvm_sgd and sgd, with accuracy no
worse than theirs).

(b) Gradient-free training from scratch: see ``benchmarks/bench_bitflip.py``.

Run: ``python benchmarks/bench_compare.py [--bits 2 8] [--shift rotate] [--model 784-64-10]``
"""

from __future__ import annotations

import argparse
import json

import neurosim
from neurosim.data import load_dataset
from neurosim.data.streams import Scenario
from neurosim.experiments.compare import CompareSpec, run_compare


def main(argv: list[str] | None = None) -> dict[int, list]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--model", default="784-64-10")
    parser.add_argument("--bits", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--shift", default="rotate")
    parser.add_argument("--analog-drift", type=float, default=0.0)
    parser.add_argument("--digital-drift", type=float, default=0.0)
    parser.add_argument("--trainers", nargs="+", default=["sgd", "nvm_sgd", "lowrank"])
    parser.add_argument("--stream", type=int, default=4000, help="stream samples used (from image 4,000 on)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", action="append", default=[], metavar="TRAINER.KEY=VALUE",
                        help="trainer hyper-parameter, repeatable (e.g. --param lowrank.accumulate=100)")
    args = parser.parse_args(argv)
    params: dict = {}
    for item in args.param:
        head, _, rest = item.partition(".")
        key, _, text = rest.partition("=")
        params.setdefault(head, {})[key] = json.loads(text)

    data = load_dataset(args.data)
    n = len(data.x_train) + len(data.x_test)
    scenario = Scenario(shift=args.shift, analog_drift=args.analog_drift, digital_drift=args.digital_drift,
                        pretrain=(0, int(0.4 * n)), stream=(int(0.4 * n), int(0.4 * n) + args.stream),
                        test=(int(0.8 * n), n), seed=args.seed)
    results = {}
    for bits in args.bits:
        profile = neurosim.load_profile("rram_hfo2")
        if bits > 2:
            profile = profile.replace({"name": f"rram_hfo2_{bits}bit", "crossbar.cells_per_weight": 14})
        spec = CompareSpec(trainers=args.trainers, profile=profile, data=args.data, model=args.model,
                           weight_bits=bits, scenario=scenario, seed=args.seed,
                           batch_sizes={"sgd": 1, "nvm_sgd": 1}, params=params)
        records = run_compare(spec, out_dir=None, progress=True)
        results[bits] = records
        print(f"\n{args.model} with {bits}-bit weights, shift {args.shift}, {args.stream} stream samples, "
              f"profile {profile.name}")
        print(f"{'trainer':<10}{'before':>9}{'after':>9}{'writes':>12}{'worst cell':>12}{'aux bytes':>11}")
        for r in records:
            print(f"{r.trainer['name']:<10}{100 * r.epochs[0].test_accuracy:>8.2f}%"
                  f"{100 * r.final.test_accuracy:>8.2f}%{r.final.writes_total:>12,}{r.final.writes_max_cell:>12,}"
                  f"{r.final.aux_memory_bytes:>11,}")
        by = {r.trainer["name"]: r for r in records}
        if "lowrank" in by:
            low = max(by["lowrank"].final.writes_max_cell, 1)
            for other in ("nvm_sgd", "sgd"):
                if other in by:
                    ratio = by[other].final.writes_max_cell / low
                    gap = 100 * (by["lowrank"].final.test_accuracy - by[other].final.test_accuracy)
                    print(f"  worst-cell writes {other} / lowrank: {ratio:,.1f}x; accuracy lowrank - {other}: "
                          f"{gap:+.2f} points")
    return results


if __name__ == "__main__":
    main()
