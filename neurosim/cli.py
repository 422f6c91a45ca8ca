"""The ``neurosim`` command: a thin layer over the library.

Errors a user can cause print one line on stderr (no traceback) and exit with status 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .errors import NeurosimError
from .profiles import DEFAULT_PROFILE
from .record.table import DEFAULT_SAMPLE_RATE_HZ


def _cmd_profiles_list(args: argparse.Namespace) -> int:
    from .profiles import DEFAULT_PROFILE, list_profiles, load_profile

    rows = []
    for name in list_profiles():
        p = load_profile(name)
        mark = " (default)" if name == DEFAULT_PROFILE else ""
        rows.append((name + mark, p.device.technology, f"{p.crossbar.rows}x{p.crossbar.cols}",
                     f"{p.device.endurance_cycles:.0e}", p.description))
    widths = [max(len(r[i]) for r in rows + [("name", "tech", "crossbar", "endurance", "")]) for i in range(4)]
    header = ("name", "tech", "crossbar", "endurance", "description")
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    return 0


def _cmd_profiles_show(args: argparse.Namespace) -> int:
    from .profiles import costs_table, fields_table, load_profile

    p = load_profile(args.name)
    if args.toml:
        print(p.to_toml(), end="")
        return 0
    print(f"{p.name}: {p.description}")
    print(f"source: {p.source}")
    print(f"content hash: {p.content_hash[:16]}")
    rows = fields_table(p)
    w_key = max(len(r[0]) for r in rows)
    w_val = max(len(repr(r[1])) for r in rows)
    w_si = max(len(r[2]) for r in rows)
    for key, value, si, doc in rows:
        shown = value if isinstance(value, str) else repr(value)
        print(f"  {key:<{w_key}}  {shown:<{w_val}}  {si:<{w_si}}  {doc}")
    print("\ncosts (derived by a named model from the attributes above, pinned by the profile, or attributes):")
    costs = costs_table(p)
    w_name = max(len(r[0]) for r in costs)
    w_value = max(len(r[1]) for r in costs)
    for name, value, how in costs:
        print(f"  {name:<{w_name}}  {value:<{w_value}}  {how}")
    return 0


def _cmd_profiles_validate(args: argparse.Namespace) -> int:
    from .profiles import load_profile_file
    from .profiles.loader import profile_errors

    status = 0
    for path in args.files:
        errors = profile_errors(path)  # every error of the file, not only the first
        if errors:
            status = 1
            for exc in errors:
                print(f"invalid: {exc}", file=sys.stderr)
            if len(errors) > 1:
                print(f"{path}: {len(errors)} errors", file=sys.stderr)
            continue
        p = load_profile_file(path)
        print(f"ok: {path} (profile {p.name!r}, hash {p.content_hash[:12]})")
    return status


def _cmd_map(args: argparse.Namespace) -> int:
    from .mapping import map_model

    _check_output(args.json, "--json")
    _check_output(args.plot, "--plot", ".png")
    profile = _profile(args)
    mapping = map_model(_model(args.model), profile, args.placement)
    report = mapping.report()
    print(report.format(profile.costs))
    if args.json:
        _write_json(args.json, report.to_dict())
    if args.plot:
        from .plots import plot_floorplan

        print(f"floorplan written to {plot_floorplan(mapping, args.plot)}")
    return 0


def _cmd_infer(args: argparse.Namespace) -> int:
    import numpy as np

    from .chip import Chip
    from .chip.aging import accuracy_over_time, format_aging, parse_durations
    from .data import load_dataset

    _check_output(args.json, "--json")
    _check_output(args.plot, "--plot", ".png")
    profile = _profile(args)
    after = parse_durations(args.after) if args.after else None
    data = load_dataset(args.data, seed=args.seed)
    model = _model(args.model, data, seed=args.seed)
    if data.input_shape != model.input_shape:
        from .errors import DataError

        raise DataError(f"data set {data.name!r} has samples of shape {data.input_shape}, model {model.name!r} "
                        f"expects {model.input_shape}")
    n = len(data.x_test) if args.n is None else min(args.n, len(data.x_test))
    x, y = data.x_test[:n], data.y_test[:n]
    options = _executor_options(args)
    calibration = data.x_train[: args.calibration] if args.calibration else None
    if args.plot and args.executor != "spiking":
        from .errors import ExecutorError

        raise ExecutorError(f"--plot draws accuracy and energy against timesteps of executor 'spiking' (got "
                            f"--executor {args.executor})")
    chip = Chip(profile, model, seed=args.seed, placement=args.placement, executor=args.executor,
                calibration=calibration, executor_options=options)
    if after is not None:
        points = accuracy_over_time(chip, x, y, after, compensate=args.drift_compensation, batch=args.batch)
        print(f"model {model.name} on {profile.name}: accuracy over time on {n} test samples"
              + (" (global drift compensation)" if args.drift_compensation else ""))
        print(format_aging(points, args.drift_compensation))
        if args.json:
            _write_json(args.json, {"points": [{"seconds": p.seconds, "accuracy": p.accuracy,
                                                "drift_factors": p.drift_factors, "report": p.report.to_dict()}
                                               for p in points]})
        return 0
    def progress(done: int, total: int) -> None:
        print(f"\r  inference {done}/{total}", end="", file=sys.stderr, flush=True)

    kept: list = []
    report = chip.evaluate(x, y, batch=args.batch, progress=None if args.quiet else progress, predictions=kept)
    if not args.quiet:
        print(file=sys.stderr)
    print(report.format())
    analog_accuracy = None
    if args.executor != "analog":  # the same chip state executed as crossbar MVMs, for comparison
        analog = Chip(profile, model, seed=args.seed, placement=args.placement, calibration=calibration)
        reference = np.concatenate([analog.predict(x[i: i + args.batch]) for i in range(0, n, args.batch)])
        analog_accuracy = float(np.mean(reference == y))
        print(f"agreement with the analog executor: {100 * np.mean(kept[0] == reference):.2f} % of {n} "
              f"predictions (analog accuracy {100 * analog_accuracy:.2f} %)")
    if args.plot:
        _plot_timesteps(args, profile, model, x, y, calibration, options, analog_accuracy, data.name)
    if args.json:
        print(f"report written to {report.save(args.json)}")
    return 0


def _model(name: str, data=None, seed: int = 0):
    """A shipped or file model, or for layer sizes (``784-128-10``) a fresh seeded ternary MLP shaped by the data
    (or, without data, by the sizes: a flat input of the first size). Every chip command takes the same forms."""
    from .nn import load_model
    from .nn.spec import is_spec, model_from_spec, parse_spec

    if not is_spec(name):
        return load_model(name)
    if data is None:
        sizes = parse_spec(name)
        return model_from_spec(name, (sizes[0],), sizes[-1], seed=seed)
    return model_from_spec(name, data.input_shape, data.n_classes, seed=seed)


def _check_output(path: str | None, option: str, suffix: str | None = None) -> None:
    """Refuse an output path that could not be written, before any work: a folder, a path below a file, a name
    too long, a folder without write permission, or (with ``suffix``) the wrong extension."""
    if not path:
        return
    import os

    from .errors import OutputError

    target = Path(path)
    try:
        if target.is_dir():
            raise OutputError(f"{option} {path}: is a folder; give a file name")
        if suffix and target.suffix.lower() != suffix:
            raise OutputError(f"{option} {path}: must end with {suffix} (the file type written)")
        parent = target.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"{option} {path}: {parent} is a file, not a folder")
        if not os.access(parent, os.W_OK):
            raise OutputError(f"{option} {path}: folder {parent} is not writable")
        if len(target.name.encode()) > 255:
            raise OutputError(f"{option} {path}: a file name is at most 255 bytes")
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot be written ({exc.strerror or exc})") from None


def _executor_options(args: argparse.Namespace) -> dict:
    """The executor options given on the command line (each belongs to one executor; a misplaced one is named)."""
    given = {"timesteps": args.timesteps, "encoding": args.encoding, "engine": args.engine,
             "activation_levels": args.activation_levels}
    return {k: v for k, v in given.items() if v is not None}


def _plot_timesteps(args, profile, model, x, y, calibration, options, reference, data_name) -> None:
    """Accuracy and energy against timesteps: T/8, T/4, T/2 and T (at least 1)."""
    from .chip.timesteps import accuracy_over_timesteps
    from .plots import plot_timesteps

    top = options.get("timesteps", 64)
    steps = sorted({max(1, top // d) for d in (8, 4, 2, 1)})
    points = accuracy_over_timesteps(profile, model, x, y, steps, seed=args.seed, calibration=calibration,
                                     options={k: v for k, v in options.items() if k != "timesteps"},
                                     batch=args.batch)
    rows = [{"timesteps": p.timesteps, "accuracy": p.accuracy,
             "energy_per_inference_j": p.report.total_energy_per_inference_j, "latency_s": p.report.latency_s}
            for p in points]
    for r in rows:
        print(f"  {r['timesteps']:>6} timesteps: accuracy {100 * r['accuracy']:6.2f} %, "
              f"{r['energy_per_inference_j']:.4e} J, {r['latency_s']:.4e} s per inference")
    context = (f"spiking execution of {model.name} on {profile.name}; data {data_name}, {len(x)} test samples, "
               f"seed {args.seed}, encoding {options.get('encoding', 'deterministic')}")
    print(f"plot written to {plot_timesteps(rows, args.plot, context=context, reference=reference)}")


def _parse_params(trainer: str, items: list[str]) -> dict:
    """``KEY=VALUE`` texts -> hyper-parameters of ``trainer``, each parsed to its declared type."""
    from .training import parse_param_text, trainer_class

    declared = trainer_class(trainer).hyper_parameters
    return dict(parse_param_text(trainer, declared, item) for item in items)


def _cmd_train(args: argparse.Namespace) -> int:
    from .chip import Chip
    from .data import load_dataset
    from .nn import load_model
    from .nn.spec import is_spec, model_from_spec
    from .record import RecordError, format_table
    from .training import make_trainer, train
    from .training.progress import ProgressBar

    if args.out and Path(args.out).is_dir():  # fail before training, not after
        raise RecordError(f"{args.out}: is a folder; --out takes a file name for the run record")
    _check_output(args.out, "--out")
    profile = _profile(args)
    data = load_dataset(args.data, seed=args.seed)
    trainer = make_trainer(args.trainer, **_parse_params(args.trainer, args.param))
    if is_spec(args.model):
        model = model_from_spec(args.model, data.input_shape, data.n_classes, seed=args.seed,
                                weight_bits=args.weight_bits)
    else:
        model = load_model(args.model)
    chip = Chip(profile, model, seed=args.seed)
    chip.set_write_budget(args.write_budget)
    batch = args.batch_size or trainer.batch_size_for(len(data.x_train))
    if not args.quiet:
        print(f"training {model.name} on {chip.profile.name} with {trainer!r}, data {data.describe()}, "
              f"batch {batch}, {args.epochs} epochs, seed {args.seed}", file=sys.stderr)
    record = train(chip, trainer, data, epochs=args.epochs, batch_size=batch, seed=args.seed,
                   progress=None if args.quiet else ProgressBar(trainer.name),
                   run_info={"model_spec": args.model, "command": "train"})
    if args.out:
        print(f"run record written to {record.save(args.out)}")
    print(format_table([record], args.sample_rate))
    if record.final.cells_failed:
        print(f"note: {record.final.cells_failed} cells wore out during training and are stuck "
              f"(training continued on them)")
    return 0


def parse_scoped_params(items: list[str]) -> dict[str, dict]:
    """``["TRAINER.KEY=VALUE", ...]`` -> ``{TRAINER: {KEY: value}}`` (values parsed to their declared types)."""
    from .training import TrainingError

    params: dict[str, dict] = {}
    for item in items:
        head, _, rest = item.partition(".")
        if not rest or "=" not in rest:
            raise TrainingError(f"--param takes TRAINER.KEY=VALUE (got {item!r})")
        params.setdefault(head, {}).update(_parse_params(head, [rest]))
    return params


def _cmd_compare(args: argparse.Namespace) -> int:
    from .data.streams import Scenario
    from .experiments.compare import CompareSpec, compare, format_comparison
    from .training import TRAINERS, TrainingError

    trainers = args.trainers or sorted(TRAINERS)
    for item in args.param:
        name = item.partition(".")[0]
        if name in TRAINERS and name not in trainers:
            raise TrainingError(f"--param names trainer {name!r}, which is not compared ({', '.join(trainers)})")
    batch_sizes = {}
    plain = []
    for item in args.param:  # TRAINER.batch_size=N is a per-trainer batch size, not a hyper-parameter
        head, _, rest = item.partition(".")
        key, sep, value = rest.partition("=")
        if key.strip() == "batch_size" and sep:
            batch_sizes[head] = _positive_int_text(f"--param {head}.batch_size", value)
        else:
            plain.append(item)
    params = parse_scoped_params(plain)
    profile = _profile(args)
    scenario = None
    if args.scenario != "none" or args.analog_drift or args.digital_drift:
        scenario = Scenario(shift=args.scenario, analog_drift=args.analog_drift, digital_drift=args.digital_drift,
                            seed=args.seed)
    spec = CompareSpec(trainers=trainers, profile=profile, data=args.data, model=args.model, epochs=args.epochs,
                       seed=args.seed, weight_bits=args.weight_bits, scenario=scenario, params=params,
                       batch_sizes=batch_sizes, seeds=args.seeds, batch_size=args.batch_size,
                       write_budget=args.write_budget, stream=args.stream, endurance_scale=args.endurance_scale,
                       min_accuracy=args.min_accuracy, stop_failed=args.stop_failed)
    if args.endurance_scale != 1.0:
        from .training.endurance import scaled_endurance

        scaled_endurance(profile, args.endurance_scale)  # a scaled endurance below one write: said before any work
    from .experiments.compare import compare_study
    from .experiments.points import expand

    expand(compare_study(spec))  # every setting checked (data, model, profile) before anything is said or run
    setting = (f"online adaptation, shift {scenario.shift}, analog drift {scenario.analog_drift}, digital drift "
               f"{scenario.digital_drift}" if scenario else f"from scratch, {args.epochs} epochs")
    if args.stream:
        setting += (f", continual stream of {args.stream:,} samples until the end of useful life"
                    + (f", endurance x {args.endurance_scale:g} (times converted back)"
                       if args.endurance_scale != 1.0 else ""))
    if args.write_budget:
        setting += f", write budget {args.write_budget} per cell"
    seeds = f"seed {args.seed}" if args.seeds == 1 else f"seeds {args.seed}-{args.seed + args.seeds - 1}"
    if not args.quiet:
        print(f"comparing {', '.join(trainers)} on {profile.name}, data {args.data}, model {args.model} "
              f"({args.weight_bits}-bit), {setting}, {seeds}", file=sys.stderr)
    result = compare(spec, args.out, progress=not args.quiet, workers=args.workers, scheduler=args.scheduler,
                     retry_failed=args.retry_failed, command=" ".join(["neurosim", "compare", *sys.argv[2:]]),
                     sample_rate_hz=args.sample_rate)
    outcome = result.outcome
    if result.records:
        print(format_comparison(result.records, args.sample_rate))
    failed = [p for p in outcome.points if p.status == "failed"]
    for p in failed:
        print(f"failed: {p.axes.get('trainer')} seed {p.seed}: {(p.error or '').splitlines()[0]}", file=sys.stderr)
    print(f"records, summary.csv and plots written to {args.out}/")
    if outcome.interrupted:
        print(f"interrupted: {len(result.records)} finished run(s) kept in {args.out}/; rerun the same command to "
              "resume", file=sys.stderr)
        return 130
    return 1 if failed else 0


def _positive_int_text(what: str, text: str) -> int:
    from .training import TrainingError

    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise TrainingError(f"{what} must be an integer >= 1 (got {text!r})")
    return value


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .errors import StudyError

    if args.target == "report":
        if args.folder is None:
            raise StudyError("`neurosim sweep report DIR` needs the study folder")
        return _report(args.folder, plots=not args.no_plots)
    if args.folder is not None:
        raise StudyError(f"unexpected argument {args.folder!r}: run a study with `neurosim sweep SPEC.toml --out DIR`"
                         ", or report one with `neurosim sweep report DIR`")
    from .experiments.points import expand
    from .experiments.spec import load_study_spec
    from .experiments.sweep import run_study

    spec = load_study_spec(args.target)
    if args.out is None:
        raise StudyError(f"--out DIR is required: the folder that holds study {spec.name!r} (its store, CSVs and "
                         "plots); a rerun with the same folder resumes")
    from .experiments.engines import make_engine

    points = expand(spec)
    if args.dry_run:
        return _dry_run(spec, points, args.out)
    make_engine(args.workers, args.scheduler)  # check the options before saying anything
    if not args.quiet:
        print(f"study {spec.name!r} ({spec.kind}): {len(points)} points into {args.out}/", file=sys.stderr)
    outcome = run_study(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                        retry_failed=args.retry_failed, progress=not args.quiet, points=points,
                        reprice=not args.no_reprice,
                        command=" ".join(["neurosim", "sweep", *sys.argv[2:]]))
    return _finish(outcome, args.out, plots=not args.no_plots)


def _finish(outcome, folder: str, plots: bool) -> int:
    """Report a study run (whole or interrupted) and choose the exit status."""
    print(f"this run: {outcome.computed} simulated, {outcome.repriced} re-priced, {outcome.failed} failed, "
          f"{outcome.skipped} done earlier ({outcome.wall_s:.1f} s)", file=sys.stderr)
    status = _report(folder, plots=plots)
    if outcome.interrupted:
        print(f"interrupted: every finished point is kept in {folder}/; rerun the same command to resume",
              file=sys.stderr)
        return 130
    return status


def _report(folder: str, plots: bool = True) -> int:
    from .experiments.report import context_line, format_summary, write_report
    from .experiments.store import StudyStore

    if _is_comparison(folder):
        return _compare_report(folder)

    written = write_report(folder, plots=plots)
    with StudyStore.open(folder) as store:
        points = store.points()
        kind = (store.meta("spec") or {}).get("kind", "train")
        print(context_line(store, points))
    print(format_summary(points, kind))
    n_plots = sum(1 for k in written if k not in ("points", "tidy", "summary", "summary_txt"))
    print(f"points.csv, results_tidy.csv, summary.csv, summary.txt and {n_plots} plots written to {folder}/")
    return 1 if any(p.status == "failed" for p in points) else 0


def _dry_run(spec, points, out: str) -> int:
    from .experiments.points import repriced_axes
    from .experiments.store import STORE_NAME, StudyStore

    status: dict[str, str] = {}
    if (Path(out) / STORE_NAME).is_file():
        with StudyStore.open(out) as store:
            status = {p.key: p.status for p in store.points(current_only=False)}
    first: dict[str, int] = {}
    simulate = 0
    print(f"{'#':>4}  {'key':<12}  {'status':<8}  {'how':<16}  point")
    for i, p in enumerate(points):
        how = "simulate"
        if p.sim_key in first and p.sim_key != p.key:
            how = f"re-price from #{first[p.sim_key]}"
        else:
            first.setdefault(p.sim_key, i)
            simulate += 1
        print(f"{i:>4}  {p.key[:12]:<12}  {status.get(p.key, 'new'):<8}  {how:<16}  {p.label()}")
    repriced = repriced_axes(spec)
    done = sum(status.get(p.key) == "done" for p in points)
    print(f"{len(points)} points: {simulate} to simulate, {len(points) - simulate} re-priced"
          + (f" (price-only axes: {', '.join(repriced)})" if repriced else "") + f"; {done} done in {out}/ already")
    return 0


def _is_comparison(folder: str) -> bool:
    from .experiments.compare import REPORT
    from .experiments.store import StudyStore

    with StudyStore.open(folder) as store:
        return store.meta("report") == REPORT


def _compare_report(folder: str) -> int:
    from .experiments.compare import format_comparison, write_compare_outputs

    records = write_compare_outputs(folder)
    print(format_comparison(records) if records else "no finished runs yet")
    print(f"records, summary.csv and plots written to {folder}/ (from the store; nothing simulated)")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .experiments.report import write_report

    if _is_comparison(args.folder):
        return _compare_report(args.folder)
    written = write_report(args.folder)
    plots = [p for k, p in written.items() if k not in ("points", "tidy", "summary", "summary_txt")]
    for path in plots:
        print(path)
    print(f"{len(plots)} plots redrawn from {args.folder}/ (nothing simulated)")
    return 0


def _cmd_executors(args: argparse.Namespace) -> int:
    from .chip import DEFAULT_EXECUTOR, EXECUTORS

    width = max(len(n) for n in EXECUTORS) + len(" (default)")
    for name in sorted(EXECUTORS):
        shown = name + (" (default)" if name == DEFAULT_EXECUTOR else "")
        print(f"{shown:<{width}}  {EXECUTORS[name].summary}")
    return 0


def _cmd_trainers_list(args: argparse.Namespace) -> int:
    from .training import TRAINERS

    width = max(len(n) for n in TRAINERS)
    for name in sorted(TRAINERS):
        cls = TRAINERS[name]
        print(f"{name:<{width}}  batch {cls.default_batch_size:>4}  {cls.summary}")
    print("(`neurosim trainers show NAME` lists a trainer's hyper-parameters; set them with --param KEY=VALUE)")
    return 0


def _params_lines(name: str, indent: str = "  ") -> list[str]:
    from .training import trainer_class
    from .training.params import params_table

    rows = params_table(trainer_class(name).hyper_parameters)
    if not rows:
        return [indent + "(no hyper-parameters)"]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    return [f"{indent}{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  default {r[2]:<{w[2]}}  {r[3]:<{w[3]}}  {r[4]}" for r in rows]


def _cmd_trainers_show(args: argparse.Namespace) -> int:
    from .training import trainer_class

    cls = trainer_class(args.name)
    print(f"{args.name}: {cls.summary} (default batch {cls.default_batch_size})")
    print("\n".join(_params_lines(args.name)))
    if cls.adaptation_defaults:
        values = ", ".join(f"{k} {v!r}" for k, v in cls.adaptation_defaults.items())
        print(f"  online adaptation of a pre-trained model (--scenario) uses {values} unless set")
    return 0


def _trainers_epilog() -> str:
    from .training import TRAINERS

    lines = ["hyper-parameters of each trainer (--param KEY=VALUE):"]
    for name in sorted(TRAINERS):
        lines.append(f"{name}:")
        lines += _params_lines(name, indent="    ")
    return "\n".join(lines)


def _profile(args: argparse.Namespace):
    """The profile a command runs on: ``--profile`` with every ``--set KEY=VALUE`` applied (checked first)."""
    from .profiles import load_profile

    return load_profile(args.profile).with_settings(args.set)


def _write_json(path: str, data: dict) -> None:
    import json

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    print(f"report written to {path}")


def _int_at_least(lo: int):
    """An argparse type: an integer >= ``lo`` (a usage error naming the value otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo} (got {text!r})")
        return value

    return parse


_positive_int = _int_at_least(1)


def _number_in(ok: Callable[[float], bool], constraint: str) -> Callable[[str], float]:
    """An argparse type: a number ``ok`` accepts (a usage error naming the constraint and the value otherwise)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")  # fails every constraint below
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {constraint} (got {text!r})")
        return value

    return parse


_fraction = _number_in(lambda v: 0 < v <= 1, "a number in (0, 1]")
_unit_interval = _number_in(lambda v: 0 <= v <= 1, "a number in [0, 1]")
_positive_float = _number_in(lambda v: 0 < v < float("inf"), "a finite number > 0")
_non_negative_int = _int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurosim`` command (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="neurosim", description="Simulate edge neuromorphic chips on NVM: "
                                     "writes, energy, lifetime and accuracy of on-chip training.")
    parser.add_argument("--version", action="version", version=f"neurosim-edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    profiles = sub.add_parser("profiles", help="list, show and validate hardware profiles")
    psub = profiles.add_subparsers(dest="action", metavar="ACTION")
    psub.required = True
    p_list = psub.add_parser("list", help="list the shipped profiles")
    p_list.set_defaults(func=_cmd_profiles_list)
    p_show = psub.add_parser("show", help="show every key of a profile with units")
    p_show.add_argument("name", help="shipped profile name or path to a .toml file")
    p_show.add_argument("--toml", action="store_true", help="print the profile as TOML (a starting point to edit)")
    p_show.set_defaults(func=_cmd_profiles_show)
    p_val = psub.add_parser("validate", help="check profile files; exit 0 if all are valid, 1 otherwise")
    p_val.add_argument("files", nargs="+", metavar="FILE")
    p_val.set_defaults(func=_cmd_profiles_validate)

    def set_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="change one profile key for this run, repeatable (e.g. --set periphery.adc_bits=4 "
                            "--set crossbar.rows=64); checked like a profile file")

    def sample_rate_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--sample-rate", type=_positive_float, default=DEFAULT_SAMPLE_RATE_HZ, metavar="HZ",
                       help="training samples a second the chip learns from in deployment: states lifetimes in "
                            f"time and the average power (default {DEFAULT_SAMPLE_RATE_HZ:g}: an always-on sensor "
                            "learning from a sample a second)")

    def study_options(p: argparse.ArgumentParser, no_plots: bool = True) -> None:
        p.add_argument("--workers", type=_positive_int, default=None,
                       help="worker processes (default: this machine's cores); with --scheduler local, Dask workers")
        p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run on a Dask cluster: 'local' starts a LocalCluster, or give a scheduler address "
                            "(tcp://host:8786)")
        p.add_argument("--retry-failed", action="store_true", help="run failed points again")
        if no_plots:
            p.add_argument("--no-plots", action="store_true", help="CSVs and tables only")
        p.add_argument("--quiet", action="store_true", help="no progress line")

    def chip_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, help="shipped model name (see models/), path to a model .toml, or "
                       "layer sizes of a fresh seeded MLP (784-128-10)")
        p.add_argument("--profile", default=DEFAULT_PROFILE,
                       help=f"shipped profile name or path (default {DEFAULT_PROFILE})")
        p.add_argument("--placement", choices=("optimized", "naive"), default="optimized")
        p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
        set_option(p)

    p_map = sub.add_parser("map", help="map a model onto a chip: tiles, cores, utilisation, NoC traffic")
    chip_options(p_map)
    p_map.add_argument("--plot", metavar="PNG", help="draw the floorplan (layers on cores, traffic on links)")
    p_map.set_defaults(func=_cmd_map)

    from .chip import DEFAULT_EXECUTOR, EXECUTORS

    p_inf = sub.add_parser("infer", help="run inference on the simulated chip: accuracy, energy, latency, power")
    chip_options(p_inf)
    p_inf.add_argument("--data", default="digits", help="iris, digits, wine, breast_cancer, mnist or mnist:PATH")
    p_inf.add_argument("--n", type=_positive_int, default=None, help="test samples (default: the whole test split)")
    p_inf.add_argument("--batch", type=_positive_int, default=256, help="samples per forward call")
    p_inf.add_argument("--calibration", type=_non_negative_int, default=256,
                       help="training samples used to set narrow converters' ranges (0: none)")
    p_inf.add_argument("--seed", type=int, default=0)
    p_inf.add_argument("--executor", choices=sorted(EXECUTORS), default=DEFAULT_EXECUTOR,
                       help=f"how the mapped network runs (default {DEFAULT_EXECUTOR}; see `neurosim executors`)")
    p_inf.add_argument("--after", metavar="TIMES", default=None,
                       help="accuracy over time: evaluate again after the stored conductances drift for each "
                            "comma-separated duration since programming (e.g. 1h,1d,1y; units s, min, h, d, w, y)")
    p_inf.add_argument("--drift-compensation", action="store_true",
                       help="with --after: measure each layer's drift and correct it (global drift compensation)")
    p_inf.add_argument("--timesteps", type=_positive_int, default=None,
                       help="spiking: ticks each input is presented for (default 64)")
    p_inf.add_argument("--encoding", choices=("deterministic", "poisson"), default=None,
                       help="spiking: input spikes from a constant current (default) or Poisson draws")
    p_inf.add_argument("--engine", choices=("brian2", "twin"), default=None,
                       help="spiking: brian2, or its vectorised numpy twin (default; the same spikes)")
    p_inf.add_argument("--activation-levels", type=_int_at_least(2), default=None,
                       help="lut: levels of every activation (default 32)")
    p_inf.add_argument("--plot", metavar="PNG", default=None,
                       help="spiking: plot accuracy and energy against timesteps (T/8, T/4, T/2, T)")
    p_inf.add_argument("--quiet", action="store_true", help="no progress line")
    p_inf.set_defaults(func=_cmd_infer)

    from .training import TRAINERS

    p_ex = sub.add_parser("executors", help="list the registered executors (ways a mapped network runs)")
    p_ex.set_defaults(func=_cmd_executors)

    p_trs = sub.add_parser("trainers", help="list the registered trainers, or show one's hyper-parameters")
    trsub = p_trs.add_subparsers(dest="action", metavar="ACTION")
    p_trs.set_defaults(func=_cmd_trainers_list)
    trsub.add_parser("list", help="list the trainers").set_defaults(func=_cmd_trainers_list)
    p_trs_show = trsub.add_parser("show", help="every hyper-parameter of a trainer: type, default, constraint, meaning")
    p_trs_show.add_argument("name", choices=sorted(TRAINERS))
    p_trs_show.set_defaults(func=_cmd_trainers_show)

    p_tr = sub.add_parser("train", help="train on the simulated chip: accuracy, writes, energy, aux memory, lifetime",
                          epilog=_trainers_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p_tr.add_argument("--trainer", required=True, choices=sorted(TRAINERS))
    p_tr.add_argument("--model", required=True,
                      help="layer sizes for a fresh seeded MLP (e.g. 784-128-10), a shipped model name, or a path")
    p_tr.add_argument("--profile", default=DEFAULT_PROFILE,
                      help=f"shipped profile name or path (default {DEFAULT_PROFILE})")
    p_tr.add_argument("--data", default="digits", help="iris, digits, wine, breast_cancer, mnist or mnist:PATH")
    p_tr.add_argument("--epochs", type=_positive_int, default=5)
    p_tr.add_argument("--batch-size", type=_positive_int, default=None,
                      help="samples per step (default: the trainer's own, e.g. 64 for sgd)")
    p_tr.add_argument("--seed", type=int, default=0)
    p_tr.add_argument("--weight-bits", type=int, default=2, help="bits of a fresh model's weights (2 = ternary)")
    p_tr.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                      help="trainer hyper-parameter, repeatable (e.g. --param lr=0.01)")
    p_tr.add_argument("--write-budget", type=_positive_int, default=None, metavar="N",
                      help="writes each cell may take during training; requests beyond are refused and counted")
    p_tr.add_argument("--out", metavar="JSON", help="write the run record here")
    sample_rate_option(p_tr)
    p_tr.add_argument("--quiet", action="store_true", help="no progress bar")
    set_option(p_tr)
    p_tr.set_defaults(func=_cmd_train)

    from .data.streams import SHIFTS

    p_cmp = sub.add_parser("compare", help="compare trainers on one chip: accuracy, writes, energy, lifetime "
                           f"(with no options: every trainer on {DEFAULT_PROFILE} and the bundled digits data)")
    p_cmp.add_argument("--trainers", nargs="+", choices=sorted(TRAINERS), default=None,
                       help="trainers to compare (default: all registered)")
    p_cmp.add_argument("--profile", default=DEFAULT_PROFILE)
    p_cmp.add_argument("--data", default="digits")
    p_cmp.add_argument("--model", default="64-64-10", help="layer sizes (fresh seeded MLP), shipped model or path")
    p_cmp.add_argument("--epochs", type=_positive_int, default=10, help="epochs from scratch (no scenario)")
    p_cmp.add_argument("--weight-bits", type=int, default=2)
    p_cmp.add_argument("--scenario", choices=SHIFTS, default="none",
                       help="online adaptation: host pre-training, then one pass over a shifted stream")
    p_cmp.add_argument("--analog-drift", type=float, default=0.0, help="conductance random walk per sample (levels)")
    p_cmp.add_argument("--digital-drift", type=float, default=0.0, help="level-flip probability per cell and sample")
    p_cmp.add_argument("--seed", type=int, default=0)
    p_cmp.add_argument("--param", action="append", default=[], metavar="TRAINER.KEY=VALUE",
                       help="hyper-parameter of one trainer, repeatable (e.g. --param sgd.lr=0.01)")
    p_cmp.add_argument("--seeds", type=_positive_int, default=1,
                       help="run every trainer with this many seeds (--seed, --seed + 1, ...); tables then show the "
                            "mean and 95 %% confidence interval, plots error bars")
    p_cmp.add_argument("--batch-size", type=_positive_int, default=None,
                       help="samples per step for every trainer (default: each trainer's own; per trainer: "
                            "--param TRAINER.batch_size=N)")
    p_cmp.add_argument("--stream", type=_positive_int, default=None, metavar="N",
                       help="with --scenario: run to failure, a continual stream of N samples (the shifted stream "
                            "repeated) until the end of useful life; the table adds times to the first failed cell, "
                            "to 1 %% failed cells and to the end of useful life")
    p_cmp.add_argument("--endurance-scale", type=_fraction, default=1.0, metavar="F",
                       help="accelerated test: scale the profile's endurance by F (0 < F <= 1) and convert times "
                            "back (divided by F)")
    p_cmp.add_argument("--min-accuracy", type=_unit_interval, default=None, metavar="A",
                       help="with --stream: useful while held-out accuracy >= A (fraction; default: 5 points below "
                            "the best so far)")
    p_cmp.add_argument("--stop-failed", type=_fraction, default=None, metavar="F",
                       help="with --stream: also stop once this fraction of the cells has worn out")
    p_cmp.add_argument("--write-budget", type=_positive_int, default=None, metavar="N",
                       help="writes each cell may take during the run; requests beyond are refused at the door "
                            "and counted")
    p_cmp.add_argument("--out", default="neurosim_compare",
                       help="folder for the store, records, CSV and plots (a rerun of the same comparison resumes)")
    study_options(p_cmp, no_plots=False)
    sample_rate_option(p_cmp)
    set_option(p_cmp)
    p_cmp.set_defaults(func=_cmd_compare)

    p_sw = sub.add_parser("sweep", help="run a study: a grid of points from a spec TOML, stored, resumable, "
                          "parallel (or `sweep report DIR`)",
                          description="Run the study SPEC.toml into --out DIR (a rerun resumes), or write the "
                          "report of a study folder with `neurosim sweep report DIR`.")
    p_sw.add_argument("target", metavar="SPEC.toml|report", help="the study spec, or 'report'")
    p_sw.add_argument("folder", nargs="?", default=None, metavar="DIR", help="with 'report': the study folder")
    p_sw.add_argument("--out", metavar="DIR", help="the study folder (store, CSVs, plots); a rerun resumes")
    study_options(p_sw)
    p_sw.add_argument("--dry-run", action="store_true", help="list the points (and which are re-priced), run none")
    p_sw.add_argument("--no-reprice", action="store_true",
                      help="simulate every point, also those that differ from another only in prices")
    p_sw.set_defaults(func=_cmd_sweep)

    p_plot = sub.add_parser("plot", help="redraw a study's (or comparison's) plots and CSVs from its store only")
    p_plot.add_argument("folder", metavar="DIR")
    p_plot.set_defaults(func=_cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurosim`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except NeurosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
