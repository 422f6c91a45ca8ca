"""Compare on-chip trainers on one profile, data set and scenario, with the same seed: the package's main job.

Two settings:

- *from scratch* (no scenario): every trainer starts from the same fresh seeded model (or the same shipped model)
  and trains for ``epochs`` epochs;
- *online adaptation* (a :class:`~neurosim.data.streams.Scenario`): a model is pre-trained on the host on the
  scenario's pre-training part, mapped onto the chip, and every trainer adapts the same chip state to the shifted
  stream in one pass while the memory drifts.

Results: one :class:`~neurosim.experiments.record.RunRecord` JSON per trainer, a CSV summary, a text table and
plots drawn from the records only (:mod:`neurosim.plots.compare`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..chip import Chip
from ..data import load_dataset
from ..data.streams import Scenario, online_scenario
from ..errors import NeurosimError
from ..nn import Model, load_model
from ..nn.host_training import train_on_host
from ..nn.spec import architecture_from_spec, is_spec, model_from_spec
from ..plots.compare import plot_comparison
from ..profiles import DEFAULT_PROFILE, Profile, load_profile
from ..record import CSV_COLUMNS, RunRecord, format_table, summary_rows
from ..training import adapt, make_trainer, train
from ..training.progress import ProgressBar


@dataclass
class CompareSpec:
    """What to compare (defaults: the main job on the bundled digits data)."""

    trainers: list[str]
    profile: str | Profile = DEFAULT_PROFILE
    data: str = "digits"
    model: str = "64-64-10"
    epochs: int = 10
    seed: int = 0
    weight_bits: int = 2
    scenario: Scenario | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_sizes: dict[str, int] = field(default_factory=dict)
    pretrain_epochs: int = 10


def _fresh_model(spec: CompareSpec, input_shape, n_classes: int, x_pre=None, y_pre=None) -> Model:
    """The model every trainer starts from: a seeded fresh MLP, a shipped model, or (online) host-pre-trained."""
    if spec.scenario is not None and is_spec(spec.model):
        return train_on_host(architecture_from_spec(spec.model), x_pre, y_pre, name=f"host_{spec.model}",
                             input_shape=input_shape, n_classes=n_classes, weight_bits=spec.weight_bits,
                             epochs=spec.pretrain_epochs, seed=spec.seed,
                             description=f"pre-trained on the host ({spec.pretrain_epochs} epochs)")
    if is_spec(spec.model):
        return model_from_spec(spec.model, input_shape, n_classes, seed=spec.seed, weight_bits=spec.weight_bits)
    return load_model(spec.model)


def run_compare(spec: CompareSpec, out_dir: str | Path | None = None, progress: bool = True) -> list[RunRecord]:
    """Run every trainer of ``spec``; write records, CSV and plots to ``out_dir`` when given."""
    if not spec.trainers:
        raise NeurosimError("compare needs at least one trainer")
    profile = load_profile(spec.profile)
    data = load_dataset(spec.data, seed=spec.seed)
    online = online_scenario(data, spec.scenario) if spec.scenario is not None else None
    if online is not None:
        model = _fresh_model(spec, data.input_shape, data.n_classes, online.pretrain.x_train, online.pretrain.y_train)
    else:
        model = _fresh_model(spec, data.input_shape, data.n_classes)
    trainers = [make_trainer(name, **spec.params.get(name, {})) for name in spec.trainers]  # fail fast on typos
    records = []
    for trainer in trainers:
        chip = Chip(profile, model, seed=spec.seed)
        batch = spec.batch_sizes.get(trainer.name, trainer.default_batch_size)
        bar = ProgressBar(trainer.name) if progress else None
        info = {"model_spec": spec.model, "command": "compare"}
        if online is not None:
            record = adapt(chip, trainer, online, batch_size=batch, seed=spec.seed, progress=bar, run_info=info)
        else:
            record = train(chip, trainer, data, epochs=spec.epochs, batch_size=batch, seed=spec.seed, progress=bar,
                           steps_per_eval=max(1, len(data.x_train) // (4 * batch)), run_info=info)
        records.append(record)
    if out_dir is not None:
        write_outputs(records, Path(out_dir))
    return records


def write_outputs(records: list[RunRecord], out_dir: Path) -> dict[str, Path]:
    """Records (one JSON each), ``summary.csv`` and the comparison plots; returns what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for r in records:
        written[r.trainer["name"]] = r.save(out_dir / f"{r.trainer['name']}.json")
    csv_path = out_dir / "summary.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in summary_rows(records):
            writer.writerow(row)
    written["csv"] = csv_path
    written.update(plot_comparison(records, out_dir))
    return written


__all__ = ["CompareSpec", "run_compare", "write_outputs", "format_table", "summary_rows", "CSV_COLUMNS"]
