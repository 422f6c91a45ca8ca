"""Accuracy and energy of spiking execution against timesteps, drawn from reports' figures (never re-simulates)."""

from __future__ import annotations

from pathlib import Path

from ._pyplot import pyplot
from .compare import _save


def plot_timesteps(points: list[dict], path: str | Path, *, context: str, reference: float | None = None,
                   reference_label: str = "analog execution") -> Path:
    """Accuracy (%) and energy per inference (J) against the number of timesteps, one panel each.

    Parameters
    ----------
    points : list of dict
        ``{"timesteps", "accuracy" (fraction), "energy_per_inference_j", "latency_s"}`` per run.
    context : str
        What was run (profile, model, data, samples): drawn on the figure.
    reference : float, optional
        An accuracy (fraction) to draw as a horizontal line, e.g. the analog executor's.
    """
    plt = pyplot()
    ts = [p["timesteps"] for p in points]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    ax1.plot(ts, [100 * p["accuracy"] for p in points], marker="o", label="spiking")
    if reference is not None:
        ax1.axhline(100 * reference, color="gray", linestyle="--", label=reference_label)
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("timesteps")
    ax1.set_ylabel("accuracy (%)")
    ax1.set_title("accuracy against timesteps", fontsize=10)
    ax1.legend(fontsize=8)
    ax2.plot(ts, [p["energy_per_inference_j"] for p in points], marker="o", color="tab:red")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("timesteps")
    ax2.set_ylabel("energy per inference (J)")
    for t, p in zip(ts, points):
        ax2.annotate(f"{p['latency_s'] * 1e3:.3g} ms", (t, p["energy_per_inference_j"]), fontsize=7,
                     xytext=(3, -10), textcoords="offset points")
    ax2.set_title("energy per inference (labels: latency)", fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(path), plt, context, tight=True)


__all__ = ["plot_timesteps"]
