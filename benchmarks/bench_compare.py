"""Benchmark: online adaptation on MNIST, ternary and 8-bit weights, the gradient trainers side by side.

The 10,000-image MNIST set: pre-train on the host on images 0-3,999, map onto the chip (rram_hfo2; 8-bit weights
take 7 binary digit slices per side of a differential pair, so ``crossbar.cells_per_weight`` = 14), adapt on-chip
in one pass on a shifted stream built from images 4,000-7,999, and test on images 8,000-9,999 under the same shift.
Every configuration runs with several seeds (seed = host pre-training, shift draws, chip noise, trainer state);
the table gives medians, and worst-cell write ratios and accuracy gaps are taken between medians.

Configurations (see ``CONFIGS``): ``sgd`` latent weights + Adam, per sample; ``nvm_sgd`` per sample without latent
weights (the low-rank paper's baseline); ``lowrank`` as in the paper (the pending sum is held, written every
B = 100 samples); ``lowrank+apply`` our extension (the periphery applies the pending rank-32 update as a digital
correction; it is written every 2,000 samples and at the end of the stream).

Target (printed with PASS/FAIL for every bit width, though stated for 8 bits): ``lowrank+apply`` needs at least 100x
fewer worst-cell writes than ``nvm_sgd`` and ``sgd``, with accuracy no worse than theirs.

(b) Gradient-free training from scratch: see ``benchmarks/bench_bitflip.py``.

Run: ``python benchmarks/bench_compare.py [--bits 8 2] [--seeds 0 1 2 3 4] [--shift rotate] [--only LABEL ...]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import neurosim
from neurosim.data import load_dataset
from neurosim.data.streams import Scenario
from neurosim.experiments.compare import CompareSpec, run_compare
from neurosim.training import TrainingError, parse_param_text, trainer_class

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, run_main, verdict

WORST_RATIO_TARGET = 100.0

# label -> (trainer, hyper-parameters, samples per step); per weight precision. Learning rates are the best on a
# validation setting that never sees the test images (stream 4,000-6,999, images 7,000-7,999 as the test, seeds 0-1,
# median): sgd 1e-3 (86.1 %; 3e-4: 82.1, 3e-3: 84.8), nvm_sgd 0.03 (84.6 %; 0.01: 68.5, 0.1: 73.5), lowrank+apply
# 0.01 at 8 bits (83.1 %; 0.003: 78.8, 0.03: 81.9) and 0.03 at 2 bits (74.6 %; 0.01: 67.6, 0.1: 11.9). (An earlier
# session had picked the same values on this benchmark's test images; re-done on validation, nothing moved.) sgd
# also at 5e-4, nearly as accurate with fewer writes; lowrank's rank 4, B = 100 are the paper's.
OFF = 1e12  # a conditioning guard that never trips (see the lowrank docstring: long accumulations)
CONFIGS = {
    8: {"sgd": ("sgd", {"lr": 1e-3}, 1),
        "sgd_lr5e-4": ("sgd", {"lr": 5e-4}, 1),
        "nvm_sgd": ("nvm_sgd", {"lr": 0.03}, 1),
        "lowrank": ("lowrank", {"accumulate": 100, "lr": 0.03}, 10),
        "lowrank+apply": ("lowrank", {"apply_pending": True, "rank": 32, "lr": 0.01, "accumulate": 2000,
                                      "kappa_th": OFF}, 10)},
    2: {"sgd": ("sgd", {}, 1),
        "nvm_sgd": ("nvm_sgd", {}, 1),
        "lowrank": ("lowrank", {"accumulate": 100, "lr": 0.03}, 10),
        "lowrank+apply": ("lowrank", {"apply_pending": True, "rank": 32, "lr": 0.03, "accumulate": 2000,
                                      "kappa_th": OFF}, 10)},
}


def _profile(bits: int):
    profile = neurosim.load_profile("rram_hfo2")
    if bits > 2:
        profile = profile.replace({"name": f"rram_hfo2_{bits}bit", "crossbar.cells_per_weight": 14})
    return profile


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """``LABEL.KEY=VALUE`` -> ``{LABEL: {KEY: value}}``, each value parsed to the type its trainer declares."""
    labels = {label: name for configs in CONFIGS.values() for label, (name, _, _) in configs.items()}
    out: dict[str, dict] = {}
    for item in items:
        label, _, rest = item.partition(".")
        if label not in labels or "=" not in rest:
            raise TrainingError(f"--param takes LABEL.KEY=VALUE with LABEL one of {', '.join(labels)} (got {item!r})")
        name = labels[label]
        key, value = parse_param_text(name, trainer_class(name).hyper_parameters, rest)
        out.setdefault(label, {})[key] = value
    return out


def run_one(label: str, bits: int, seed: int, args, overrides: dict, n: int) -> dict:
    """One configuration, one seed (``n`` images in the data set): the figures of its run record."""
    name, params, batch = CONFIGS[bits][label]
    params = {**params, **overrides.get(label, {})}
    scenario = Scenario(shift=args.shift, analog_drift=args.analog_drift, digital_drift=args.digital_drift,
                        pretrain=(0, int(0.4 * n)), stream=(int(0.4 * n), int(0.4 * n) + args.stream),
                        test=(int(0.8 * n), n), strength=args.strength, seed=seed)
    spec = CompareSpec(trainers=[name], profile=_profile(bits), data=args.data, model=args.model, weight_bits=bits,
                       scenario=scenario, seed=seed, batch_sizes={name: batch}, params={name: params})
    t0 = time.perf_counter()
    records = run_compare(spec, out_dir=None, progress=False)
    if not records:  # Ctrl-C stopped the study before the run finished
        raise KeyboardInterrupt
    (record,) = records
    return {"before": record.epochs[0].test_accuracy, "after": record.final.test_accuracy,
            "online": record.online_accuracy,
            "writes": record.final.writes_total, "worst": record.final.writes_max_cell,
            "aux": record.final.aux_memory_bytes, "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--model", default="784-64-10")
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 2], choices=sorted(CONFIGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--shift", default="rotate")
    parser.add_argument("--strength", type=float, default=1.0, help="scale of the shift (1: rotations of 15-35 deg)")
    parser.add_argument("--analog-drift", type=float, default=0.0)
    parser.add_argument("--digital-drift", type=float, default=0.0)
    parser.add_argument("--stream", type=int, default=4000, help="stream samples used (from image 4,000 on)")
    parser.add_argument("--only", nargs="+", metavar="LABEL", help="run only these configurations")
    parser.add_argument("--param", action="append", default=[], metavar="LABEL.KEY=VALUE",
                        help="override a hyper-parameter, repeatable (e.g. --param lowrank+apply.rank=32)")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.param)
    data = load_dataset(args.data)
    n = len(data.x_train) + len(data.x_test)

    load = Load()
    results: dict = {}
    for bits in args.bits:
        labels = [k for k in CONFIGS[bits] if not args.only or k in args.only]
        runs = {label: [] for label in labels}
        for seed in args.seeds:
            for label in labels:
                r = run_one(label, bits, seed, args, overrides, n)
                runs[label].append(r)
                print(f"  {bits}-bit seed {seed} {label:<14} {100 * r['before']:6.2f}% -> {100 * r['after']:6.2f}%  "
                      f"writes {r['writes']:>11,}  worst cell {r['worst']:>5,}  ({r['seconds']:.0f} s)", flush=True)
        med = {label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()}
        results[bits] = {"runs": runs, "median": med}
        print(f"\n{args.model}, {bits}-bit weights, shift {args.shift}, {args.stream} stream samples, "
              f"medians over seeds {args.seeds}")
        print("| configuration | before | after | writes | worst cell | worst cell per seed | aux bytes |")
        print("|---|---|---|---|---|---|---|")
        for label in labels:
            m = med[label]
            per_seed = " / ".join(str(r["worst"]) for r in runs[label])
            print(f"| {label} | {100 * m['before']:.2f} % | {100 * m['after']:.2f} % | {m['writes']:,.0f} | "
                  f"{m['worst']:,.0f} | {per_seed} | {m['aux']:,.0f} |")
        for low in [k for k in labels if k.startswith("lowrank")]:
            for other in [k for k in labels if not k.startswith("lowrank")]:
                ratio = med[other]["worst"] / max(med[low]["worst"], 1)
                gap = 100 * (med[low]["after"] - med[other]["after"])
                print(f"  worst-cell writes {other} / {low}: {ratio:,.1f}x; accuracy {low} - {other}: "
                      f"{gap:+.2f} points")
        if "lowrank+apply" in labels:
            low = med["lowrank+apply"]
            for other in [k for k in ("sgd", "nvm_sgd") if k in labels]:
                ratio = med[other]["worst"] / max(low["worst"], 1)
                gap = 100 * (low["after"] - med[other]["after"])
                print(f"  target ({bits}-bit): lowrank+apply vs {other}: worst-cell writes {ratio:,.1f}x fewer "
                      f"(target >= {WORST_RATIO_TARGET:g}x) and accuracy {gap:+.2f} points (target >= 0): "
                      f"{verdict(ratio >= WORST_RATIO_TARGET and gap >= 0)}")
            print("  accuracy after, min-max over seeds: " + ", ".join(
                f"{k} {100 * min(r['after'] for r in rs):.2f}-{100 * max(r['after'] for r in rs):.2f} %"
                for k, rs in runs.items()))
        print()
    print(load.describe())
    return results


if __name__ == "__main__":
    run_main(main)
