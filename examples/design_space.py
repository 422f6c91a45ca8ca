"""Design-space study of chip inference: cell technology x crossbar size x ADC resolution.

The MNIST CNN (``mnist_cnn``) mapped onto rram_hfo2, pcm, fefet and sram, each with 64x64, 128x128 and 256x256
crossbars and 4-, 6- and 8-bit ADCs (``profile.replace``: the ADC's energy, latency and area follow its bits through
the profile's component model; the crossbar's wires, cells per tile, IR drop and tile count follow its size).
Converters are calibrated on training images, the test images run through each chip, and every figure is priced
from the counted events: accuracy, energy per inference, latency, area of the cores in use, TOPS/W and TOPS/mm2.
Prints a table, writes it as CSV, and plots accuracy, energy, TOPS/W and area against ADC bits.

Run: ``python examples/design_space.py [--data mnist] [--n 1000] [--plot design_space.png] [--csv design_space.csv]``
(about 3 minutes on 2 cores at the defaults).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import neurosim
from neurosim.data import load_dataset

TECHNOLOGIES = ("rram_hfo2", "pcm", "fefet", "sram")
COLUMNS = ("profile", "crossbar", "adc_bits", "tiles", "cores", "accuracy", "energy_per_inference_j", "latency_s",
           "area_mm2", "tops_per_w", "tops_per_mm2", "adc_share", "read_share")


def run_point(base: neurosim.Profile, size: int, bits: int, model, data, n: int, seed: int) -> dict:
    profile = base.replace({"name": f"{base.name}_{size}x{size}_adc{bits}", "crossbar.rows": size,
                            "crossbar.cols": size, "periphery.adc_bits": bits,
                            "periphery.columns_per_adc": min(base.periphery.columns_per_adc, size)})
    chip = neurosim.Chip(profile, model, seed=seed, calibration=data.x_train[:256])
    x, y = data.x_test[:n], data.y_test[:n]
    predicted = np.concatenate([chip.predict(x[i: i + 250]) for i in range(0, len(x), 250)])
    report = chip.report(accuracy=float(np.mean(predicted == y)))
    energy = report.energy_per_inference_j
    total = report.total_energy_per_inference_j
    return {"profile": base.name, "crossbar": size, "adc_bits": bits, "tiles": chip.mapping.n_tiles,
            "cores": chip.mapping.placement.n_cores, "accuracy": report.accuracy, "energy_per_inference_j": total,
            "latency_s": report.latency_s, "area_mm2": report.areas_m2["cores_in_use"] * 1e6,
            "tops_per_w": report.tops_per_w, "tops_per_mm2": report.tops_per_mm2,
            "adc_share": energy["adc"] / total, "read_share": energy["read"] / total}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mnist_cnn")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--profiles", nargs="+", default=list(TECHNOLOGIES))
    parser.add_argument("--crossbars", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--adc-bits", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--n", type=int, default=1000, help="test images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="PNG of accuracy, energy, TOPS/W and area against ADC bits")
    parser.add_argument("--csv", default=None, help="write the table as CSV")
    args = parser.parse_args(argv)

    data = load_dataset(args.data)
    model = neurosim.load_model(args.model)
    reference = float(np.mean(model.predict(data.x_test[: args.n]) == data.y_test[: args.n]))
    rows, t0 = [], time.perf_counter()
    points = [(p, s, b) for p in args.profiles for s in args.crossbars for b in args.adc_bits]
    for k, (name, size, bits) in enumerate(points, 1):
        rows.append(run_point(neurosim.load_profile(name), size, bits, model, data, args.n, args.seed))
        r = rows[-1]
        print(f"  [{k}/{len(points)}] {name} {size}x{size} ADC {bits}: {100 * r['accuracy']:.2f} %, "
              f"{r['energy_per_inference_j']:.3e} J ({time.perf_counter() - t0:.0f} s)", flush=True)

    print(f"\n{model.name}, {args.n} test images of {data.name} (reference ternary model {100 * reference:.2f} %), "
          f"seed {args.seed}")
    print(f"{'profile':<10}{'xbar':>5}{'ADC':>4}{'tiles':>6}{'accuracy':>10}{'J/inference':>13}{'latency s':>11}"
          f"{'area mm2':>10}{'TOPS/W':>8}{'TOPS/mm2':>10}{'ADC %':>7}{'read %':>7}")
    for r in rows:
        print(f"{r['profile']:<10}{r['crossbar']:>5}{r['adc_bits']:>4}{r['tiles']:>6}{100 * r['accuracy']:>9.2f}%"
              f"{r['energy_per_inference_j']:>13.3e}{r['latency_s']:>11.2e}{r['area_mm2']:>10.4f}"
              f"{r['tops_per_w']:>8.1f}{r['tops_per_mm2']:>10.4f}{100 * r['adc_share']:>6.1f}%"
              f"{100 * r['read_share']:>6.1f}%")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"table written to {args.csv}")
    if args.plot:
        plot(rows, reference, args, Path(args.plot))
        print(f"plot written to {args.plot}")
    return rows


def plot(rows: list[dict], reference: float, args, path: Path) -> None:
    from neurosim.plots import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [("accuracy", "test accuracy (%)", 100.0, False), ("energy_per_inference_j", "energy per inference (J)",
                                                                 1.0, True),
              ("tops_per_w", "energy efficiency (TOPS/W)", 1.0, True), ("area_mm2", "area of the cores in use (mm2)",
                                                                        1.0, True)]
    colours = plt.get_cmap("tab10")
    styles = {size: style for size, style in zip(sorted(args.crossbars), ("-", "--", ":", "-."))}
    for ax, (key, label, factor, log) in zip(axes.ravel(), panels):
        for i, name in enumerate(args.profiles):
            for size in sorted(args.crossbars):
                sel = sorted((r for r in rows if r["profile"] == name and r["crossbar"] == size),
                             key=lambda r: r["adc_bits"])
                ax.plot([r["adc_bits"] for r in sel], [factor * r[key] for r in sel], marker="o", color=colours(i),
                        ls=styles[size], label=f"{name} {size}x{size}")
        if key == "accuracy":
            ax.axhline(100 * reference, color="0.5", lw=0.8, label="reference model")
        ax.set_xlabel("ADC bits")
        ax.set_ylabel(label)
        ax.set_xticks(sorted(args.adc_bits))
        if log:
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{args.model} inference, {args.n} test images: cell technology (colour) x crossbar size (line) x "
                 f"ADC bits (seed {args.seed})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
