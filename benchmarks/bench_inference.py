"""Benchmark: chip inference with full accounting against a plain numpy float forward of the same weights.

The shipped MNIST MLP (784-256-10, ternary) over the 2,000 MNIST test images (last 2,000 of the 10,000-image set),
timed side by side in one run, in three rounds (each round times every variant ``--repeats / 3`` times, so that
the machine's moods are shared; a pause after the two-thread numpy passes lets OpenBLAS's spinning threads stop
before the chips run):

- ``numpy``: ``relu(x @ (s1 * W1) + b1) @ (s2 * W2) + b2`` in float64 (weights decoded once, outside the timing),
  with BLAS at 1 and at 2 threads (threadpoolctl); the faster is the reference;
- ``chip ideal``: ``Chip("ideal", model).forward(x)``: DAC, per-tile MVM on the NVM's effective levels, ADC per
  column, digital partial sums, every event counted;
- ``chip rram 4-bit ADC``: the rram_hfo2 profile with 4-bit ADCs (calibrated on 256 training images), its
  programming noise, manufacture faults and IR drop, read noise off;
- ``chip rram 4-bit ADC + read noise``: the same with the profile's read noise, a fresh Gaussian per tile, column
  and input vector (7 x 256 x 2,000 draws per pass for this model: the cost of the model, not of the bookkeeping;
  the time of those draws alone is printed beside it).

Prints samples/s (median, with the min-max of the pass times), the ratio chip / numpy and the accuracy of each,
and PASS/FAIL against the target: both chips without read noise within 1.5x of the numpy forward's time, in the
default environment (neurosim's defaults: single-threaded BLAS, chip inference split over the cores by rows).
Run: ``python benchmarks/bench_inference.py [--data mnist:PATH] [--repeats 21]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

import neurosim
from neurosim.chip._parallel import thread_count
from neurosim.data import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, run_main, spread, verdict

TARGET = 1.5  # chip pass time / numpy pass time, without read noise


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> list[tuple[str, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--model", default="mnist_mlp")
    parser.add_argument("--n", type=int, default=2000, help="test images")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)

    data = load_dataset(args.data)
    model = neurosim.load_model(args.model)
    x = np.ascontiguousarray(data.x_test[: args.n].reshape(min(args.n, len(data.x_test)), -1))
    y = data.y_test[: args.n]
    dense = [layer for layer in model.layers if layer.analog]
    if len(dense) != 2 or any(layer.kind != "dense" for layer in dense):
        raise SystemExit("this benchmark's numpy baseline is written for a two-layer MLP (e.g. mnist_mlp)")
    w1 = dense[0].weight_matrix() * dense[0].scale
    w2 = dense[1].weight_matrix() * dense[1].scale
    b1, b2 = dense[0].bias, dense[1].bias

    def numpy_forward() -> np.ndarray:
        return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2

    ideal = neurosim.Chip("ideal", model)
    rram = neurosim.load_profile("rram_hfo2").replace({"name": "rram_hfo2_adc4", "periphery.adc_bits": 4})
    quiet = neurosim.Chip(rram.replace({"device.read_noise_sigma": 0.0}), model, calibration=data.x_train[:256])
    noisy = neurosim.Chip(rram, model, calibration=data.x_train[:256])
    ideal.forward(x[:10])  # JIT warm-up (numba kernels are cached after the first run)
    draws = np.empty(len(x) * max(lt.fan_out for lt in noisy.mapping.tilings))
    n_draws = sum(lt.row_blocks * lt.layout.slices * lt.fan_out for lt in noisy.mapping.tilings) * len(x)
    rng = np.random.default_rng(0)

    def draw_only() -> None:  # the read noise's normal draws alone, in the chip's block sizes
        for lt in noisy.mapping.tilings:
            buffer = draws[: len(x) * lt.fan_out]
            for _ in range(lt.row_blocks * lt.layout.slices):
                rng.standard_normal(out=buffer)

    load = Load()
    controller = ThreadpoolController()
    chips = (("chip ideal", ideal, TARGET), ("chip rram 4-bit ADC", quiet, TARGET),
             ("chip rram 4-bit ADC + read noise", noisy, None))
    times: dict[str, list[float]] = {label: [] for label in ("numpy 1 BLAS thread", "numpy 2 BLAS threads",
                                                            "read noise draws alone", *(c[0] for c in chips))}
    rounds = 3
    per_round = -(-args.repeats // rounds)
    for _ in range(rounds):
        for threads in (1, 2):
            with controller.limit(limits=threads, user_api="blas"):
                for _ in range(per_round):
                    times[f"numpy {threads} BLAS thread{'s' if threads > 1 else ''}"].append(_timed(numpy_forward))
        time.sleep(0.3)  # OpenBLAS's idle threads spin for a while after a call: let them stop before the chips
        for label, chip, _ in chips:
            for _ in range(per_round):
                times[label].append(_timed(lambda chip=chip: chip.forward(x)))
        for _ in range(per_round):
            times["read noise draws alone"].append(_timed(draw_only))
    reference = min(("numpy 1 BLAS thread", "numpy 2 BLAS threads"), key=lambda k: statistics.median(times[k]))
    t_ref = statistics.median(times[reference])
    accuracy = {"numpy 1 BLAS thread": float(np.mean(np.argmax(numpy_forward(), 1) == y))}
    accuracy["numpy 2 BLAS threads"] = accuracy["numpy 1 BLAS thread"]
    for label, chip, _ in chips:
        accuracy[label] = float(np.mean(chip.predict(x, count=False) == y))
    exact = np.array_equal(ideal.predict(x, count=False), model.predict(x))

    print(f"{model.name} on {len(x)} MNIST test images, {rounds * per_round} passes each ({rounds} rounds); "
          f"reference: {reference}; chip inference on {thread_count()} threads")
    print(f"{'forward':<36}{'samples/s':>11}{'pass ms: median [min-max]':>34}{'/ numpy':>9}{'accuracy':>10}  target")
    rows, targets = [], {label: target for label, _, target in chips}
    for label, values in times.items():
        t = statistics.median(values)
        ratio = t / t_ref
        target = targets.get(label)
        verdict_text = "" if target is None else f"  <= {target}x {verdict(ratio <= target)}"
        acc = f"{100 * accuracy[label]:>9.2f}%" if label in accuracy else f"{'':>10}"
        print(f"{label:<36}{len(x) / t:>11,.0f}{spread(values, 1e3, 2):>34}{ratio:>8.2f}x{acc}{verdict_text}")
        rows.append((label, len(x) / t, accuracy.get(label, float("nan"))))
    print(f"read noise: {n_draws:,} normal draws per pass; drawing them alone takes "
          f"{statistics.median(times['read noise draws alone']) / t_ref:.2f}x the numpy forward")
    print(f"ideal chip predictions equal the reference ternary model: {exact}")
    report = ideal.report()
    print(f"ideal chip: {report.total_energy_per_inference_j:.3e} J and {report.latency_s:.3e} s per inference")
    print(load.describe())
    return rows


if __name__ == "__main__":
    run_main(main)
