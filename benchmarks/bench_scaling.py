"""Benchmark: how the simulator's costs grow with the network: forward, training epochs, mapping, peak memory.

MLPs 784-h-10 for h = 64 ... 1024 on rram_hfo2, and one large model, 784-4096-10 on truenorth_like, each measured
in a fresh child process (so that its peak memory is its own):

- ``map s``: mapping the model onto the chip (tiling, packing, placement search, traffic);
- ``forward s``: one counted chip forward pass over the 2,000 MNIST test images (median of 3 after a warm-up);
- ``sgd epoch s`` and ``coordinate epoch s``: one training epoch over the 8,000 training images at batch 64, full
  accounting (wall time of the second epoch, monitoring excluded);
- ``peak MB``: the child's peak resident memory (ru_maxrss).

Then the growth exponent of each figure over the rram_hfo2 series: the slope of log(figure) against
log(weights), least squares (1: linear in the network's size). Targets: mapping the large model within seconds
(<= 5 s), and no figure growing faster than linearly (exponent <= 1.2).
Run: ``python benchmarks/bench_scaling.py [--hidden 64 128 256 512 1024] [--no-large]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, run_main, verdict

LARGE = ("784-4096-10", "truenorth_like")
MAP_TARGET_S = 5.0
EXPONENT_TARGET = 1.2


def measure(spec: str, profile: str, data_name: str) -> dict:
    """Child process: every figure of one model on one profile."""
    import neurosim
    from neurosim.data import load_dataset
    from neurosim.mapping.mapper import map_model
    from neurosim.nn.spec import model_from_spec
    from neurosim.training import make_trainer, train

    data = load_dataset(data_name)
    model = model_from_spec(spec, data.input_shape, data.n_classes, seed=0)
    prof = neurosim.load_profile(profile)
    map_model(model, prof, "optimized")  # JIT warm-up of the placement kernel
    t0 = time.perf_counter()
    map_model(model, prof, "optimized")
    map_s = time.perf_counter() - t0
    chip = neurosim.Chip(prof, model, seed=0)
    x = data.x_test
    chip.forward(x)
    forward = []
    for _ in range(3):
        t0 = time.perf_counter()
        chip.forward(x)
        forward.append(time.perf_counter() - t0)
    out = {"weights": model.n_weights, "map_s": map_s, "forward_s": statistics.median(forward)}
    for trainer in ("sgd", "coordinate"):
        chip = neurosim.Chip(prof, model_from_spec(spec, data.input_shape, data.n_classes, seed=0), seed=0)
        record = train(chip, make_trainer(trainer), data, epochs=2, batch_size=64, seed=0, eval_train_samples=1)
        out[f"{trainer}_epoch_s"] = record.epochs[2].wall_time_s - record.epochs[1].wall_time_s
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _child(spec: str, profile: str, data: str) -> dict:
    cmd = [sys.executable, __file__, "--child", spec, profile, "--data", data]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=dict(os.environ))
    if done.returncode:
        raise SystemExit(f"{spec} on {profile} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def exponent(weights: list[int], values: list[float]) -> float:
    """Slope of log(value) against log(weights), least squares."""
    return float(np.polyfit(np.log(weights), np.log(values), 1)[0])


FIGURES = (("map_s", "map s", 3), ("forward_s", "forward s", 3), ("sgd_epoch_s", "sgd epoch s", 2),
           ("coordinate_epoch_s", "coordinate epoch s", 2), ("peak_mb", "peak MB", 0))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--profile", default="rram_hfo2")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--no-large", action="store_true", help=f"skip {LARGE[0]} on {LARGE[1]}")
    parser.add_argument("--child", nargs=2, metavar=("SPEC", "PROFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(*args.child, args.data)))
        return {}

    load = Load()
    rows = {}
    for h in args.hidden:
        rows[(f"784-{h}-10", args.profile)] = _child(f"784-{h}-10", args.profile, args.data)
        print(f"  measured 784-{h}-10 on {args.profile}", flush=True)
    if not args.no_large:
        rows[LARGE] = _child(*LARGE, args.data)
        print(f"  measured {LARGE[0]} on {LARGE[1]}", flush=True)

    print(f"\nscaling on {args.data} (2,000 test images forward; 8,000 training images per epoch, batch 64)")
    header = f"{'model':<14}{'profile':<16}{'weights':>11}" + "".join(f"{label:>20}" for _, label, _ in FIGURES)
    print(header)
    for (spec, profile), r in rows.items():
        print(f"{spec:<14}{profile:<16}{r['weights']:>11,}"
              + "".join(f"{r[key]:>20,.{digits}f}" for key, _, digits in FIGURES))
    series = [r for (spec, profile), r in rows.items() if profile == args.profile]
    exponents = {}
    if len(series) >= 2:
        weights = [r["weights"] for r in series]
        exponents = {key: exponent(weights, [r[key] for r in series]) for key, _, _ in FIGURES}
        print(f"{'growth exponent (' + args.profile + ', vs weights)':<41}"
              + "".join(f"{exponents[key]:>20.2f}" for key, _, _ in FIGURES))
    print("\ntargets:")
    if LARGE in rows:
        t = rows[LARGE]["map_s"]
        print(f"  {LARGE[0]} on {LARGE[1]} maps in {t:.2f} s (target <= {MAP_TARGET_S:g} s): "
              f"{verdict(t <= MAP_TARGET_S)}")
    for key, label, _ in FIGURES:
        if key in exponents:
            e = exponents[key]
            print(f"  {label}: exponent {e:.2f} (target <= {EXPONENT_TARGET}): {verdict(e <= EXPONENT_TARGET)}")
    print(load.describe())
    return {"rows": rows, "exponents": exponents}


if __name__ == "__main__":
    run_main(main)
