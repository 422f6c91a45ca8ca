"""Benchmark: each source paper's headline claim, reproduced or refuted side by side, with the evidence.

Every claim runs in the smallest setting that tests it honestly, over several seeds (medians, min-max beside them),
with the trainers' *default* hyper-parameters. Defaults were chosen on validation splits carved from training data
(the trainers' docstrings and ``adaptation_defaults`` say which); this benchmark reports test accuracy only and
selects nothing. Claims:

1. CoNNTrA (Date et al. 2020): ternary models use 32x less memory than fp64 backprop. Ours: weight storage 2 bits
   against 64, and the whole training memory (stored weights + the trainer's aux memory) of ``coordinate`` against
   fp64 backprop (weights and gradients, 16 B a weight, plus a batch's activations and errors), on MNIST 784-128-10
   and Iris 4-16-3.
2. CoNNTrA: errors at par with backprop on MNIST: ``coordinate`` vs ``sgd`` (both on the chip) and an fp64 MLP
   trained on the host, 784-128-10.
3. CoNNTrA: at par on Iris (4-16-3, 200 epochs), and on wine (13-16-3) and breast_cancer (30-16-2).
4. Bit-flip (Di Castro et al. 2024): comparable accuracy with up to 5x fewer updates and up to 3x less energy than
   SGD: ``bitflip`` vs ``sgd``, MNIST 784-128-10, equal epochs.
5. Low-rank (Gural et al. 2020): about 1000x fewer worst-case writes than SGD, and better accuracy: online
   adaptation of a pre-trained 8-bit 784-64-10 to shifted MNIST (rram_hfo2; our rotate shift, and a milder mixed
   shift nearer the paper's), the paper's configuration (rank 4, a write every B = 100 samples) against per-sample
   ``nvm_sgd`` (the paper's kind of SGD) and ``sgd``, plus our ``apply_pending`` extension. Accuracy both as the
   paper scores it (online: each stream sample predicted before the update it takes part in) and held out after
   the stream.
6. LUT inference (Baluja et al. 2018): no multiplications, no accuracy loss, under 1/3 of the memory: the ``lut``
   executor with 32 activation levels on ``mnist_mlp`` (rram_hfo2) against the float-activation network on the
   same codes, and its deployable bytes against float32.

Verdicts: "holds" (within the paper's figure or tolerance), "partly" (the direction holds, the size does not) or
"does not hold". ``--quick`` runs fewer seeds and epochs (under 5 minutes on 2 cores); the full run is under 30.
Run: ``python benchmarks/bench_seeds.py [--quick] [--only conntra bitflip lowrank lut]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import neurosim
from neurosim.data import load_dataset
from neurosim.nn.spec import model_from_spec
from neurosim.training import make_trainer, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, bare_mlp, run_main

PROFILE = "rram_hfo2"
# the fp64 baseline's Adam step on the small sets, chosen on validation splits carved from their training sets (200
# epochs, seeds 0-4; mean of the medians over iris, wine, breast_cancer: 96.5 % at 1e-2 and 3e-2, 91.2 % at 1e-3,
# which left Iris at 78.6 %); MNIST keeps 1e-3 (125 steps an epoch)
SMALL_FP64_LR = 1e-2


def _med(values) -> float:
    return float(statistics.median(values))


def _span(values, scale: float = 100.0, digits: int = 2) -> str:
    return (f"{scale * _med(values):.{digits}f} [{scale * min(values):.{digits}f}-{scale * max(values):.{digits}f}]"
            if len(values) > 1 else f"{scale * values[0]:.{digits}f}")


def chip_run(data, spec: str, trainer: str, epochs: int, seed: int) -> dict:
    """One trainer from scratch on the chip with its defaults: the figures the claims need."""
    model = model_from_spec(spec, data.input_shape, data.n_classes, seed=seed)
    chip = neurosim.Chip(PROFILE, model, seed=seed)
    tr = make_trainer(trainer)
    record = train(chip, tr, data, epochs=epochs, batch_size=tr.batch_size_for(len(data.x_train)), seed=seed,
                   eval_train_samples=1)
    return {"acc": record.final.test_accuracy, "writes": record.final.writes_total,
            "worst": record.final.writes_max_cell, "energy": record.energy().total_energy_j,
            "aux": record.final.aux_memory_bytes, "weights": model.n_weights,
            "activations": sum(layer.fan_out for layer in model.layers if layer.analog)}


def fp64_run(data, sizes: list[int], epochs: int, seed: int, batch: int = 64, lr: float = 1e-3) -> float:
    """Test accuracy of an fp64 MLP (ReLU, softmax cross-entropy, Adam) trained on the host: the backprop
    baseline the papers compare with."""
    params, _ = bare_mlp(data.x_train, data.y_train, sizes, epochs, seed=seed, batch=batch, lr=lr, dtype=np.float64)
    ws, bs = params[: len(sizes) - 1], params[len(sizes) - 1:]
    h = data.x_test.reshape(len(data.x_test), -1)
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w + b
        if i < len(ws) - 1:
            h = np.maximum(h, 0)
    return float(np.mean(np.argmax(h, axis=1) == data.y_test))


def fp64_training_bytes(run: dict, batch: int = 64) -> int:
    """fp64 backprop's training memory: weights and their gradients (16 B a weight, biases included), and one
    batch's activations and errors."""
    return 16 * (run["weights"] + run["activations"]) + 2 * 8 * run["activations"] * batch


def ternary_training_bytes(run: dict) -> int:
    """coordinate's training memory: the stored ternary weights (2 bits each) and the trainer's aux memory."""
    return run["weights"] * 2 // 8 + run["aux"]


def claims_conntra(args) -> list[tuple]:
    rows = []
    mnist = load_dataset(args.data)
    seeds = args.mnist_seeds
    coord = [chip_run(mnist, "784-128-10", "coordinate", args.epochs, s) for s in seeds]
    sgd = [chip_run(mnist, "784-128-10", "sgd", args.epochs, s) for s in seeds]
    fp64 = [fp64_run(mnist, [784, 128, 10], args.epochs, s) for s in seeds]
    iris_coord, iris_sgd, iris_fp64 = [], [], []
    for s in args.small_seeds:
        iris = load_dataset("iris", seed=s)
        iris_coord.append(chip_run(iris, "4-16-3", "coordinate", args.small_epochs, s))
        iris_sgd.append(chip_run(iris, "4-16-3", "sgd", args.small_epochs, s))
        iris_fp64.append(fp64_run(iris, [4, 16, 3], args.small_epochs, s, lr=SMALL_FP64_LR))
    # 1. memory
    ratio_mnist = [fp64_training_bytes(r) / ternary_training_bytes(r) for r in coord]
    ratio_iris = [fp64_training_bytes(r) / ternary_training_bytes(r) for r in iris_coord]
    verdict = "holds" if min(_med(ratio_mnist), _med(ratio_iris)) >= 32 else "weights only"
    rows.append(("ternary: 32x less memory than fp64 backprop", "CoNNTrA", "32x",
                 f"weights 32x; training memory (weights + aux) {_med(ratio_mnist):.1f}x MNIST, "
                 f"{_med(ratio_iris):.1f}x Iris", verdict))
    # 2. MNIST at par
    acc = {k: [r["acc"] for r in runs] for k, runs in (("coordinate", coord), ("sgd", sgd))}
    gap = 100 * (_med(acc["coordinate"]) - _med(acc["sgd"]))
    rows.append(("errors at par with backprop, MNIST", "CoNNTrA", "at par",
                 f"coordinate {_span(acc['coordinate'])} %, sgd {_span(acc['sgd'])} %, fp64 {_span(fp64)} % "
                 f"({gap:+.2f} points vs sgd)", "holds" if gap >= -1.5 else "does not hold"))
    # 3. small data sets
    ic, isg = [r["acc"] for r in iris_coord], [r["acc"] for r in iris_sgd]
    text = f"Iris coordinate {_span(ic)} %, sgd {_span(isg)} %, fp64 {_span(iris_fp64)} %"
    ok = _med(ic) >= 0.90
    for name, spec in (("wine", "13-16-3"), ("breast_cancer", "30-16-2")):
        c, g = [], []
        for s in args.small_seeds:
            d = load_dataset(name, seed=s)
            c.append(chip_run(d, spec, "coordinate", args.small_epochs, s)["acc"])
            g.append(chip_run(d, spec, "sgd", args.small_epochs, s)["acc"])
        text += f"; {name} coordinate {100 * _med(c):.2f} %, sgd {100 * _med(g):.2f} %"
        ok &= _med(c) >= _med(g) - 0.02
    rows.append(("errors at par with backprop, Iris (wine, breast_cancer)", "CoNNTrA", "at par", text,
                 "holds" if ok else "does not hold"))
    args.results["coordinate_mnist"], args.results["sgd_mnist"] = coord, sgd
    return rows


def claim_bitflip(args) -> list[tuple]:
    mnist = load_dataset(args.data)
    flip = [chip_run(mnist, "784-128-10", "bitflip", args.epochs, s) for s in args.mnist_seeds]
    sgd = args.results.get("sgd_mnist") or [chip_run(mnist, "784-128-10", "sgd", args.epochs, s)
                                            for s in args.mnist_seeds]
    writes = _med([r["writes"] for r in sgd]) / _med([r["writes"] for r in flip])
    energy = _med([r["energy"] for r in sgd]) / _med([r["energy"] for r in flip])
    gap = 100 * (_med([r["acc"] for r in flip]) - _med([r["acc"] for r in sgd]))
    verdict = "holds" if writes >= 1 and energy >= 1 and gap >= -2 else "partly" if gap >= -2 else "does not hold"
    return [("comparable accuracy, up to 5x fewer updates, up to 3x less energy than SGD", "bit-flip",
             "<= 5x, <= 3x", f"{writes:.1f}x fewer writes, {energy:.1f}x less energy, accuracy {gap:+.2f} points "
             f"(bitflip {_span([r['acc'] for r in flip])} %, equal epochs)", verdict)]


#: The low-rank claim's two settings: our rotate shift (15-35 degrees, as the rest of the benchmarks), and the nearest
#: of our shifts to the paper's distribution-shift data (its generator: rotation std 5-10 degrees, translation 1-2 px,
#: background offsets up to 0.7, white noise up to 0.3): ``mixed`` at strength 0.5 (rotation 7.5-17.5 degrees, a
#: background ramp up to 0.25, noise std 0.1). The learning rates are bench_compare's, chosen on the rotate setting's
#: validation images; nothing is re-chosen for the milder one.
LOWRANK_SETTINGS = (("rotate", 1.0), ("mixed", 0.5))


def _versus(runs: dict, low: str, base: str) -> str:
    """``low`` against ``base``: worst-cell writes ratio, online accuracy (medians [min-max]) and the held-out
    accuracy difference after the stream."""
    def med(key: str, label: str) -> float:
        return _med([r[key] for r in runs[label]])

    online = {k: [r["online"] for r in runs[k]] for k in (low, base)}
    return (f"{med('worst', base) / max(med('worst', low), 1):.1f}x fewer, online {_span(online[low])} % vs "
            f"{_span(online[base])} % ({100 * (med('online', low) - med('online', base)):+.2f} points), held-out "
            f"after {100 * (med('after', low) - med('after', base)):+.2f} points")


def claim_lowrank(args) -> list[tuple]:
    compare = _load_bench("bench_compare.py")
    n = 10_000
    rows = []
    for shift, strength in LOWRANK_SETTINGS:
        opts = argparse.Namespace(shift=shift, strength=strength, analog_drift=0.0, digital_drift=0.0,
                                  stream=args.stream, data=args.data, model="784-64-10")
        runs = {label: [compare["run_one"](label, 8, s, opts, {}, n) for s in args.lowrank_seeds]
                for label in ("sgd", "nvm_sgd", "lowrank", "lowrank+apply")}
        worst = {k: _med([r["worst"] for r in v]) for k, v in runs.items()}
        online = {k: [r["online"] for r in v] for k, v in runs.items()}

        # the paper's baseline writes quantised per-sample updates with no latent weights: our nvm_sgd; its ~1000x
        # came mostly from counting SGD's convolution writes once per output pixel, which an MLP has none of.
        # "better accuracy" is judged on the paper's own figure, the online (prequential) accuracy of the stream
        ratio = worst["nvm_sgd"] / max(worst["lowrank"], 1)
        better = _med(online["lowrank"]) >= _med(online["nvm_sgd"])
        verdict = ("holds" if ratio >= 500 and better else "partly" if ratio >= 100 or better else "does not hold")
        label = (f"{shift} 15-35 deg" if strength == 1 else
                 f"{shift} x {strength:g}, nearer the paper's shifts")
        rows.append((f"~1000x fewer worst-case writes than SGD, better accuracy ({label})", "low-rank",
                     "~1000x, better",
                     f"paper's configuration (rank 4, B = 100) vs nvm_sgd (the paper's kind of SGD): "
                     f"{_versus(runs, 'lowrank', 'nvm_sgd')}; vs sgd with latent weights: "
                     f"{_versus(runs, 'lowrank', 'sgd')}; "
                     f"apply_pending (rank 32) vs sgd: {_versus(runs, 'lowrank+apply', 'sgd')}", verdict))
    return rows


def claim_lut(args) -> list[tuple]:
    executors = _load_bench("bench_executors.py")
    data = load_dataset(args.data)
    x, y = data.x_test, data.y_test
    chip = neurosim.Chip(PROFILE, "mnist_mlp", calibration=data.x_train[:256], executor="lut",
                         executor_options={"activation_levels": 32})
    predicted = np.concatenate([chip.predict(x[i: i + 500]) for i in range(0, len(x), 500)])
    acc = float(np.mean(predicted == y))
    reference = float(np.mean(executors["_float_reference"](chip, x) == y))
    memory = chip.executor.deployable_bytes()
    ratio = memory["integer"] / memory["float32"]
    gap = 100 * (acc - reference)
    verdict = "holds" if gap >= -0.5 and ratio < 1 / 3 else "does not hold"
    return [("no multiplications, no accuracy loss, < 1/3 memory", "LUT", "0, none, < 1/3",
             f"multiplications 0 (the integer path is checked multiplication- and float-free by tests/test_lut.py); "
             f"{100 * acc:.2f} % vs float activations {100 * reference:.2f} % ({gap:+.2f} points); memory "
             f"{ratio:.3f} of float32", verdict)]


def _load_bench(name: str) -> dict:
    import runpy

    return runpy.run_path(str(Path(__file__).resolve().parent / name), run_name="not_main")


def main(argv: list[str] | None = None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--quick", action="store_true", help="fewer seeds and epochs (under 5 minutes)")
    parser.add_argument("--only", nargs="+", choices=["conntra", "bitflip", "lowrank", "lut"])
    args = parser.parse_args(argv)
    full = not args.quick
    args.epochs = 15 if full else 5
    args.small_epochs = 200 if full else 100
    args.mnist_seeds = [0, 1, 2] if full else [0]
    args.small_seeds = [0, 1, 2, 3, 4]
    args.lowrank_seeds = [0, 1, 2] if full else [0]
    args.stream = 4000 if full else 1000
    args.results = {}
    load = Load()
    rows = []
    for name, fn in (("conntra", claims_conntra), ("bitflip", claim_bitflip), ("lowrank", claim_lowrank),
                     ("lut", claim_lut)):
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        rows += fn(args)
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"\nseed papers' claims ({'quick' if args.quick else 'full'} run; MNIST seeds {args.mnist_seeds}, "
          f"{args.epochs} epochs; small sets seeds {args.small_seeds}, {args.small_epochs} epochs; low-rank seeds "
          f"{args.lowrank_seeds}, {args.stream} stream samples; trainers' defaults, test accuracy; medians "
          "[min-max])")
    print("| claim | paper | paper's figure | ours | verdict |")
    print("|---|---|---|---|---|")
    for claim, paper, figure, ours, verdict in rows:
        print(f"| {claim} | {paper} | {figure} | {ours} | {verdict} |")
    print(load.describe())
    return rows


if __name__ == "__main__":
    run_main(main)
