"""What-if study: one write workload on every shipped hardware profile, and on an endurance what-if.

The workload stands in for on-chip training: a layer of ternary weights (two cells each on differential-pair
profiles, one multi-level cell elsewhere) where a fixed fraction of weights changes every update step, with a few
"hot" weights changing much more often (as real trainers do). For each profile it reports writes, worst-cell
writes, write energy per step, write time, power during writing and the projected lifetime in steps, and draws a
bar chart.

Run: ``python examples/wear_whatif.py [--steps 200] [--weights 65536] [--plot wear_whatif.png]`` (the plot is
written unless ``--plot ''``).
"""

from __future__ import annotations

import argparse

import numpy as np

import neurosim


def weight_to_levels(weights: np.ndarray, profile: neurosim.Profile) -> tuple[np.ndarray, int]:
    """Cell levels storing ternary ``weights`` (-1, 0, +1) under the profile's encoding; returns (levels, cells)."""
    top = profile.device.levels - 1
    if profile.crossbar.weight_encoding == "differential_pair":
        plus = (weights > 0).astype(np.uint8) * top
        minus = (weights < 0).astype(np.uint8) * top
        return np.stack([plus, minus], axis=1).reshape(-1), 2 * weights.size
    # one multi-level cell per weight around a mid-level reference
    mid = top // 2
    return (mid + weights * min(mid, top - mid)).astype(np.uint8), weights.size


def run(profile: neurosim.Profile, n_weights: int, steps: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    weights = rng.integers(-1, 2, n_weights)
    levels, n_cells = weight_to_levels(weights, profile)
    memory = neurosim.NVMArray(n_cells, profile, seed=seed)
    memory.program(None, levels)  # initial programming of the model
    start = memory.ledger.copy()
    hot = rng.choice(n_weights, max(1, n_weights // 100), replace=False)
    for _ in range(steps):
        changed = np.concatenate([rng.choice(n_weights, n_weights // 100, replace=False), hot])
        weights[changed] = rng.integers(-1, 2, changed.size)
        memory.program(None, weight_to_levels(weights, profile)[0])
    report = neurosim.price(memory.ledger - start, profile)
    summary = memory.summary(steps=steps + 1)
    return {"profile": profile.name, "writes": summary.writes_total, "worst_cell": summary.writes_max_cell,
            "energy_per_step_j": report.energy_j["write"] / steps,
            "time_per_step_s": report.total_time_s / steps, "power_w": report.power_w,
            "lifetime_steps": summary.lifetime.lifetime_steps, "failed": summary.cells_failed}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--weights", type=int, default=65536)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="wear_whatif.png", help="the bar chart's PNG file ('' for none)")
    args = parser.parse_args(argv)

    profiles = [neurosim.load_profile(n) for n in neurosim.list_profiles()]
    # the what-if questions of the mission: lower endurance, 10x write energy
    base = neurosim.load_profile("rram_hfo2")
    profiles.append(base.replace({"name": "rram_endurance_1e4", "device.endurance_cycles": 1e4}))
    profiles.append(base.replace({"name": "rram_write_energy_x10", "device.set_energy_pj": 6.0,
                                  "device.reset_energy_pj": 6.0}))
    rows = [run(p, args.weights, args.steps, args.seed) for p in profiles]

    print(f"{args.weights:,} ternary weights, {args.steps} update steps, ~1 % of weights change per step")
    print(f"{'profile':<24}{'writes':>10}{'worst cell':>11}{'J/step':>11}{'s/step':>11}{'power W':>10}"
          f"{'lifetime steps':>16}{'failed':>8}")
    for r in rows:
        print(f"{r['profile']:<24}{r['writes']:>10}{r['worst_cell']:>11}{r['energy_per_step_j']:>11.2e}"
              f"{r['time_per_step_s']:>11.2e}{r['power_w']:>10.2e}{r['lifetime_steps']:>16.3g}{r['failed']:>8}")
    if args.plot:
        from neurosim.plots import pyplot

        plt = pyplot()

        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        names = [r["profile"] for r in rows]
        axes[0].barh(names, [r["energy_per_step_j"] for r in rows])
        axes[0].set_xscale("log")
        axes[0].set_xlabel("write energy per update step (J)")
        axes[1].barh(names, [r["lifetime_steps"] for r in rows])
        axes[1].set_xscale("log")
        axes[1].set_xlabel("projected lifetime (update steps)")
        for ax in axes:
            ax.invert_yaxis()
        fig.suptitle(f"The same write workload on every shipped profile: {args.weights:,} ternary weights, "
                     f"{args.steps} update steps, ~1 % of weights changing per step, seed {args.seed}", fontsize=9)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")
    return rows


if __name__ == "__main__":
    main()
