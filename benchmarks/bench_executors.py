"""Benchmark: the three executors (analog crossbars, integer lookup tables, spiking neurons) side by side.

On the MNIST test split (the last 2,000 of the 10,000 images; converters, activation ranges and thresholds set on
256 training images), for ``mnist_mlp`` and ``mnist_cnn`` on ``rram_hfo2``, ``truenorth_like`` and ``loihi_like``:
accuracy, energy per inference and inferences/s of

- ``analog``: crossbar MVMs with DACs and ADCs;
- ``lut`` at A = 32 and 16 activation levels: integer-only inference;
- ``spiking`` at T = 16, 32, 64 and 128 timesteps (the numpy twin; deterministic input).

Then the targets, each with PASS/FAIL:

- lut within 0.5 points of the float-activation reference (the same codes the chip holds, float activations) and
  its deployable model memory under one third of a float32 model's;
- spiking within 1 point of analog at T = 64 on mnist_mlp (``rram_hfo2``);
- the twin at least 1,000 inferences/s for mnist_mlp at T = 32;
- brian2 running the 2,000-image split (mnist_mlp, T = 32) in under 5 minutes, and giving the twin's spike counts.

Run: ``python benchmarks/bench_executors.py [--n 2000] [--models ...] [--profiles ...]`` (about 10 minutes on 2 cores
with the defaults).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import neurosim
from neurosim.chip import EXECUTORS
from neurosim.data import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_main

TIMESTEPS = (16, 32, 64, 128)
LEVELS = (32, 16)


def _float_reference(chip: neurosim.Chip, x: np.ndarray) -> np.ndarray:
    """Predictions of the float-activation network on the codes the chip holds."""
    for i, layer in enumerate(chip.model.layers):
        if layer.analog:
            w = chip.held.codes(i).reshape(layer.fan_in, layer.fan_out) * chip.held.scale(i)
            y = (layer.rows(x) @ w + chip.held.bias(i)).reshape(x.shape[0], *layer.output_shape(tuple(x.shape[1:])))
            x = np.maximum(y, 0.0) if layer.activation == "relu" else y
        else:
            x = layer.forward(x)
    return np.argmax(x, axis=1)


def _run(chip: neurosim.Chip, x: np.ndarray, y: np.ndarray, batch: int = 500) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    predicted = np.concatenate([chip.predict(x[i: i + batch]) for i in range(0, len(x), batch)])
    seconds = time.perf_counter() - t0
    return float(np.mean(predicted == y)), chip.report().total_energy_per_inference_j, len(x) / seconds


def main(argv: list[str] | None = None) -> bool:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--n", type=int, default=2000, help="test images")
    parser.add_argument("--models", nargs="+", default=["mnist_mlp", "mnist_cnn"])
    parser.add_argument("--profiles", nargs="+", default=["rram_hfo2", "truenorth_like", "loihi_like"])
    parser.add_argument("--brian2-n", type=int, default=None, help="images for the brian2 run (default: --n)")
    args = parser.parse_args(argv)
    data = load_dataset(args.data)
    x, y = data.x_test[: args.n], data.y_test[: args.n]
    calibration = data.x_train[:256]
    print(f"{args.data}: {len(x)} test images; load average {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'model':<10} {'profile':<15} {'executor':<22} {'accuracy':>9} {'J/inference':>12} {'inferences/s':>13}")
    results: dict[tuple, tuple[float, float, float]] = {}
    lut_checks = []
    for name in args.models:
        model = neurosim.load_model(name)
        for profile in args.profiles:
            runs = [("analog", {})]
            if "lut" in EXECUTORS:
                runs += [("lut", {"activation_levels": a}) for a in LEVELS]
            runs += [("spiking", {"timesteps": t, "engine": "twin"}) for t in TIMESTEPS]
            for executor, options in runs:
                chip = neurosim.Chip(profile, model, calibration=calibration, executor=executor,
                                     executor_options=options)
                label = executor + "".join(f" {k[0].upper()}={v}" for k, v in options.items() if k != "engine")
                acc, energy, rate = results[(name, profile, label)] = _run(chip, x, y)
                print(f"{name:<10} {profile:<15} {label:<22} {100 * acc:>8.2f}% {energy:>12.3e} {rate:>13,.0f}")
                if executor == "lut":
                    reference = float(np.mean(_float_reference(chip, x) == y))
                    memory = chip.executor.deployable_bytes()
                    lut_checks.append((name, profile, options["activation_levels"], acc, reference, memory))
    ok = True
    print("\ntargets")
    for name, profile, levels, acc, reference, memory in lut_checks:
        gap = 100 * (reference - acc)
        ratio = memory["integer"] / memory["float32"]
        good = gap <= 0.5 and ratio < 1 / 3
        ok &= good or levels != 32  # the paper's |A| = 32 is the target; 16 levels is reported
        print(f"  lut {name} {profile} A={levels}: {100 * acc:.2f}% vs float activations {100 * reference:.2f}% "
              f"({gap:+.2f} points, target <= 0.5), model memory {memory['integer']:,} B vs float32 "
              f"{memory['float32']:,} B ({ratio:.3f}, target < 1/3): "
              f"{'PASS' if good else ('FAIL' if levels == 32 else 'reported')}")
    if ("mnist_mlp", "rram_hfo2", "analog") in results and ("mnist_mlp", "rram_hfo2", "spiking T=64") in results:
        analog = results[("mnist_mlp", "rram_hfo2", "analog")][0]
        spiking = results[("mnist_mlp", "rram_hfo2", "spiking T=64")][0]
        good = abs(analog - spiking) <= 0.01
        ok &= good
        print(f"  spiking T=64 mnist_mlp rram_hfo2: {100 * spiking:.2f}% vs analog {100 * analog:.2f}% "
              f"(target within 1 point): {'PASS' if good else 'FAIL'}")
    if "mnist_mlp" in args.models:
        chip = neurosim.Chip("rram_hfo2", "mnist_mlp", calibration=calibration, executor="spiking",
                             executor_options={"timesteps": 32, "engine": "twin", "batch": 2000})
        chip.predict(x[:100], count=False)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            chip.predict(x, count=False)
            times.append(time.perf_counter() - t0)
        rate = len(x) / sorted(times)[1]
        good = rate >= 1000
        ok &= good
        print(f"  twin mnist_mlp T=32: {rate:,.0f} inferences/s (median of 3; target >= 1,000): "
              f"{'PASS' if good else 'FAIL'}")
        n = args.brian2_n or len(x)
        brian = neurosim.Chip("rram_hfo2", "mnist_mlp", calibration=calibration, executor="spiking",
                              executor_options={"timesteps": 32, "engine": "brian2", "batch": 100})
        t0 = time.perf_counter()
        counts_b, _, _ = brian.executor.simulate(brian.held, x[:n])
        seconds = time.perf_counter() - t0
        counts_t, _, _ = brian.executor.simulate(brian.held, x[:n], engine="twin")
        same = bool(np.array_equal(counts_b, counts_t))
        good = seconds < 300 and same
        ok &= good
        print(f"  brian2 (target numpy) mnist_mlp T=32 on {n} images: {seconds:.1f} s (target < 300 s), spike counts "
              f"equal to the twin's: {same}: {'PASS' if good else 'FAIL'}")
    print(f"load average after: {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    return ok


if __name__ == "__main__":
    run_main(main)
