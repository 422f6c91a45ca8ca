"""Running one study point, wherever it runs: a local worker process, a Dask worker, or the calling process.

:func:`run_point` takes a point's payload (plain data: the task and the profile's values, see
:meth:`neurosim.experiments.points.Point.payload`) and returns plain data: the point's record as a dict (a run
record, an inference report, or a mapping report with its pricing profile), or the error that stopped it. It never
writes anything: only the coordinating process writes the study's store.

Everything random is seeded from the point's seed, so a point gives bit-identical records on any worker (wall
times aside).
"""

from __future__ import annotations

import functools
import os
import socket
import time
import traceback
from typing import Any

from ..chip import Chip
from ..data import load_dataset
from ..data.streams import Scenario, online_scenario
from ..errors import NeurosimError
from ..mapping import map_model
from ..nn import Model, load_model
from ..nn.host_training import train_on_host
from ..nn.spec import architecture_from_spec, is_spec, model_from_spec
from ..profiles import Profile, profile_from_dict
from ..record import profile_entry
from ..training import adapt, make_trainer, train
from ..training.endurance import UsefulLife, scaled_endurance

MAP_SCHEMA = "neurosim.map/1"


def run_point(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one point; never raises for a point that fails.

    Returns
    -------
    dict
        ``{"key", "ok": True, "record": dict, "wall_s": float, "worker": "host:pid"}``, or ``{"key", "ok": False,
        "error": str, "wall_s", "worker"}`` (a :class:`~neurosim.errors.NeurosimError`'s message; for anything
        else the exception and its traceback, which point at a bug).
    """
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    # a worker is one of many filling the machine's cores (a Dask worker's environment is not ours to set):
    # the chip's row chunks run on this thread (the numbers are the same on any number of threads)
    os.environ.setdefault("NEUROSIM_NUM_THREADS", "1")
    try:
        profile = profile_from_dict(payload["profile"], source=f"point {payload.get('key', '?')[:12]}: profile")
        record = _run(payload["task"], profile)
    except NeurosimError as exc:
        return {"key": payload.get("key"), "ok": False, "error": str(exc), "wall_s": time.perf_counter() - start,
                "worker": worker}
    except Exception as exc:  # a bug: keep the traceback for the report, do not take the study down
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        return {"key": payload.get("key"), "ok": False, "error": f"{type(exc).__name__}: {exc}\n{text}",
                "wall_s": time.perf_counter() - start, "worker": worker}
    return {"key": payload.get("key"), "ok": True, "record": record, "wall_s": time.perf_counter() - start,
            "worker": worker}


def _run(task: dict[str, Any], profile: Profile) -> dict[str, Any]:
    kind = task["kind"]
    if kind == "map":
        mapping = map_model(load_model(task["model"]), profile, task["placement"])
        return {"schema": MAP_SCHEMA, "profile": profile_entry(profile), "mapping": mapping.report().to_dict()}
    seed = task["seed"]
    data = _dataset(task["data"], seed)
    if kind == "infer":
        model = load_model(task["model"])
        n = len(data.x_test) if task["samples"] is None else min(task["samples"], len(data.x_test))
        calibration = data.x_train[: task["calibration"]] if task["calibration"] else None
        chip = Chip(profile, model, seed=seed, placement=task["placement"], executor=task["executor"],
                    calibration=calibration)
        return chip.evaluate(data.x_test[:n], data.y_test[:n]).to_dict()
    trainer = make_trainer(task["trainer"], **task["params"])
    info = {"model_spec": task["model"], "command": task["origin"]}
    if kind == "train":
        model = _fresh_model(task["model"], data.input_shape, data.n_classes, seed, task["weight_bits"])
        batch = task["batch_size"]
        chip = Chip(profile, model, seed=seed)
        chip.set_write_budget(task.get("write_budget"))
        return train(chip, trainer, data, epochs=task["epochs"], batch_size=batch, seed=seed,
                     steps_per_eval=max(1, len(data.x_train) // (4 * batch)), run_info=info).to_dict()
    scenario = _scenario(task)
    online = online_scenario(data, scenario)
    model = _pretrained_model(task["model"], task["data"], task["weight_bits"], task["pretrain_epochs"], scenario)
    scale = task.get("endurance_scale") or 1.0
    if scale != 1.0:  # an accelerated test: cells wear out 1/scale times sooner (times are converted back)
        profile = scaled_endurance(profile, scale)
    until = None
    if task.get("stream") is not None:
        until = UsefulLife(min_accuracy=task.get("min_accuracy"), failed_fraction=task.get("stop_failed"),
                           endurance_scale=scale)
    chip = Chip(profile, model, seed=seed)
    return adapt(chip, trainer, online, batch_size=task["batch_size"], seed=seed, run_info=info,
                 stream=task.get("stream"), until=until, write_budget=task.get("write_budget")).to_dict()


@functools.lru_cache(maxsize=4)
def _dataset(name: str, seed: int):
    # a worker often runs several points on the same data (trainers, axes): load and split it once per process
    return load_dataset(name, seed=seed)


def _fresh_model(model: str, input_shape, n_classes: int, seed: int, weight_bits: int) -> Model:
    """A seeded fresh MLP for a layer-size spec, else a shipped or file model."""
    if is_spec(model):
        return model_from_spec(model, input_shape, n_classes, seed=seed, weight_bits=weight_bits)
    return load_model(model)


def _scenario(task: dict[str, Any]) -> Scenario:
    ranges = {k: (None if task.get(f"{k}_range") is None else tuple(task[f"{k}_range"]))
              for k in ("pretrain", "stream", "test")}
    return Scenario(shift=task["scenario"], analog_drift=task["analog_drift"], digital_drift=task["digital_drift"],
                    strength=task["strength"], seed=task["seed"], **ranges)


@functools.lru_cache(maxsize=2)
def _pretrained_model(model: str, data: str, weight_bits: int, pretrain_epochs: int, scenario: Scenario) -> Model:
    """The model an online point starts from: pre-trained on the host on the scenario's pre-training part (for a
    layer-size spec), or a shipped or file model as it is. Cached: every trainer of a study starts from it."""
    if not is_spec(model):
        return load_model(model)
    dataset = _dataset(data, scenario.seed)
    pre = online_scenario(dataset, scenario).pretrain
    return train_on_host(architecture_from_spec(model), pre.x_train, pre.y_train, name=f"host_{model}",
                         input_shape=dataset.input_shape, n_classes=dataset.n_classes, weight_bits=weight_bits,
                         epochs=pretrain_epochs, seed=scenario.seed,
                         description=f"pre-trained on the host ({pretrain_epochs} epochs)")


__all__ = ["run_point", "MAP_SCHEMA"]
