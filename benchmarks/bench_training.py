"""Benchmark: on-chip training of a 784-128-10 ternary MLP on MNIST: epoch speed, then accuracy and writes.

MNIST test set split 8,000 train / 2,000 test, the rram_hfo2 profile (programming noise, read noise, faults, IR
drop, 8-bit ADCs), the same fresh seeded model for every trainer.

**Speed** (``--repeats`` epochs each after a warm-up epoch, medians with min-max): one epoch of every registered
trainer with full accounting (batch 64; nvm_sgd at batch 64, see OVERRIDES), side by side with bare numpy epochs of
the same MLP on the same batches (float, and ternary straight-through: TWN-quantised weights forward, float32
latent weights and Adam, as ``sgd`` does but with no chip: no converters, noise or accounting). ``sgd`` and the
bare epochs are timed twice, in child processes, with BLAS single-threaded (neurosim's default) and with two
threads. Targets:

- ``sgd`` epoch <= 0.21 s: twice as fast as IBM aihwkit 1.2's ConstantStep epoch at its best setting on this kind
  of machine (0.415 s, OPENBLAS_NUM_THREADS=1; measured when issue 14 was filed, not re-measured here: aihwkit is
  not a dependency), with every write, read and conversion counted;
- ``sgd`` epoch within about 2x (<= 2.0x) of the bare ternary straight-through epoch measured in the same run;
- ``sgd``'s test accuracy and writes after 2 epochs (seed 0) identical to those before the speed-ups (87.90 %,
  102,783 writes, measured at commit d5b93fc).

**Accuracy** (``--epochs`` epochs, skipped with ``--speed-only``): sgd, nvm_sgd, coordinate at their default batch
sizes: final and best test accuracy, writes_total, writes_max_cell, training energy, aux memory, wall time
(monitoring evaluations excluded) and wall time to 90 % test accuracy; targets:

- sgd >= 93 % test accuracy;
- coordinate within 1.5 points of sgd, with fewer writes and at most 1/8 of sgd's aux memory;
- coordinate reaches 90 % in at most 10x the wall time sgd needs to reach 90 %.

Run: ``python benchmarks/bench_training.py [--repeats 7] [--epochs 15] [--speed-only] [--plot curves.png]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

import neurosim
from neurosim.data import load_dataset
from neurosim.nn.spec import model_from_spec
from neurosim.training import make_trainer, train
from neurosim.training.progress import ProgressBar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, bare_mlp, run_main, spread, verdict

# nvm_sgd's own default is per-sample (batch 1): 8,000 steps per epoch take ~9 minutes for 15 epochs here and
# reach ~11 %; at batch 64 with lr 3 it runs in seconds (and is still the accuracy-poor, write-heavy baseline).
OVERRIDES = {"nvm_sgd": (64, {"lr": 3.0})}

SGD_EPOCH_TARGET_S = 0.21
SGD_OVER_BARE_TARGET = 2.0
BEFORE = {"test_accuracy": 0.879, "writes_total": 102_783}  # sgd, 2 epochs, seed 0, commit d5b93fc


def bare_epochs(x: np.ndarray, y: np.ndarray, sizes: list[int], epochs: int, ternary: bool, seed: int = 0,
                batch: int = 64, lr: float = 3e-3) -> list[float]:
    """Wall time of each of ``epochs`` epochs of a bare numpy float32 MLP (ReLU, softmax cross-entropy, Adam),
    ternary straight-through or float."""
    return bare_mlp(x, y, sizes, epochs, ternary=ternary, seed=seed, batch=batch, lr=lr)[1]


def chip_epochs(data, trainer_name: str, spec: str, profile: str, epochs: int, seed: int = 0) -> dict:
    """Per-epoch training wall time (monitoring excluded) of one trainer on the chip, and its record's figures."""
    batch, params = OVERRIDES.get(trainer_name, (64, {}))
    trainer = make_trainer(trainer_name, **params)
    model = model_from_spec(spec, data.input_shape, data.n_classes, seed=seed)
    chip = neurosim.Chip(profile, model, seed=seed)
    record = train(chip, trainer, data, epochs=epochs, batch_size=batch, seed=seed)
    walls = [e.wall_time_s for e in record.epochs]
    return {"epoch_s": [b - a for a, b in zip(walls, walls[1:])], "batch": batch,
            "after_2": [record.epochs[2].test_accuracy, record.epochs[2].writes_total] if epochs >= 2 else None}


def speed_worker(args) -> None:
    """Child process: time sgd and the bare epochs at this process's BLAS threads (set by the parent)."""
    data = load_dataset(args.data)
    sizes = [int(v) for v in args.model.split("-")]
    out = {}
    for trainer in args.worker_trainers:
        chip_epochs(data, trainer, args.model, args.profile, 1)  # warm-up (JIT caches, allocator)
        out[trainer] = chip_epochs(data, trainer, args.model, args.profile, args.repeats)
    bare_epochs(data.x_train, data.y_train, sizes, 1, True)
    out["bare float"] = {"epoch_s": bare_epochs(data.x_train, data.y_train, sizes, args.repeats, False)}
    out["bare ternary STE"] = {"epoch_s": bare_epochs(data.x_train, data.y_train, sizes, args.repeats, True)}
    print(json.dumps(out))


def _child(args, threads: int, trainers: list[str]) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--speed-worker", "--repeats", str(args.repeats), "--data", args.data,
           "--model", args.model, "--profile", args.profile, "--worker-trainers", *trainers]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"speed child (BLAS threads {threads}) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(args) -> dict:
    """Epoch speed of every trainer against bare numpy epochs (see the module docstring); returns the figures."""
    from neurosim.training import TRAINERS

    load = Load()
    others = [t for t in TRAINERS if t != "sgd"]
    runs = {1: _child(args, 1, ["sgd", *others]), 2: _child(args, 2, ["sgd"])}
    print(f"\nepoch speed: {args.model} on {args.data}, profile {args.profile}, batch 64, "
          f"{args.repeats} epochs each after a warm-up epoch (seconds: median [min-max])")
    print(f"{'BLAS threads':<14}{'what':<34}{'epoch s':>30}{'/ bare STE':>12}")
    for threads, run in runs.items():
        bare = statistics.median(run["bare ternary STE"]["epoch_s"])
        for name, figures in run.items():
            label = name if name.startswith("bare") else f"{name} (chip, batch {figures['batch']})"
            ratio = statistics.median(figures["epoch_s"]) / bare
            print(f"{threads:<14}{label:<34}{spread(figures['epoch_s']):>30}{ratio:>11.2f}x")
    sgd = {t: statistics.median(run["sgd"]["epoch_s"]) for t, run in runs.items()}
    best = min(sgd, key=sgd.get)
    bare_1 = statistics.median(runs[1]["bare ternary STE"]["epoch_s"])
    after = runs[1]["sgd"]["after_2"]
    same = after == [BEFORE["test_accuracy"], BEFORE["writes_total"]]
    print("\ntargets:")
    print(f"  sgd epoch {sgd[1]:.3f} s at neurosim's default (1 BLAS thread), {sgd[2]:.3f} s at 2; "
          f"target <= {SGD_EPOCH_TARGET_S} s: {verdict(sgd[1] <= SGD_EPOCH_TARGET_S)}")
    print(f"  sgd / bare ternary STE epoch {sgd[1] / bare_1:.2f}x (target <= {SGD_OVER_BARE_TARGET}x): "
          f"{verdict(sgd[1] / bare_1 <= SGD_OVER_BARE_TARGET)}")
    print(f"  sgd after 2 epochs: {100 * after[0]:.2f} %, {after[1]:,} writes; before the speed-ups "
          f"{100 * BEFORE['test_accuracy']:.2f} %, {BEFORE['writes_total']:,}: "
          f"{verdict(same)} ({'identical' if same else 'different'})")
    print(f"  fastest BLAS setting for sgd: {best} thread{'s' if best > 1 else ''} "
          f"({sgd[2] / sgd[1]:.2f}x the 1-thread epoch time at 2 threads)")
    print(load.describe())
    return {"runs": runs, "sgd_epoch_s": sgd, "identical": same}


def time_to(record, accuracy: float) -> float | None:
    """Training wall time at the first checkpoint reaching ``accuracy`` (None if never)."""
    for point in record.checkpoints:
        if point.test_accuracy >= accuracy:
            return point.wall_time_s
    return None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--model", default="784-128-10")
    parser.add_argument("--profile", default="rram_hfo2")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--trainers", nargs="+", default=["sgd", "nvm_sgd", "coordinate"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=7, help="timed epochs per trainer (speed)")
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy comparison")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed comparison")
    parser.add_argument("--speed-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-trainers", nargs="+", default=["sgd"], help=argparse.SUPPRESS)
    parser.add_argument("--plot", default=None, help="accuracy against writes and against time, per trainer")
    args = parser.parse_args(argv)
    if args.speed_worker:
        speed_worker(args)
        return {}
    results = {} if args.no_speed else {"speed": speed(args)}
    if args.speed_only:
        return results

    data = load_dataset(args.data)
    load = Load()
    records = {}
    for name in args.trainers:
        batch, params = OVERRIDES.get(name, (None, {}))
        trainer = make_trainer(name, **params)
        model = model_from_spec(args.model, data.input_shape, data.n_classes, seed=args.seed)
        chip = neurosim.Chip(args.profile, model, seed=args.seed)
        batch = batch or trainer.default_batch_size
        records[name] = train(chip, trainer, data, epochs=args.epochs, batch_size=batch, seed=args.seed,
                              steps_per_eval=max(1, 2000 // batch), progress=ProgressBar(name),
                              run_info={"model_spec": args.model, "command": "bench_training"})

    print(f"\n{args.model} ternary MLP on {data.describe()}, profile {args.profile}, {args.epochs} epochs")
    print(f"{'trainer':<12}{'test acc':>9}{'best':>8}{'writes':>11}{'worst cell':>11}{'energy J':>11}"
          f"{'aux bytes':>11}{'wall s':>8}{'s to 90%':>10}")
    for name, r in records.items():
        best = max(e.test_accuracy for e in r.epochs)
        t90 = time_to(r, 0.90)
        print(f"{name:<12}{100 * r.final.test_accuracy:>8.2f}%{100 * best:>7.2f}%{r.final.writes_total:>11,}"
              f"{r.final.writes_max_cell:>11,}{r.energy().total_energy_j:>11.3e}"
              f"{r.final.aux_memory_bytes:>11,}{r.final.wall_time_s:>8.1f}"
              f"{(f'{t90:.1f}' if t90 is not None else 'never'):>10}")
    if "sgd" in records and "coordinate" in records:
        sgd, coord = records["sgd"], records["coordinate"]
        t_sgd, t_coord = time_to(sgd, 0.90), time_to(coord, 0.90)
        gap = 100 * (coord.final.test_accuracy - sgd.final.test_accuracy)
        writes = coord.final.writes_total / max(sgd.final.writes_total, 1)
        aux = coord.final.aux_memory_bytes / sgd.final.aux_memory_bytes
        print("\ntargets:")
        print(f"  sgd test accuracy {100 * sgd.final.test_accuracy:.2f} % (target >= 93 %): "
              f"{verdict(sgd.final.test_accuracy >= 0.93)}")
        print(f"  coordinate - sgd accuracy {gap:+.2f} points (target >= -1.5): {verdict(gap >= -1.5)}")
        print(f"  writes coordinate / sgd {writes:.3f} (target < 1): {verdict(writes < 1)}")
        print(f"  aux memory coordinate / sgd {aux:.3f} (target <= 0.125): {verdict(aux <= 0.125)}")
        if t_sgd and t_coord:
            print(f"  time to 90 %: coordinate / sgd {t_coord / t_sgd:.2f} (target <= 10): "
                  f"{verdict(t_coord / t_sgd <= 10)}")
        else:
            print(f"  time to 90 %: sgd {t_sgd}, coordinate {t_coord} (one never reached 90 %): FAIL")
        print(load.describe())
    if args.plot:
        from neurosim.plots import pyplot

        plt = pyplot()

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        for name, r in records.items():
            pts = r.checkpoints
            ax1.plot([p.writes_total for p in pts], [100 * p.test_accuracy for p in pts], label=name)
            ax2.plot([p.wall_time_s for p in pts], [100 * p.test_accuracy for p in pts], label=name)
        ax1.set_xscale("symlog")
        ax1.set_xlabel("cumulative cell writes")
        ax2.set_xlabel("training wall time (s)")
        for ax in (ax1, ax2):
            ax.set_ylabel("test accuracy (%)")
            ax.axhline(90, color="0.6", ls=":")
            ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")
    return {**results, "records": records}


if __name__ == "__main__":
    run_main(main)
