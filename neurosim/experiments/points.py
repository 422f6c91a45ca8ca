"""A study's points: the product of its axes, trainers and seeds, each resolved to exactly what a worker runs.

Resolution happens in the coordinating process before any work starts, so that every bad value (a profile key out
of range, a model file that does not load, data whose samples do not fit the model) is reported first. A point is
identified by its *content key*: the SHA-256 of its task, its profile's content hash, its model's content and the
package version. A rerun finds finished points by key (resume); adding axis values adds only new keys.

Points that differ only in prices (per-action energies, latencies, the clock: keys of role ``price`` or ``label``
in :data:`neurosim.profiles.schema.ROLES`) share a *simulation key* (the same with the profile's structure hash);
one of them is simulated and the others are re-priced from its counts, exactly (:meth:`RunRecord.reprice`).
Mapping points are always run (mapping is cheap and its report is priced on reading anyway).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._version import __version__
from ..data import load_dataset
from ..errors import NeurosimError, StudyError
from ..nn import load_model
from ..nn.spec import architecture_from_spec, is_spec, model_from_spec
from ..profiles import Profile, load_profile
from ..profiles.schema import key_roles
from ..training import make_trainer, trainer_class
from .spec import RANGES, StudySpec, axis_kind

REPRICEABLE_KINDS = ("infer", "train", "adapt")
COMPARE_SOURCE = "neurosim compare"


@dataclass(frozen=True)
class Point:
    """One resolved point of a study.

    Attributes
    ----------
    position : int
        Its place in the spec's expansion (the order points are listed and run).
    axes : dict
        The value of every axis at this point (``None`` where an axis does not apply, e.g. ``sgd.lr`` at a point
        of another trainer); ``"trainer"`` is an axis of ``train`` and ``adapt`` studies.
    seed : int
    task : dict
        What a worker runs (JSON-able; see :func:`neurosim.experiments.worker.run_point`).
    profile : Profile
        The resolved profile (base, ``[set]`` and the axes' profile keys applied).
    key, sim_key : str
        Content key and simulation key (see the module docstring).
    """

    position: int
    axes: dict[str, Any]
    seed: int
    task: dict[str, Any]
    profile: Profile
    key: str
    sim_key: str

    def payload(self) -> dict[str, Any]:
        """What is sent to a worker: the task and the profile's values (no file needed where it runs)."""
        return {"task": self.task, "profile": self.profile.to_dict(), "key": self.key}

    def label(self) -> str:
        """``"sgd, periphery.adc_bits=4, seed 0"``: the point in words."""
        parts = [f"{v}" if k == "trainer" else f"{k}={v}" for k, v in self.axes.items() if v is not None]
        return ", ".join(parts + [f"seed {self.seed}"])


def expand(spec: StudySpec) -> list[Point]:
    """Every point of ``spec``, resolved and checked, in run order (trainers, then the axes in spec order, then
    seeds, varying fastest last); points that resolve to the same task appear once.

    Raises
    ------
    StudyError
        Naming the spec, the point and what is wrong with it.
    """
    dims: list[tuple[tuple[str, ...], list[tuple[Any, ...]]]] = []
    if spec.trainers:
        dims.append((("trainer",), [(t,) for t in spec.trainers]))
    dims += list(spec.axes)
    resolver = _Resolver(spec)
    points: list[Point] = []
    seen: set[str] = set()
    for combo in itertools.product(*[values for _, values in dims]):
        assignment: dict[str, Any] = {}
        for (keys, _), values in zip(dims, combo):
            assignment.update(zip(keys, values))
        for seed in spec.seeds:
            point = resolver.resolve(assignment, seed, len(points))
            if point.key not in seen:
                seen.add(point.key)
                points.append(point)
    return points


def repriced_axes(spec: StudySpec) -> list[str]:
    """Axes whose every key only changes prices or labels: their points are re-priced, not re-simulated."""
    if spec.kind not in REPRICEABLE_KINDS:
        return []
    roles = key_roles()
    return [" + ".join(keys) for keys, _ in spec.axes
            if all(axis_kind(k) == "profile" and roles.get(k) in ("price", "label") for k in keys)]


def spec_is_comparison(spec: StudySpec) -> bool:
    """Whether ``spec`` is the study of a ``neurosim compare`` run."""
    return spec.source == COMPARE_SOURCE


def model_identity(model: str) -> str:
    """What a model setting stands for: a fresh MLP's layer sizes, or the content of a shipped or file model
    (so that editing a model file makes new points, not stale results)."""
    if is_spec(model):
        return "spec:" + model
    return "model:" + _loaded_model_hash(model)


def _loaded_model_hash(model: str) -> str:
    """A digest of everything a model holds (every attribute of the model and of each layer, arrays with their
    shape and type), so that no edit of a model file goes unnoticed."""
    h = hashlib.sha256()
    _digest_value(h, load_model(model))
    return h.hexdigest()


def _digest_value(h, value: Any) -> None:
    if isinstance(value, np.ndarray):
        h.update(f"array{value.shape}{value.dtype.str}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}{len(value)}".encode())
        for v in value:
            _digest_value(h, v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__name__.encode())
        for f in dataclasses.fields(value):
            h.update(f.name.encode())
            _digest_value(h, getattr(value, f.name))
    else:
        h.update(repr(value).encode())


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class _Resolver:
    """Resolves assignments of axis values to points, loading each profile, model and data set once."""

    def __init__(self, spec: StudySpec):
        self.spec = spec
        self._profiles: dict[str, Profile] = {}
        self._models: dict[str, str] = {}
        self._shapes: dict[tuple, None] = {}
        self._datasets: dict[str, object] = {}

    def _fail(self, assignment: dict[str, Any], seed: int, exc: Exception) -> StudyError:
        where = ", ".join(f"{k}={v}" for k, v in assignment.items()) or "the fixed settings"
        return StudyError(f"{self.spec.source}: point ({where}, seed {seed}): {exc}")

    def resolve(self, assignment: dict[str, Any], seed: int, position: int) -> Point:
        spec = self.spec
        fixed = dict(spec.fixed)
        settings = dict(spec.settings)
        params = {t: dict(v) for t, v in spec.params.items()}
        trainer = assignment.get("trainer")
        axes: dict[str, Any] = {}
        for key, value in assignment.items():
            if key == "trainer":
                axes[key] = value
                continue
            kind = axis_kind(key)
            if kind == "field":
                fixed[key] = value
            elif kind == "profile":
                settings[key] = value
            else:
                head, _, tail = key.partition(".")
                if head != trainer:
                    axes[key] = None  # this trainer does not take the parameter
                    continue
                params.setdefault(head, {})[tail] = value
            axes[key] = value
        try:
            profile = self._profile(fixed["profile"], settings)
            task = self._task(fixed, params, trainer, seed)
            model_id = self._model_id(fixed["model"])
            self._check_shapes(fixed)
        except NeurosimError as exc:
            raise self._fail(assignment, seed, exc) from None
        base = {"task": task, "model": model_id, "version": __version__}
        key = _digest({**base, "profile": profile.content_hash})
        sim_key = _digest({**base, "profile": profile.structure_hash}) if spec.kind in REPRICEABLE_KINDS else key
        return Point(position=position, axes=axes, seed=seed, task=task, profile=profile, key=key, sim_key=sim_key)

    def _profile(self, source: str | Profile, settings: dict[str, Any]) -> Profile:
        name = source.content_hash if isinstance(source, Profile) else str(source)
        cache_key = json.dumps([name, settings], sort_keys=True, default=str)
        if cache_key not in self._profiles:
            profile = load_profile(source)
            self._profiles[cache_key] = profile.replace(settings) if settings else profile
        return self._profiles[cache_key]

    def _model_id(self, model: str) -> str:
        if model not in self._models:
            if is_spec(model):
                if self.spec.kind in ("map", "infer"):
                    raise StudyError(f"kind {self.spec.kind!r} needs a trained model (a shipped model name or a "
                                     f"model file), not the layer sizes {model!r} of a fresh one")
                architecture_from_spec(model)  # raises on a malformed spec
            self._models[model] = model_identity(model)
        return self._models[model]

    def _data(self, name: str):
        """Data set ``name``, loaded once for the whole expansion (shape checks and batch defaults read it)."""
        if name not in self._datasets:
            self._datasets[name] = load_dataset(name)
        return self._datasets[name]

    def _n_train(self, data: str) -> int:
        """Training samples of data set ``data``."""
        return len(self._data(data).x_train)

    def _check_shapes(self, fixed: dict[str, Any]) -> None:
        """The data must fit the model, and an online scenario's ranges the data (checked once per combination,
        before any work: otherwise every point would fail when it runs)."""
        if self.spec.kind == "map":
            return
        ranges = tuple(tuple(fixed[k]) if fixed.get(k) else None for k in RANGES)
        pair = (fixed["data"], fixed["model"], ranges)
        if pair in self._shapes:
            return
        data = self._data(fixed["data"])
        if is_spec(fixed["model"]):
            model_from_spec(fixed["model"], data.input_shape, data.n_classes)  # raises naming the mismatch
        else:
            model = load_model(fixed["model"])
            if data.input_shape != model.input_shape:
                raise StudyError(f"data set {data.name!r} has samples of shape {data.input_shape}, model "
                                 f"{model.name!r} expects {model.input_shape}")
        total = len(data.x_train) + len(data.x_test)
        for key, span in zip(RANGES, ranges):
            if span is not None and span[1] > total:
                raise StudyError(f"{key} {list(span)} ends beyond the {total} samples of data set {data.name!r}")
        self._shapes[pair] = None

    def _task(self, fixed: dict[str, Any], params: dict[str, dict[str, Any]], trainer: str | None,
              seed: int) -> dict[str, Any]:
        kind = self.spec.kind
        # "origin" is kept in the run records (run_info.command): which command made them
        task: dict[str, Any] = {"kind": kind, "seed": seed, "model": fixed["model"],
                                "origin": "compare" if spec_is_comparison(self.spec) else "sweep"}
        if kind == "map":
            task["placement"] = fixed["placement"]
            return task
        task["data"] = fixed["data"]
        if kind == "infer":
            task.update({k: fixed[k] for k in ("executor", "placement", "samples", "calibration")})
            return task
        given = dict(params.get(trainer, {}))
        cls = trainer_class(trainer)
        # offline training takes the trainer's default for the size of the training set; online adaptation its
        # default_batch_size (a stream step)
        default = cls.batch_size_for(self._n_train(fixed["data"])) if kind == "train" else cls.default_batch_size
        batch = given.pop("batch_size", None) or fixed["batch_size"] or default
        configured = make_trainer(trainer, **given)
        if kind != "train":  # online adaptation: the trainer's fine-tuning defaults for what the spec leaves unset
            configured = configured.for_adaptation()
        task.update({"trainer": trainer, "params": configured.get_params(), "batch_size": batch,
                     "weight_bits": fixed["weight_bits"]})
        task["write_budget"] = fixed.get("write_budget")
        if kind == "train":
            task["epochs"] = fixed["epochs"]
        else:
            task.update({k: fixed.get(k) for k in ("scenario", "analog_drift", "digital_drift", "pretrain_epochs",
                                                   "strength", "stream", "endurance_scale", "min_accuracy",
                                                   "stop_failed", *RANGES)})
        return task


__all__ = ["Point", "expand", "repriced_axes", "model_identity", "REPRICEABLE_KINDS"]
