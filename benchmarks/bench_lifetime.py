"""Benchmark: how long a chip that keeps learning stays useful, and how much endurance management extends it.

Setting: MNIST 784-64-10 pre-trained on the host (ternary), mapped onto ``rram_hfo2`` and adapting online to the
rotated stream (scenario ``rotate``), run as a continual stream (the shifted stream repeated) until the end of its
useful life: held-out accuracy (2,000 images of the shifted test part; the mean of 3 consecutive evaluations) more
than 5 points below the best it reached. Accelerated: the profile's median endurance (1e6 writes) is scaled by
``--scale`` (default 1e-5: 10 writes) and every time is converted back (simulated samples / scale, first order).

For each trainer (sgd, coordinate, bitflip, lowrank with ``apply_pending``) the same chip (seed) runs:

- ``none``: no endurance management (today's chip);
- ``rotate`` and ``hot_cold``: wear levelling in the write controller (``write_policy.wear_levelling``, 1/16 of
  each crossbar's rows spare, a levelling round every ``--period`` update steps); the writes the moves cost are
  counted like any other;
- ``budget``: a per-cell write budget (``--budget`` writes, refused beyond at the door);
- ``aware`` (sgd, coordinate, bitflip): no budget, the trainer endurance-aware: coordinate and bitflip weigh each
  candidate by the writes its cells have left out of the median endurance (``wear_weight = 1``); sgd writes a
  weight only when its latent weight is past the rounding boundary by a margin (``hysteresis = 0.1`` level steps,
  growing by ``wear_weight = 1`` x the share of its writes used);
- ``budget+aware``: the budget, and the endurance-aware trainer counting down from it;
- ``control``: the unmanaged run at the real endurance (no cell wears out in the stream), which tells whether an end
  of useful life is wear's doing at all (printed apart, below the table).

Reported per run: time to the first failed cell, to 1 % failed cells and to the end of useful life (samples at the
real endurance, and days at ``--sample-rate``), mean held-out accuracy over the life, cells failed, writes refused
and the levelling's own writes. Target (issue 16): for at least two trainers, levelling or budgets extend useful
life >= 3x at no more than 1 point of accuracy over the life. A run that is still useful when its stream ends gives
a lower bound (">").

Run: ``python benchmarks/bench_lifetime.py [--quick] [--seeds N] [--trainers ...]`` (full: about 13 minutes on 2 cores
for one seed; quick: about 5)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NEUROSIM_NUM_THREADS", "1")  # two runs side by side, one core each

import neurosim
from neurosim.cli import _fraction, _int_at_least, _positive_float  # the CLI's argparse types
from neurosim.data import load_dataset
from neurosim.data.streams import Scenario, online_scenario
from neurosim.nn.host_training import train_on_host
from neurosim.nn.spec import architecture_from_spec
from neurosim.training import adapt, make_trainer
from neurosim.training.endurance import UsefulLife, scaled_endurance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Load, run_main, spread, verdict

TRAINERS = ("sgd", "coordinate", "bitflip", "lowrank")
PARAMS = {"lowrank": {"apply_pending": True}}
_SHARED: dict = {}


def _setup(data_name: str, seed: int) -> None:
    data = load_dataset(data_name, seed=seed)
    online = online_scenario(data, Scenario(shift="rotate", seed=seed))
    pre = online.pretrain
    model = train_on_host(architecture_from_spec("784-64-10"), pre.x_train, pre.y_train, name="host_784-64-10",
                          input_shape=data.input_shape, n_classes=data.n_classes, weight_bits=2, epochs=10, seed=seed)
    _SHARED[seed] = (online, model)


AWARE = {"sgd": {"hysteresis": 0.1, "wear_weight": 1.0}, "coordinate": {"wear_weight": 1.0},
         "bitflip": {"wear_weight": 1}}


def run(config: tuple) -> dict:
    trainer, label, policy, budget, aware, seed, args = config
    online, model = _SHARED[seed]
    t0 = time.perf_counter()
    changes = {}
    if policy != "none":
        changes = {"write_policy.wear_levelling": policy, "write_policy.spare_rows_fraction": 1 / 16,
                   "write_policy.levelling_period": args.period}
    # the control runs the same stream at the profile's own endurance (1e6 writes: no cell wears out in it), so an
    # end of life there is the trainer's own doing, not wear's
    scale = 1.0 if label == "control" else args.scale
    profile = neurosim.load_profile("rram_hfo2").replace(changes)
    if scale != 1.0:
        profile = scaled_endurance(profile, scale)
    chip = neurosim.Chip(profile, model, seed=seed)
    params = dict(PARAMS.get(trainer, {}))
    if aware:
        params.update(AWARE[trainer])
    rule = UsefulLife(endurance_scale=scale, window=args.window, evaluations=args.evaluations)
    record = adapt(chip, make_trainer(trainer, **params), online, seed=seed,
                   stream=args.stream[trainer], until=rule, write_budget=budget)
    st = record.lifetime["stream"]
    lev = record.memory.get("wear_levelling") or {}
    return {"trainer": trainer, "config": label, "seed": seed, "end": st["samples_to"]["end_of_life"],
            "first": st["samples_to"]["first_failure"], "one_pct": st["samples_to"]["one_percent_failed"],
            "run": st["samples_run"] / scale, "acc": st["accuracy_over_life"], "simulated_end":
            st["simulated_samples_to"]["end_of_life"], "simulated_run": st["samples_run"],
            "failed": record.memory["cells_failed"],
            "refused": record.memory.get("refused_writes", 0), "lev_writes": lev.get("writes", 0),
            "writes": record.memory["writes_total"], "wall": time.perf_counter() - t0}


def _fmt(x: float | None, run: float) -> str:
    return f"> {run:.3g}" if x is None else f"{x:.3g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter streams (about 5 minutes on 2 cores)")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--scale", type=_fraction, default=1e-5, help="endurance scale of the accelerated test")
    parser.add_argument("--budget", type=_int_at_least(1), default=4, help="write budget per cell (writes)")
    parser.add_argument("--period", type=_int_at_least(1), default=100, help="update steps between levelling rounds")
    parser.add_argument("--window", type=_int_at_least(1), default=2000, help="held-out samples of the accuracy rule")
    parser.add_argument("--evaluations", type=_int_at_least(2), default=60)
    parser.add_argument("--sample-rate", type=_positive_float, default=100.0, help="stream samples a second (for days)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=_int_at_least(1), default=1,
                        help="seeds --seed, --seed + 1, ... (summary: medians)")
    parser.add_argument("--trainers", nargs="+", choices=TRAINERS, default=list(TRAINERS))
    parser.add_argument("--workers", type=_int_at_least(1), default=2)
    parser.add_argument("--stream", type=_int_at_least(1), default=None,
                        help="stream length of every run (simulated samples; default: 4e6, 3e6 for coordinate, 1e6 "
                        "for lowrank; a quarter of that with --quick)")
    args = parser.parse_args()
    given = args.stream
    cap = given or (1_000_000 if args.quick else 4_000_000)
    args.stream = (dict.fromkeys(TRAINERS, given) if given
                   else {"sgd": cap, "coordinate": 3 * cap // 4, "bitflip": cap, "lowrank": cap // 4})
    scaled_endurance(neurosim.load_profile("rram_hfo2"), args.scale)  # a scale below one write: said before any work
    load = Load()
    seeds = list(range(args.seed, args.seed + args.seeds))
    print(f"run to failure: MNIST 784-64-10 (host pre-trained, ternary) adapting to rotate on rram_hfo2, endurance x "
          f"{args.scale:g} (median {1e6 * args.scale:g} writes; times converted back), levelling period "
          f"{args.period} steps, 1/16 rows spare, budget {args.budget} writes, seeds {seeds}, streams up to "
          f"{cap:,} simulated samples", flush=True)
    for seed in seeds:
        _setup(args.data, seed)
    configs = []
    for seed in seeds:
        for t in args.trainers:
            configs += [(t, "none", "none", None, False, seed, args), (t, "control", "none", None, False, seed, args),
                        (t, "rotate", "rotate", None, False, seed, args),
                        (t, "hot_cold", "hot_cold", None, False, seed, args),
                        (t, "budget", "none", args.budget, False, seed, args)]
            if t in AWARE:
                configs += [(t, "aware", "none", None, True, seed, args),
                            (t, "budget+aware", "none", args.budget, True, seed, args)]
    results = []
    try:
        # workers ignore Ctrl-C: the parent stops the pool and says what finished (no worker tracebacks)
        with mp.get_context("fork").Pool(args.workers, initializer=signal.signal,
                                         initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
            for r in pool.imap(run, configs):
                results.append(r)
                print(f"  {r['trainer']:<10} {r['config']:<13} seed {r['seed']}: end of life "
                      f"{_fmt(r['end'], r['run'])} samples ({r['wall']:.0f} s)", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted: {len(results)} of {len(configs)} runs finished (printed above)")
        return 130
    print()
    head = ["trainer", "config", "seed", "end of life (samples)", "days", "x none", "acc over life", "vs none",
            "1st failure", "1% failed", "failed cells", "refused writes", "levelling writes", "wall s"]
    controls = [r for r in results if r["config"] == "control"]
    results = [r for r in results if r["config"] != "control"]
    rows, ratios = [head], {}
    for t, seed in [(t, seed) for t in args.trainers for seed in seeds]:
        mine = [r for r in results if r["trainer"] == t and r["seed"] == seed]
        base = next(r for r in mine if r["config"] == "none")
        for r in mine:
            end = r["end"] if r["end"] is not None else r["run"]
            base_end = base["end"] if base["end"] is not None else base["run"]
            ratio = end / base_end
            bound = ">= " if r["end"] is None and base["end"] is not None else ("?" if base["end"] is None else "")
            d_acc = 100 * (r["acc"] - base["acc"])
            if r["config"] != "none":
                ratios.setdefault((t, r["config"]), []).append((None if base["end"] is None else ratio, d_acc))
            rows.append([t, r["config"], str(seed), _fmt(r["end"], r["run"]), _fmt(None if r["end"] is None else
                                                                          r["end"] / args.sample_rate / 86400,
                                                                          r["run"] / args.sample_rate / 86400),
                         "" if r["config"] == "none" else f"{bound}{ratio:.2f}", f"{100 * r['acc']:.2f} %",
                         "" if r["config"] == "none" else f"{d_acc:+.2f}", _fmt(r["first"], r["run"]),
                         _fmt(r["one_pct"], r["run"]), f"{r['failed']:,}", f"{r['refused']:,}",
                         f"{r['lev_writes']:,} ({100 * r['lev_writes'] / max(r['writes'], 1):.0f} %)",
                         f"{r['wall']:.0f}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print(f"samples at the real endurance (simulated / {args.scale:g}); days at {args.sample_rate:g} samples/s; "
          "'> N': still useful when the stream ended (N = its length); '?': the unmanaged run never ended, so no "
          "ratio; levelling writes: the moves' own writes (% of the run's writes)")
    print()
    print("control: the same stream at the real endurance (no cell wears out); an end of life here is not wear's")
    for c in controls:
        base = next(r for r in results if r["trainer"] == c["trainer"] and r["seed"] == c["seed"]
                    and r["config"] == "none")
        unmanaged = (f"ended at {base['simulated_end']:,} simulated samples" if base["simulated_end"] is not None
                     else f"still useful at {base['simulated_run']:,}")
        control = (f"ended at {c['simulated_end']:,}" if c["simulated_end"] is not None
                   else f"still useful at {c['simulated_run']:,}")
        cause = ("wear ends it" if base["simulated_end"] is not None and c["simulated_end"] is None
                 else "not wear-limited" if base["simulated_end"] is None
                 else "it ends without wear too: not wear's doing")
        print(f"  {c['trainer']:<10} seed {c['seed']}: with wear {unmanaged}; without wear {control} "
              f"({c['failed']} cells failed, accuracy over the life {100 * c['acc']:.2f} %) -> {cause}")
    # the verdict reads the median over seeds of each managed configuration (a lower bound counts as its value)
    passed, aware_ok = [], []
    print()
    print("over seeds: useful life against none (median [min-max]) and accuracy over the life (points vs none)")
    for (t, config), vals in ratios.items():
        known = [x for x, _ in vals if x is not None]
        accs = [a for _, a in vals]
        if len(known) < len(vals):
            print(f"  {t:<10} {config:<13} no ratio: the unmanaged run never ended for {len(vals) - len(known)} of "
                  f"{len(vals)} seeds; accuracy {spread(accs, digits=2)}")
            continue
        print(f"  {t:<10} {config:<13} {spread(known, digits=2)}x, accuracy {spread(accs, digits=2)}")
        if statistics.median(known) >= 3 and statistics.median(accs) >= -1:
            (aware_ok if config == "aware" else passed).append(f"{t} ({config})")
    print(f"target: levelling or budgets give >= 3x useful life at <= 1 point of accuracy over the life, for >= 2 "
          f"trainers: {', '.join(passed) or 'none'} -> {verdict(len({p.split()[0] for p in passed}) >= 2)}; the "
          f"endurance-aware trainer alone (no budget) does it for: {', '.join(aware_ok) or 'none'}")
    print(load.describe())
    return 0


if __name__ == "__main__":
    run_main(main)
