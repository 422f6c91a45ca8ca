"""What-if study of chip inference: ADC resolution and crossbar size against accuracy, energy and latency.

Maps a shipped model onto variants of a shipped profile (``periphery.adc_bits`` and ``crossbar.rows/cols`` changed
with ``profile.replace``; the ADC's energy, latency and area follow the bits through the profile's component model,
and the crossbar's wires and IR drop follow its size), calibrates the converters on training images, and runs the
test images through each chip. Prints a table and draws accuracy and energy per inference against ADC bits, one
line per crossbar size.

Run: ``python examples/inference_whatif.py [--model mnist_mlp] [--data mnist] [--n 1000] [--plot adc.png]``
"""

from __future__ import annotations

import argparse

import numpy as np

import neurosim
from neurosim.data import load_dataset


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mnist_mlp")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--profile", default="rram_hfo2")
    parser.add_argument("--n", type=int, default=1000, help="test images")
    parser.add_argument("--adc-bits", type=int, nargs="+", default=[3, 4, 5, 6, 8])
    parser.add_argument("--crossbars", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)

    data = load_dataset(args.data)
    model = neurosim.load_model(args.model)
    base = neurosim.load_profile(args.profile)
    x, y = data.x_test[: args.n], data.y_test[: args.n]
    reference = float(np.mean(model.predict(x) == y))
    rows = []
    for size in args.crossbars:
        for bits in args.adc_bits:
            # a narrower ADC is also cheaper and faster: the profile's ADC model derives its costs from the bits
            profile = base.replace({"name": f"{base.name}_{size}x{size}_adc{bits}", "crossbar.rows": size,
                                    "crossbar.cols": size, "periphery.adc_bits": bits,
                                    "periphery.columns_per_adc": min(base.periphery.columns_per_adc, size)})
            chip = neurosim.Chip(profile, model, calibration=data.x_train[:256])
            accuracy = float(np.mean(chip.predict(x) == y))
            report = chip.report(accuracy=accuracy)
            rows.append({"crossbar": size, "adc_bits": bits, "accuracy": accuracy,
                         "energy_j": report.total_energy_per_inference_j,
                         "adc_energy_j": report.energy_per_inference_j["adc"], "latency_s": report.latency_s,
                         "tiles": chip.mapping.n_tiles})
            print(f"  crossbar {size:>4}  adc {bits} bits: accuracy {100 * accuracy:6.2f} %", flush=True)

    print(f"\n{model.name} on {base.name} variants, {len(x)} test images (reference ternary model "
          f"{100 * reference:.2f} %)")
    print(f"{'crossbar':>9}{'ADC bits':>10}{'tiles':>7}{'accuracy':>10}{'J/inference':>13}{'latency s':>11}")
    for r in rows:
        print(f"{r['crossbar']:>9}{r['adc_bits']:>10}{r['tiles']:>7}{100 * r['accuracy']:>9.2f}%"
              f"{r['energy_j']:>13.3e}{r['latency_s']:>11.2e}")
    if args.plot:
        from neurosim.plots import pyplot

        plt = pyplot()

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        for size in args.crossbars:
            sel = [r for r in rows if r["crossbar"] == size]
            ax1.plot([r["adc_bits"] for r in sel], [100 * r["accuracy"] for r in sel], "o-", label=f"{size}x{size}")
            ax2.plot([r["adc_bits"] for r in sel], [r["energy_j"] for r in sel], "o-", label=f"{size}x{size}")
        ax1.axhline(100 * reference, color="0.5", ls="--", label="reference model")
        ax1.set_xlabel("ADC bits")
        ax1.set_ylabel("test accuracy (%)")
        ax2.set_xlabel("ADC bits")
        ax2.set_ylabel("energy per inference (J)")
        ax2.set_yscale("log")
        ax1.legend(title="crossbar")
        fig.suptitle(f"{model.name} on {base.name}: ADC resolution and crossbar size")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")
    return rows


if __name__ == "__main__":
    main()
