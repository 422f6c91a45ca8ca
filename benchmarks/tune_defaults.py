"""How the trainers' defaults of issue 15 were chosen: on validation images carved from training data only.

Offline (``coordinate``): each data set's training part is split 75/25 (:func:`neurosim.data.validation_split`,
seed = run seed); the test part is never loaded into a run. Stage 1 (``offline``, with the scales fixed as they
were when it was chosen): ``bias_lr`` x batch (192, or the quarter-of-the-training-set rule of
``CoordinateTrainer.batch_size_for``) x ``explore`` on iris (4-16-3), wine (13-16-3), breast_cancer (30-16-2), 200
epochs, and digits (64-64-10, 10 epochs). Stage 2 (``scales``): ``scale_lr`` with stage 1's choice, over more seeds
(30 on the three small sets, 5 on digits, 3 on an MNIST validation split of 784-128-10, 15 epochs), the mean
validation accuracy per data set and over the five. Online (``nvm_sgd``, ``lowrank`` fine-tuning defaults, and
whether ``coordinate`` should learn its scales while adapting): a 784-64-10 pre-trained on MNIST 0-3,999 adapts to
rotated images 4,000-6,999 and is scored on 7,000-7,999, never on the test images 8,000-9,999. Prints every
setting's validation accuracy over the seeds and the best. Hyper-parameters in ``neurosim`` cite these runs where
they were chosen. Run: ``python benchmarks/tune_defaults.py [--quick] [--only offline scales online]``
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

import numpy as np

import neurosim
from neurosim.data import load_dataset, validation_split
from neurosim.data.streams import Scenario
from neurosim.experiments.compare import CompareSpec, run_compare
from neurosim.nn.spec import model_from_spec
from neurosim.training import make_trainer, train, trainer_class

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, run_main

SMALL = {"iris": "4-16-3", "wine": "13-16-3", "breast_cancer": "30-16-2", "digits": "64-64-10"}
#: stage 2: data set -> (model, epochs, seeds in a full run)
SCALES = {"iris": ("4-16-3", 200, 30), "wine": ("13-16-3", 200, 30), "breast_cancer": ("30-16-2", 200, 30),
          "digits": ("64-64-10", 10, 5), "mnist": ("784-128-10", 15, 3)}


def offline(name: str, spec: str, params: dict, batch: str, epochs: int, seeds) -> list[float]:
    """Validation accuracy of coordinate on ``name`` per seed."""
    out = []
    for seed in seeds:
        data = validation_split(load_dataset(name, seed=seed), 0.25, seed)
        model = model_from_spec(spec, data.input_shape, data.n_classes, seed=seed)
        chip = neurosim.Chip("rram_hfo2", model, seed=seed)
        trainer = make_trainer("coordinate", **params)
        size = trainer.default_batch_size if batch == "192" else trainer_class("coordinate").batch_size_for(
            len(data.x_train))
        record = train(chip, trainer, data, epochs=epochs, batch_size=size, seed=seed, eval_train_samples=1)
        out.append(record.final.test_accuracy)
    return out


def online(trainer: str, params: dict, seeds) -> list[float]:
    """Validation accuracy after adapting a pre-trained 784-64-10 to rotated MNIST 4,000-6,999."""
    out = []
    for seed in seeds:
        scenario = Scenario(shift="rotate", analog_drift=0.001, digital_drift=0.0, pretrain=(0, 4000),
                            stream=(4000, 7000), test=(7000, 8000), seed=seed)
        spec = CompareSpec(trainers=[trainer], profile="rram_hfo2", data="mnist", model="784-64-10", weight_bits=2,
                           scenario=scenario, seed=seed, params={trainer: params})
        records = run_compare(spec, out_dir=None, progress=False)
        if not records:  # Ctrl-C stopped the study before the run finished
            raise KeyboardInterrupt
        (record,) = records
        out.append(record.final.test_accuracy)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and a smaller grid")
    parser.add_argument("--only", nargs="+", choices=["offline", "scales", "online"],
                        default=["offline", "scales", "online"])
    args = parser.parse_args(argv)
    seeds = range(2) if args.quick else range(5)
    load = Load()
    results = {}
    if "offline" in args.only:
        grid = {"bias_lr": [0.01, 0.1] if args.quick else [0.01, 0.1, 0.3], "batch": ["192", "rule"],
                "explore": [False, True]}
        for name, spec in SMALL.items():
            epochs = 10 if name == "digits" else (50 if args.quick else 200)
            best = None
            for values in itertools.product(*grid.values()):
                setting = dict(zip(grid, values))
                batch = setting.pop("batch")
                accs = offline(name, spec, {**setting, "scale_lr": 0.0}, batch, epochs, seeds)
                med = statistics.median(accs)
                print(f"{name:<14} coordinate bias_lr={setting['bias_lr']:<5} batch={batch:<5} "
                      f"explore={setting['explore']!s:<5}  validation {100 * med:6.2f} % "
                      f"(mean {100 * np.mean(accs):.2f}, min {100 * min(accs):.2f})", flush=True)
                if best is None or med > best[0]:
                    best = (med, setting, batch)
                results[(name, str(setting), batch)] = accs
            print(f"  best on {name}: {best[1]}, batch {best[2]} ({100 * best[0]:.2f} %)")
        # one default serves every data set: the setting with the best mean over data sets of its medians
        overall: dict[tuple, list[float]] = {}
        for (_, setting, batch), accs in results.items():
            overall.setdefault((setting, batch), []).append(statistics.median(accs))
        (setting, batch), medians = max(overall.items(), key=lambda kv: np.mean(kv[1]))
        print(f"  best over the {len(SMALL)} data sets (mean of medians {100 * np.mean(medians):.2f} %): {setting}, "
              f"batch {batch}")
    if "scales" in args.only:
        values = [0.0, 0.01] if args.quick else [0.0, 0.001, 0.003, 0.01, 0.03]
        means: dict[float, list[float]] = {v: [] for v in values}
        for name, (spec, epochs, count) in SCALES.items():
            for value in values:
                accs = offline(name, spec, {"scale_lr": value}, "rule", epochs if not args.quick else min(epochs, 50),
                               range(min(count, 3) if args.quick else count))
                means[value].append(float(np.mean(accs)))
                print(f"{name:<14} coordinate scale_lr={value:<6} validation mean {100 * np.mean(accs):6.2f} % "
                      f"(median {100 * statistics.median(accs):.2f}, {len(accs)} seeds)", flush=True)
                results[(name, "scale_lr", value)] = accs
        best = max(values, key=lambda v: np.mean(means[v]))
        print("  mean over the data sets: " + ", ".join(f"{v:g}: {100 * np.mean(m):.2f} %" for v, m in means.items())
              + f"; best {best:g}")
    if "online" in args.only:
        for trainer, key, values in (("nvm_sgd", "lr", [0.15, 0.05, 0.02]), ("lowrank", "lr", [0.1, 0.03, 0.01]),
                                     ("coordinate", "scale_lr", [0.0, 0.01])):
            for value in values[:2] if args.quick else values:
                accs = online(trainer, {key: value}, range(2) if args.quick else range(3))
                print(f"online {trainer:<10} {key}={value:<5} validation median {100 * statistics.median(accs):6.2f} "
                      f"%, mean {100 * np.mean(accs):.2f} %", flush=True)
                results[(trainer, key, value)] = accs
    print(load.describe())
    return results


if __name__ == "__main__":
    run_main(main)
