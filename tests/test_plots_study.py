"""Study figures (plot_study) and seeds in the comparison figures (plot_comparison): the files written, what each
figure says, the Pareto front and the line-capping rule. Figures are inspected as objects, not as pixels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim
from neurosim.data import load_dataset
from neurosim.errors import NeurosimError
from neurosim.nn.spec import model_from_spec
from neurosim.plots import compare as compare_module
from neurosim.plots import plot_study
from neurosim.plots.compare import CONTEXT_GID, plot_comparison
from neurosim.plots.study import MAX_LINES, LineGroups, _line_groups, pareto_front
from neurosim.training import make_trainer, train

CONTEXT = "profile rram_hfo2, data iris, model 4-8-3, seeds 0-2, batch sizes 16"
METRICS = {"accuracy": ("test accuracy (fraction)", "max"), "energy_j": ("energy per inference (J)", "min")}


def _points(seeds=3, **axes):
    """Synthetic point results over the product of ``axes`` (name -> values): accuracy and energy per point."""
    rng = np.random.default_rng(0)
    names = list(axes)
    points = []
    for combo in itertools.product(*axes.values()):
        for seed in range(seeds):
            points.append({"axes": dict(zip(names, combo)), "seed": seed,
                           "metrics": {"accuracy": float(rng.uniform(0.5, 0.9)),
                                       "energy_j": float(rng.uniform(1e-7, 1e-5)), "broken": None}})
    return points


@pytest.fixture
def figures(monkeypatch):
    """Every figure saved while the test runs, in saving order (each passes through the one context helper)."""
    seen = []
    original = compare_module._add_context

    def spy(fig, context):
        text = original(fig, context)
        seen.append(fig)
        return text

    monkeypatch.setattr(compare_module, "_add_context", spy)
    return seen


def _context_texts(fig) -> list[str]:
    return [" ".join(t.get_text().split()) for t in fig.texts if t.get_gid() == CONTEXT_GID]


def _assert_png_files(paths, out_dir):
    for path in paths.values():
        assert path.parent == out_dir and path.read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in out_dir.iterdir() if p.suffix != ".png"]  # no temporary file left behind


# ------------------------------------------------------------------------------------------------ plot_study
def test_study_writes_one_file_per_metric_and_axis_heatmaps_and_pareto(tmp_path, figures):
    from PIL import Image

    points = _points(trainer=["sgd", "coordinate"], batch_size=[1, 4, 16, 64])
    out = tmp_path / "figs"
    paths = plot_study(points, axes=["trainer", "batch_size"], series="trainer", metrics=METRICS,
                       pareto=[("energy_j", "accuracy")], context=CONTEXT, out_dir=out)
    assert set(paths) == {"accuracy_vs_trainer", "accuracy_vs_batch_size", "energy_j_vs_trainer",
                          "energy_j_vs_batch_size", "heatmap_accuracy_trainer_batch_size",
                          "heatmap_energy_j_trainer_batch_size", "pareto_accuracy_vs_energy_j"}
    assert all(p.name == f"{name}.png" for name, p in paths.items())
    _assert_png_files(paths, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())
    # the context is drawn on every figure and stored in every file
    assert len(figures) == len(paths)
    for fig, path in zip(figures, paths.values()):
        assert _context_texts(fig) == [CONTEXT]
        assert Image.open(path).text["Description"] == CONTEXT
    by_name = dict(zip(paths, figures))
    ax = by_name["accuracy_vs_batch_size"].axes[0]
    assert ax.get_title().startswith("test accuracy (fraction) against batch_size")
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy (fraction)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["trainer=sgd", "trainer=coordinate"]
    assert by_name["heatmap_accuracy_trainer_batch_size"].axes[0].get_images()[0].get_cmap().name == "viridis"
    ax = by_name["accuracy_vs_trainer"].axes[0]  # series on x: lines split by the other axis, categorical ticks
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"batch_size={b}" for b in (1, 4, 16, 64)]
    assert ax.get_xscale() == "linear"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "coordinate"]


def test_line_means_are_seed_means(tmp_path, figures):
    points = _points(seeds=3, batch_size=[2, 8])
    plot_study(points, axes=["batch_size"], series=None, metrics={"accuracy": METRICS["accuracy"]}, pareto=[],
               context=CONTEXT, out_dir=tmp_path)
    (line,) = figures[0].axes[0].get_lines()
    expected = [np.mean([p["metrics"]["accuracy"] for p in points if p["axes"]["batch_size"] == b]) for b in (2, 8)]
    np.testing.assert_allclose(line.get_xdata(), [2, 8])
    np.testing.assert_allclose(line.get_ydata(), expected)
    assert figures[0].axes[0].get_xscale() == "linear"  # a span of 4x stays linear


def test_an_interval_without_a_neighbouring_interval_is_an_error_bar(tmp_path, figures):
    points = _points(seeds=3, batch_size=[1, 2, 4])
    for p in points:
        if p["axes"]["batch_size"] == 2 and p["seed"] > 0:
            p["metrics"]["accuracy"] = None  # one seed left at 2: no interval there to join 1 or 4 to
    plot_study(points, axes=["batch_size"], series=None, metrics={"accuracy": METRICS["accuracy"]}, pareto=[],
               context=CONTEXT, out_dir=tmp_path)
    ax = figures[0].axes[0]
    (bars,) = ax.containers
    whiskers = bars.lines[2][0].get_segments()
    assert sorted(float(w[0, 0]) for w in whiskers) == [1.0, 4.0]  # both neighbours of 2 stand alone
    assert len(ax.get_lines()[0].get_xdata()) == 3


def test_heatmaps_need_two_axes_with_two_values_and_cover_three_metrics_at_most(tmp_path):
    paths = plot_study(_points(batch_size=[1, 2, 4]), axes=["batch_size"], series=None, metrics=METRICS, pareto=[],
                       context=CONTEXT, out_dir=tmp_path / "one")
    assert set(paths) == {"accuracy_vs_batch_size", "energy_j_vs_batch_size"}

    points = _points(seeds=1, trainer=["sgd", "coordinate"], lr=[0.1], batch_size=[1, 2])
    for p in points:
        p["metrics"].update(writes=1.0, power_w=2.0)
    metrics = {**METRICS, "writes": ("writes (cells)", "min"), "power_w": ("power (W)", "min")}
    paths = plot_study(points, axes=["trainer", "lr", "batch_size"], series="trainer", metrics=metrics,
                       pareto=[], context=CONTEXT, out_dir=tmp_path / "three")
    # lr has one value: no pair with it; power_w is the fourth metric: no heat map of it
    assert {n for n in paths if n.startswith("heatmap")} == {
        f"heatmap_{m}_trainer_batch_size" for m in ("accuracy", "energy_j", "writes")}
    assert len(paths) == 4 * 3 + 3


def test_heatmap_cells_colours_and_title(tmp_path, figures):
    points = _points(seeds=2, trainer=["sgd", "coordinate"], batch_size=[1, 2], profile=["rram", "pcm"])
    paths = plot_study(points, axes=["trainer", "batch_size", "profile"], series="trainer",
                       metrics={"energy_j": METRICS["energy_j"]}, pareto=[], context=CONTEXT, out_dir=tmp_path)
    assert [n for n in paths if n.startswith("heatmap")] == [f"heatmap_energy_j_{pair}" for pair in (
        "trainer_batch_size", "trainer_profile", "batch_size_profile")]
    fig = dict(zip(paths, figures))["heatmap_energy_j_trainer_batch_size"]
    ax = fig.axes[0]
    assert "mean over seeds and profile" in ax.get_title() and "brighter is better" in ax.get_title()
    assert ax.get_images()[0].get_cmap().name == "viridis_r"  # "min" metric: reversed map
    assert fig.axes[1].get_ylabel() == "energy per inference (J) (brighter is better)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "coordinate"]
    # one annotated cell per (trainer, batch size): the mean over seeds and profiles, to 3 significant digits
    cells = {}
    for p in points:
        cells.setdefault((p["axes"]["trainer"], p["axes"]["batch_size"]), []).append(p["metrics"]["energy_j"])
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{np.mean(v):.3g}" for v in cells.values())


def test_without_axes_only_pareto_plots_are_drawn(tmp_path):
    paths = plot_study(_points(), axes=[], series=None, metrics=METRICS, pareto=[("energy_j", "accuracy")],
                       context=CONTEXT, out_dir=tmp_path)
    assert list(paths) == ["pareto_accuracy_vs_energy_j"]


def test_a_metric_with_no_finite_value_is_skipped(tmp_path):
    points = _points(trainer=["sgd", "coordinate"], batch_size=[1, 2])
    points[0]["metrics"]["accuracy"] = float("nan")  # a NaN among finite values is left out, not fatal
    metrics = {**METRICS, "broken": ("broken (1)", "max")}
    paths = plot_study(points, axes=["trainer", "batch_size"], series="trainer", metrics=metrics,
                       pareto=[("broken", "accuracy"), ("energy_j", "broken"), ("energy_j", "accuracy")],
                       context=CONTEXT, out_dir=tmp_path)
    assert paths and not [n for n in paths if "broken" in n]
    assert "pareto_accuracy_vs_energy_j" in paths and "accuracy_vs_batch_size" in paths


def test_pareto_figure_outlines_the_front_of_seed_means(tmp_path, figures):
    points = []
    for name, (energy, acc) in {"a": (1.0, 0.5), "b": (2.0, 0.7), "c": (3.0, 0.6), "d": (40.0, 0.9)}.items():
        for seed, noise in enumerate((-0.01, 0.01)):
            points.append({"axes": {"design": name}, "seed": seed,
                           "metrics": {"energy_j": energy * (1 + noise), "accuracy": acc + noise}})
    paths = plot_study(points, axes=["design"], series="design", metrics=METRICS,
                       pareto=[("energy_j", "accuracy")], context=CONTEXT, out_dir=tmp_path)
    ax = dict(zip(paths, figures))["pareto_accuracy_vs_energy_j"].axes[0]
    (step,) = [line for line in ax.get_lines() if line.get_label() == "Pareto front"]
    np.testing.assert_allclose(step.get_xdata(), [1.0, 2.0, 40.0])  # c is dominated by b
    np.testing.assert_allclose(step.get_ydata(), [0.5, 0.7, 0.9])
    assert step.get_drawstyle() == "steps-post"
    assert sorted(t.get_text() for t in ax.texts) == ["a", "b", "d"]
    assert ax.get_xscale() == "log"  # 1 to 40 spans more than 16x


def test_one_line_per_combination_of_the_other_axes_is_labelled(tmp_path, figures):
    points = _points(seeds=2, trainer=["sgd", "coordinate"], batch_size=[1, 4], profile=["rram", "pcm"])
    paths = plot_study(points, axes=["trainer", "batch_size", "profile"], series="trainer",
                       metrics={"accuracy": METRICS["accuracy"]}, pareto=[], context=CONTEXT, out_dir=tmp_path)
    ax = dict(zip(paths, figures))["accuracy_vs_batch_size"].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "trainer=sgd, profile=rram", "trainer=sgd, profile=pcm",
        "trainer=coordinate, profile=rram", "trainer=coordinate, profile=pcm"]
    assert "mean over" not in ax.get_title().splitlines()[0]


def test_too_many_lines_are_averaged_over_the_other_axes(tmp_path, figures):
    points = _points(seeds=1, trainer=["sgd", "coordinate"], batch_size=[1, 4], lr=[0.1, 0.2, 0.3],
                     profile=["rram", "pcm", "ideal"])
    paths = plot_study(points, axes=["trainer", "batch_size", "lr", "profile"], series="trainer",
                       metrics={"accuracy": METRICS["accuracy"]}, pareto=[], context=CONTEXT, out_dir=tmp_path)
    ax = dict(zip(paths, figures))["accuracy_vs_batch_size"].axes[0]
    assert ax.get_title().splitlines()[0] == "test accuracy (fraction) against batch_size (mean over lr, profile)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["trainer=sgd", "trainer=coordinate"]
    line = ax.get_lines()[0]
    pooled = np.mean([p["metrics"]["accuracy"] for p in points if p["axes"]["trainer"] == "sgd"
                      and p["axes"]["batch_size"] == 1])
    assert line.get_ydata()[0] == pytest.approx(pooled)


def test_line_groups_rule():
    def grid(**axes):
        return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]

    # 2 trainers x 6 profiles = 12 lines: the limit, kept
    pts = grid(trainer=["sgd", "cd"], batch=[1, 2], profile=list("abcdef"))
    groups = _line_groups(pts, "batch", ["trainer", "batch", "profile"], "trainer")
    assert groups.by == ("trainer", "profile") and len(groups.keys) == MAX_LINES and groups.averaged == ()
    assert groups.keys[:2] == (("sgd", "a"), ("sgd", "b"))
    # 2 x 7 = 14 lines: the other axes are averaged over, the series still splits
    pts = grid(trainer=["sgd", "cd"], batch=[1, 2], profile=list("abcdefg"))
    assert _line_groups(pts, "batch", ["trainer", "batch", "profile"], "trainer") == LineGroups(
        ("trainer",), (("sgd",), ("cd",)), ("profile",))
    # no series, 13 combinations of the others: one line
    pts = grid(batch=[1, 2], lr=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], profile=["a", "b"])
    assert _line_groups(pts, "batch", ["batch", "lr", "profile"], None) == LineGroups((), ((),), ("lr", "profile"))
    # the series on x: it splits nothing; an axis with one value is left out of the labels
    pts = grid(trainer=["sgd", "cd"], lr=[0.1], profile=["b", "a"])
    assert _line_groups(pts, "trainer", ["trainer", "lr", "profile"], "trainer") == LineGroups(
        ("profile",), (("b",), ("a",)), ())
    # numbers are ordered by value, strings by first appearance
    pts = grid(batch=[64, 1, 8], trainer=["z", "a"])
    assert _line_groups(pts, "trainer", ["batch", "trainer"], None).keys == ((1,), (8,), (64,))


@pytest.mark.parametrize("kwargs, match", [
    ({"metrics": {"accuracy": ("acc", "up")}}, r"metrics\['accuracy'\] must be \(label, 'max' or 'min'\)"),
    ({"series": "profile"}, "series must be None or one of axes"),
    ({"pareto": [("accuracy", "writes")]}, "metric 'writes' is not in metrics"),
    ({"axes": ["trainer", "lr"]}, r"points\[0\] has no value for axis 'lr'"),
])
def test_bad_arguments_are_named(kwargs, match, tmp_path):
    args = {"axes": ["trainer"], "series": "trainer", "metrics": METRICS, "pareto": [], "context": CONTEXT,
            "out_dir": tmp_path} | kwargs
    with pytest.raises(NeurosimError, match=match):
        plot_study(_points(seeds=1, trainer=["sgd"]), **args)


# ------------------------------------------------------------------------------------------------ pareto_front
def test_pareto_front_examples():
    xs, ys = [1.0, 2.0, 3.0, 2.0, 0.5], [0.5, 0.7, 0.6, 0.7, None]
    assert pareto_front(xs, ys, "min", "max") == [0, 1, 3]  # equal points are both on the front
    assert pareto_front(xs, ys, "max", "max") == [1, 3, 2]  # ordered by x
    assert pareto_front(xs, ys, "min", "min") == [0]
    assert pareto_front(xs, ys, "max", "min") == [0, 2]
    assert pareto_front([float("nan"), 1.0], [1.0, 2.0], "min", "max") == [1]
    assert pareto_front([], [], "min", "max") == []
    with pytest.raises(NeurosimError, match="x_dir must be 'max' or 'min', got 'low'"):
        pareto_front([1.0], [1.0], "low", "max")


def _dominates(p, q, dirs):
    """p is better or equal in both coordinates and strictly better in one."""
    better = [(a >= b) if d == "max" else (a <= b) for a, b, d in zip(p, q, dirs)]
    strictly = [(a > b) if d == "max" else (a < b) for a, b, d in zip(p, q, dirs)]
    return all(better) and any(strictly)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=25),
       st.sampled_from(["max", "min"]), st.sampled_from(["max", "min"]))
def test_pareto_front_property(pairs, x_dir, y_dir):
    xs, ys = [float(x) for x, _ in pairs], [float(y) for _, y in pairs]
    front = pareto_front(xs, ys, x_dir, y_dir)
    dirs = (x_dir, y_dir)
    assert len(set(front)) == len(front) and [xs[i] for i in front] == sorted(xs[i] for i in front)
    for i in front:  # nothing dominates a front point
        assert not any(_dominates(pairs[j], pairs[i], dirs) for j in range(len(pairs)))
    for i in set(range(len(pairs))) - set(front):  # every other point is dominated by a front point
        assert any(_dominates(pairs[j], pairs[i], dirs) for j in front)


# ------------------------------------------------------------------------------------------------ plot_comparison
@pytest.fixture(scope="module")
def records():
    """Two trainers x two seeds: tiny runs on iris (well under a second each)."""
    data = load_dataset("iris")
    out = []
    for trainer in ("sgd", "coordinate"):
        for seed in (0, 1):
            chip = neurosim.Chip("rram_hfo2", model_from_spec("4-8-3", data.input_shape, data.n_classes, seed=seed),
                                 seed=seed)
            out.append(train(chip, make_trainer(trainer), data, epochs=1, batch_size=16, seed=seed,
                             steps_per_eval=2))
    return out


NAMES = ["accuracy_vs_writes", "worst_cell_writes", "energy_breakdown", "write_heatmap"]


def test_comparison_with_two_seeds_per_trainer(records, tmp_path, figures):
    from PIL import Image

    paths = plot_comparison(records, tmp_path, context=CONTEXT)
    assert list(paths) == NAMES and [p.name for p in paths.values()] == [f"{n}.png" for n in NAMES]
    _assert_png_files(paths, tmp_path)
    by_name = dict(zip(paths, figures))
    for name, fig in by_name.items():
        assert _context_texts(fig) == [CONTEXT]
        assert Image.open(paths[name]).text["Description"] == CONTEXT
    for name in NAMES[:3]:
        assert by_name[name].axes[0].get_title().endswith("mean and 95 % CI over 2 seeds")
    ax = by_name["accuracy_vs_writes"].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "coordinate"]  # one line per trainer
    coordinate = [r for r in records if r.trainer["name"] == "coordinate"]
    length = min(len(r.checkpoints) for r in coordinate)
    np.testing.assert_allclose(ax.get_lines()[1].get_xdata(),
                               [np.mean([r.checkpoints[i].writes_total for r in coordinate]) for i in range(length)])
    ax = by_name["worst_cell_writes"].axes[0]
    np.testing.assert_allclose([b.get_height() for b in ax.patches],
                               [np.mean([r.final.writes_max_cell for r in records[k:k + 2]]) for k in (0, 2)])
    titles = [a.get_title() for a in by_name["write_heatmap"].axes[:2]]
    assert titles[0].startswith("sgd (seed 0): layer") and titles[1].startswith("coordinate (seed 0): layer")


def test_comparison_with_one_seed_has_no_seed_note_and_no_context_by_default(records, tmp_path, figures):
    one = [r for r in records if r.seed == 0]
    paths = plot_comparison(one, tmp_path)
    assert list(paths) == NAMES
    for fig in figures:
        assert _context_texts(fig) == []
        assert all("seed" not in a.get_title() for a in fig.axes)
