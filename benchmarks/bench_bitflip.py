"""Benchmark: gradient-free bit-flip training (``bitflip``) of a fresh ternary 784-256-10 MLP on MNIST, from scratch.

MNIST split 8,000 train / 2,000 test (``load_dataset("mnist")``), profile rram_hfo2, the trainer's default
hyper-parameters and default batch size, 30 epochs, seed 0. Prints per epoch: test accuracy, writes_total,
writes_max_cell, training energy, aux memory bytes and training wall time (monitoring evaluations excluded); then the
target (test accuracy >= 88 %) and the total wall time of the run (evaluations included).

Run: ``python benchmarks/bench_bitflip.py [--epochs 30] [--model 784-256-10] [--binary] [--seed 0]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import neurosim
from neurosim.data import load_dataset
from neurosim.nn.spec import model_from_spec
from neurosim.training import make_trainer, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, run_main, verdict

TARGET = 0.88


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--model", default="784-256-10")
    parser.add_argument("--profile", default="rram_hfo2")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--binary", action="store_true", help="1-bit weights ({-1, +1}) instead of ternary")
    args = parser.parse_args(argv)

    data = load_dataset(args.data)
    trainer = make_trainer("bitflip", binary=args.binary) if args.binary else make_trainer("bitflip")
    model = model_from_spec(args.model, data.input_shape, data.n_classes, seed=args.seed)
    chip = neurosim.Chip(args.profile, model, seed=args.seed)
    batch = trainer.default_batch_size
    start = time.perf_counter()
    load = Load()
    record = train(chip, trainer, data, epochs=args.epochs, batch_size=batch, seed=args.seed,
                   run_info={"model_spec": args.model, "command": "bench_bitflip"})
    total = time.perf_counter() - start

    print(f"bitflip {'binary' if args.binary else 'ternary'} {args.model} MLP on {data.describe()}, profile "
          f"{args.profile}, batch {batch}, {args.epochs} epochs, seed {args.seed}")
    print(f"hyper-parameters: {trainer.get_params()}")
    print(f"{'epoch':>5}{'test acc':>10}{'writes':>11}{'worst cell':>11}{'energy J':>11}{'aux bytes':>11}{'wall s':>8}")
    for k, e in enumerate(record.epochs):
        print(f"{e.epoch:>5}{100 * e.test_accuracy:>9.2f}%{e.writes_total:>11,}{e.writes_max_cell:>11,}"
              f"{record.energy(k).total_energy_j:>11.3e}{e.aux_memory_bytes:>11,}{e.wall_time_s:>8.1f}")
    final = record.final
    best = max(e.test_accuracy for e in record.epochs)
    counts = record.ledger["counts"]
    print(f"\nfinal test accuracy {100 * final.test_accuracy:.2f} % (best {100 * best:.2f} %; target >= "
          f"{100 * TARGET:.0f} %: {verdict(final.test_accuracy >= TARGET)})")
    print(f"writes_total {final.writes_total:,}, writes_max_cell {final.writes_max_cell:,}, energy "
          f"{record.energy().total_energy_j:.3e} J "
          f"({', '.join(f'{k} {v:.2e}' for k, v in record.energy().energy_j.items())})")
    print(f"aux memory {final.aux_memory_bytes:,} bytes {record.aux_memory}; aux traffic read "
          f"{counts['aux_bytes_read']:,} B, written {counts['aux_bytes_written']:,} B; neuron updates "
          f"{counts['neuron_updates']:,}")
    print(f"training wall time {final.wall_time_s:.1f} s (evaluations excluded), whole run {total:.1f} s")
    print(load.describe())
    return record


if __name__ == "__main__":
    run_main(main)
