"""Benchmark: chip inference with full accounting against a plain numpy float forward of the same weights.

The shipped MNIST MLP (784-256-10, ternary) over the 2,000 MNIST test images (last 2,000 of the 10,000-image set),
timed side by side in one run:

- ``numpy``: ``relu(x @ (s1 * W1) + b1) @ (s2 * W2) + b2`` in float64 (weights decoded once, outside the timing);
- ``chip ideal``: ``Chip("ideal", model).forward(x)``: DAC, per-tile MVM on the NVM's effective levels, ADC per
  column, digital partial sums, every event counted;
- ``chip rram 4-bit ADC``: the rram_hfo2 profile with 4-bit ADCs (calibrated on 256 training images), its
  programming noise, manufacture faults and IR drop, read noise off;
- ``chip rram 4-bit ADC + read noise``: the same with the profile's read noise, a fresh Gaussian per tile, column
  and input vector (7 x 256 x 2,000 draws per pass for this model: the cost of the model, not of the bookkeeping).

Prints samples/s (median of --repeats runs), the ratio numpy / chip and the accuracy of each, and PASS/FAIL against
the target: both chips without read noise within 2x of the numpy forward, every event counted from the data.
Run: ``python benchmarks/bench_inference.py [--data mnist:PATH]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import neurosim
from neurosim.data import load_dataset


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> list[tuple[str, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--model", default="mnist_mlp")
    parser.add_argument("--n", type=int, default=2000, help="test images")
    parser.add_argument("--repeats", type=int, default=7)
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

    rows = []
    t_np = _median_seconds(numpy_forward, args.repeats)
    rows.append(("numpy float forward", len(x) / t_np, float(np.mean(np.argmax(numpy_forward(), 1) == y))))
    chips = (("chip ideal", ideal, 2.0), ("chip rram 4-bit ADC", quiet, 2.0),
             ("chip rram 4-bit ADC + read noise", noisy, None))
    for label, chip, _ in chips:
        t = _median_seconds(lambda chip=chip: chip.forward(x), args.repeats)
        rows.append((label, len(x) / t, float(np.mean(chip.predict(x, count=False) == y))))
    exact = np.array_equal(ideal.predict(x, count=False), model.predict(x))

    print(f"{model.name} on {len(x)} MNIST test images, median of {args.repeats} runs")
    targets = {label: target for label, _, target in chips}
    print(f"{'forward':<34}{'samples/s':>12}{'numpy/this':>12}{'accuracy':>10}  target")
    for label, rate, acc in rows:
        ratio = rows[0][1] / rate
        target = targets.get(label)
        verdict = "" if target is None else f"  <= {target:.0f}x {'PASS' if ratio <= target else 'FAIL'}"
        print(f"{label:<34}{rate:>12,.0f}{ratio:>12.2f}{100 * acc:>9.2f}%{verdict}")
    print(f"ideal chip predictions equal the reference ternary model: {exact}")
    report = ideal.report()
    print(f"ideal chip: {report.total_energy_per_inference_j:.3e} J and {report.latency_s:.3e} s per inference")
    return rows


if __name__ == "__main__":
    from neurosim.errors import NeurosimError

    try:
        main()
    except NeurosimError as exc:  # bad input (e.g. no MNIST folder): one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
