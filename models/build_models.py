"""Train and save the shipped ternary checkpoints (host-side training with a straight-through estimator).

Usage::

    python models/build_models.py [--only NAME] [--out DIR] [--mnist SPEC]

Every model is trained with a fixed seed (same data, same seed: bit-identical codes), evaluated as the *ternary*
network (``Model.forward`` on the integer codes, no float weights involved) and saved as ``DIR/NAME.toml`` plus
``DIR/NAME.npz``. The description in each file states the data set, split, architecture and measured test accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from neurosim.data import load_dataset
from neurosim.nn import save_model
from neurosim.nn.host_training import evaluate, train_on_host


def _dense(n: int, activation: str = "relu") -> dict:
    return {"type": "dense", "out_features": n, "activation": activation}


def _conv(c: int) -> dict:
    return {"type": "conv2d", "out_channels": c, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"}


FLATTEN = {"type": "flatten"}
POOL = {"type": "maxpool2d", "size": 2}

# name -> (data set, architecture text, architecture, training options)
MODELS = {
    "iris_mlp": ("iris", "4-16-3 MLP (dense 16 relu, dense 3)",
                 [_dense(16), _dense(3, "none")],
                 dict(epochs=200, batch_size=16, lr=1e-2, seed=0)),
    "digits_mlp": ("digits", "flatten-64-64-10 MLP (dense 64 relu, dense 10)",
                   [FLATTEN, _dense(64), _dense(10, "none")],
                   dict(epochs=30, batch_size=32, lr=3e-3, seed=0)),
    "mnist_mlp": ("mnist", "flatten-784-256-10 MLP (dense 256 relu, dense 10)",
                  [FLATTEN, _dense(256), _dense(10, "none")],
                  dict(epochs=15, batch_size=64, lr=1e-3, seed=0)),
    "mnist_cnn": ("mnist", "CNN conv3x3(8, stride 1, pad 1) relu - maxpool2 - conv3x3(16, stride 1, pad 1) relu - "
                           "maxpool2 - flatten-784 - dense 10",
                  [_conv(8), POOL, _conv(16), POOL, FLATTEN, _dense(10, "none")],
                  dict(epochs=15, batch_size=64, lr=3e-3, seed=0)),
}


def _split_text(data) -> str:
    n_train, n_test = len(data.y_train), len(data.y_test)
    if data.name.startswith("mnist"):
        how = ("the MNIST t10k test set split in order: first 8000 train, last 2000 test"
               if (n_train, n_test) == (8000, 2000) else "the official MNIST train/t10k split")
    else:
        how = "scikit-learn's bundled set, stratified 75/25 split with seed 0, features min-max scaled to [0, 1]"
    return f"{how} ({n_train} train / {n_test} test)"


def build(name: str, out: Path, mnist_spec: str) -> tuple[float, float, float]:
    dataset, arch_text, architecture, options = MODELS[name]
    data = load_dataset(mnist_spec if dataset == "mnist" else dataset, seed=0)
    start = time.perf_counter()
    model = train_on_host(architecture, data.x_train, data.y_train, name=name, input_shape=data.input_shape,
                          n_classes=data.n_classes, weight_bits=2, **options)
    seconds = time.perf_counter() - start
    train_acc = evaluate(model, data.x_train, data.y_train)
    test_acc = evaluate(model, data.x_test, data.y_test)
    description = (f"Ternary (TWN, 2-bit codes) {arch_text} for {dataset}; data: {_split_text(data)}; "
                   f"trained on the host with a straight-through estimator (Adam, {options['epochs']} epochs, "
                   f"batch {options['batch_size']}, lr {options['lr']:g}, seed {options['seed']}); ternary "
                   f"accuracy: train {100 * train_acc:.2f} %, test {100 * test_acc:.2f} %.")
    model = dataclasses.replace(model, description=description)
    path = save_model(model, out / f"{name}.toml")
    print(f"{name:<11} train {100 * train_acc:6.2f} %  test {100 * test_acc:6.2f} %  "
          f"({seconds:5.1f} s)  -> {path}", flush=True)
    return train_acc, test_acc, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(MODELS), help="build just this model")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the folder of this script)")
    parser.add_argument("--mnist", default="mnist", help="data set spec for MNIST (default: 'mnist')")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    for name in [args.only] if args.only else MODELS:
        build(name, args.out, args.mnist)
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
