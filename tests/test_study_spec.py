"""Study specs and their points: TOML -> checked StudySpec (every bad key or value refused with a message naming the
file, the key, the constraint and the value), identities (what makes two specs the same study), and the expansion
into resolved points with content and simulation keys.

No test here runs a simulation: ``expand`` resolves points (loads profiles, models and data once) but runs nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from neurosim.errors import NeurosimError, StudyError
from neurosim.experiments.points import expand, repriced_axes
from neurosim.experiments.spec import DEFAULTS, KIND_FIELDS, StudySpec, load_study_spec, study_spec_from_dict
from neurosim.nn import load_model
from neurosim.nn.model_io import save_model
from neurosim.profiles import load_profile
from neurosim.profiles.schema import key_roles

PROFILES_DIR = Path(__file__).resolve().parent.parent / "hardware_profiles"

INFER = """
name = "grid"
kind = "infer"
model = "iris_mlp"
data = "iris"
"""
MAP = """
name = "mapping"
kind = "map"
model = "iris_mlp"
"""
TRAIN = """
name = "training"
kind = "train"
model = "4-8-3"
data = "iris"
trainers = ["sgd", "coordinate"]
"""
ADAPT = """
name = "online"
kind = "adapt"
model = "4-8-3"
data = "iris"
trainers = ["nvm_sgd"]
"""


def write(tmp_path: Path, text: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> StudySpec:
    return load_study_spec(write(tmp_path, text))


def error_of(tmp_path: Path, text: str, *fragments: str) -> str:
    """The StudyError message of loading ``text``; it names the file and every fragment."""
    path = write(tmp_path, text)
    with pytest.raises(StudyError) as info:
        load_study_spec(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)
    return msg


def expand_error(spec: StudySpec, *fragments: str) -> str:
    with pytest.raises(StudyError) as info:
        expand(spec)
    msg = str(info.value)
    assert msg.startswith(f"{spec.source}: "), msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)
    return msg


# ---------------------------------------------------------------------------------------------- valid specs
def test_infer_spec_loads_with_defaults(tmp_path):
    spec = load(tmp_path, INFER + 'description = "a grid"\nsamples = 20\n')
    assert (spec.name, spec.kind, spec.description) == ("grid", "infer", "a grid")
    assert spec.source == str(tmp_path / "study.toml")
    assert spec.seeds == (0,) and spec.trainers == () and spec.axes == ()
    assert spec.settings == {} and spec.params == {}
    assert set(spec.fixed) == set(KIND_FIELDS["infer"])
    assert spec.fixed["samples"] == 20 and spec.fixed["model"] == "iris_mlp" and spec.fixed["data"] == "iris"
    for key in ("profile", "executor", "placement", "calibration"):
        assert spec.fixed[key] == DEFAULTS[key]


def test_map_spec_loads_with_defaults(tmp_path):
    spec = load(tmp_path, MAP + 'placement = "naive"\n')
    assert spec.kind == "map" and spec.fixed == {"profile": DEFAULTS["profile"], "model": "iris_mlp",
                                                 "placement": "naive"}
    assert spec.trainers == () and spec.seeds == (0,)


def test_train_spec_loads_with_defaults(tmp_path):
    spec = load(tmp_path, TRAIN + "seeds = 3\nepochs = 2\n[params.sgd]\nlr = 0.05\n")
    assert spec.trainers == ("sgd", "coordinate")
    assert spec.seeds == (0, 1, 2)
    assert spec.params == {"sgd": {"lr": 0.05}}
    assert set(spec.fixed) == set(KIND_FIELDS["train"])
    assert spec.fixed["epochs"] == 2 and spec.fixed["weight_bits"] == DEFAULTS["weight_bits"]
    assert spec.fixed["batch_size"] is None


def test_adapt_spec_loads_with_defaults_and_ranges(tmp_path):
    spec = load(tmp_path, ADAPT + 'seeds = [7, 3]\nscenario = "rotate"\nstream_range = [10, 100]\n')
    assert spec.seeds == (7, 3)  # a list is kept, in its order
    assert spec.trainers == ("nvm_sgd",)
    assert spec.fixed["stream_range"] == [10, 100]
    assert spec.fixed["pretrain_range"] is None and spec.fixed["test_range"] is None
    for key in ("analog_drift", "digital_drift", "pretrain_epochs", "strength", "weight_bits"):
        assert spec.fixed[key] == DEFAULTS[key]


def test_spec_with_every_axis_kind_loads(tmp_path):
    spec = load(tmp_path, TRAIN + """
[axes]
"periphery.adc_bits" = [4, 6]
"sgd.lr" = [0.01, 0.1]
epochs = [1, 2]
[zip.xbar]
"crossbar.rows" = [64, 128]
"crossbar.cols" = [64, 128]
""")
    assert spec.axes == ((("periphery.adc_bits",), [(4,), (6,)]), (("sgd.lr",), [(0.01,), (0.1,)]),
                         (("epochs",), [(1,), (2,)]), (("crossbar.rows", "crossbar.cols"), [(64, 64), (128, 128)]))
    assert spec.axis_keys == ["periphery.adc_bits", "sgd.lr", "epochs", "crossbar.rows", "crossbar.cols"]


@pytest.mark.parametrize("kind", ["train", "adapt"])
def test_trainers_required_for_train_and_adapt(tmp_path, kind):
    error_of(tmp_path, f'name = "s"\nkind = "{kind}"\n', "'trainers'", "required", f"kind {kind!r}", "sgd")


@pytest.mark.parametrize("base, kind", [(MAP, "map"), (INFER, "infer")])
def test_trainers_and_params_refused_for_map_and_infer(tmp_path, base, kind):
    error_of(tmp_path, base + 'trainers = ["sgd"]\n', "key 'trainers'", "does not apply", f"kind {kind!r}")
    error_of(tmp_path, base + "[params.sgd]\nlr = 0.1\n", "key 'params'", "does not apply", f"kind {kind!r}")


@pytest.mark.parametrize("kind", ["map", "infer"])
def test_model_required_for_map_and_infer(tmp_path, kind):
    error_of(tmp_path, f'name = "s"\nkind = "{kind}"\n', "key 'model'", "required", f"kind {kind!r}")


def test_model_varied_by_an_axis_needs_no_fixed_model(tmp_path):
    spec = load(tmp_path, 'name = "s"\nkind = "map"\n[axes]\nmodel = ["iris_mlp", "digits_mlp"]\n')
    assert spec.axes == ((("model",), [("iris_mlp",), ("digits_mlp",)]),)


def test_model_varied_by_a_zip_group_needs_no_fixed_model(tmp_path):
    spec = load(tmp_path, 'name = "s"\nkind = "infer"\n[zip.pairs]\nmodel = ["iris_mlp", "digits_mlp"]\n'
                          'data = ["iris", "digits"]\n')
    assert spec.axes == ((("model", "data"), [("iris_mlp", "iris"), ("digits_mlp", "digits")]),)


# --------------------------------------------------------------------------------------------- bad top level
def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(StudyError, match="no such study spec file"):
        load_study_spec(tmp_path / "absent.toml")
    msg = error_of(tmp_path, 'name = "x"\nkind = \n', "not valid TOML")
    assert "study.toml" in msg


def test_unknown_top_level_key_suggests_the_closest(tmp_path):
    error_of(tmp_path, INFER + "sample = 10\n", "unknown key 'sample'", "did you mean 'samples'?")
    error_of(tmp_path, INFER + "seed = 1\n", "unknown key 'seed'", "did you mean 'seeds'?")
    error_of(tmp_path, INFER + "[axis]\n", "unknown key 'axis'", "did you mean 'axes'?")
    msg = error_of(tmp_path, INFER + "zzzzzz = 1\n", "unknown key 'zzzzzz'", "must be a study key")
    assert "did you mean" not in msg


def test_setting_of_another_kind_names_kind_and_key(tmp_path):
    error_of(tmp_path, INFER + "epochs = 3\n", "key 'epochs'", "does not apply to kind 'infer'", "samples")
    error_of(tmp_path, MAP + 'data = "iris"\n', "key 'data'", "does not apply to kind 'map'")
    error_of(tmp_path, TRAIN + "samples = 10\n", "key 'samples'", "does not apply to kind 'train'")
    error_of(tmp_path, TRAIN + "stream_range = [0, 10]\n", "key 'stream_range'", "kind 'train'", "only to 'adapt'")
    # as an axis: names the key and the settings that apply (not the kind by name)
    error_of(tmp_path, INFER + "[axes]\nepochs = [1, 2]\n", "axis 'epochs'", "does not apply", "samples")


@pytest.mark.parametrize("text, fragments", [
    (TRAIN + "epochs = 0\n", ["key 'epochs'", "an integer >= 1", "(got 0)"]),
    (TRAIN + "epochs = 1.5\n", ["key 'epochs'", "an integer", "not a float", "(got 1.5)"]),
    (TRAIN + "weight_bits = 9\n", ["key 'weight_bits'", "an integer in [2, 8]", "(got 9)"]),
    (TRAIN + "weight_bits = true\n", ["key 'weight_bits'", "not bool", "(got True)"]),
    (TRAIN + "seeds = 0\n", ["key 'seeds'", "count in [1, 10000]", "(got 0)"]),
    (TRAIN + "seeds = -2\n", ["key 'seeds'", "count in [1, 10000]", "(got -2)"]),
    (TRAIN + "seeds = [1, 1]\n", ["key 'seeds'", "twice", "[1, 1]"]),
    (TRAIN + "seeds = []\n", ["key 'seeds'", "non-empty list", "(got [])"]),
    (TRAIN + 'seeds = [1, "2"]\n', ["key 'seeds'[1]", "an integer", "(got '2')"]),
    (TRAIN + "seeds = 2.0\n", ["key 'seeds'", "(got 2.0)"]),
    (TRAIN.replace('"train"', '"bake"'), ["key 'kind'", "one of 'map', 'infer', 'train', 'adapt'", "(got 'bake')"]),
    (TRAIN.replace('name = "training"', 'name = "  "'), ["key 'name'", "non-empty", "'  '"]),
    (TRAIN.replace('name = "training"', "name = 3"), ["key 'name'", "a string", "(got 3)"]),
    (TRAIN.replace('name = "training"\n', ""), ["key 'name'", "required"]),
    (TRAIN.replace('kind = "train"\n', ""), ["key 'kind'", "required", "'adapt'"]),
    (TRAIN.replace('["sgd", "coordinate"]', '["sgd", "sdg"]'), ["'trainers'[1]", "(got 'sdg')",
                                                                "did you mean 'sgd'?"]),
    (TRAIN.replace('["sgd", "coordinate"]', '["sgd", "sgd"]'), ["'trainers'", "twice"]),
    (TRAIN.replace('["sgd", "coordinate"]', "[]"), ["'trainers'", "non-empty list", "(got [])"]),
    (TRAIN.replace('["sgd", "coordinate"]', '"sgd"'), ["'trainers'", "non-empty list", "(got 'sgd')"]),
    (INFER + 'executor = "quantum"\n', ["key 'executor'", "one of", "(got 'quantum')"]),
    (INFER + "samples = 0\n", ["key 'samples'", ">= 1", "(got 0)"]),
    (INFER + "calibration = -1\n", ["key 'calibration'", ">= 0", "(got -1)"]),
    (ADAPT + "digital_drift = 1.5\n", ["key 'digital_drift'", "in [0, 1]", "(got 1.5)"]),
    (ADAPT + "analog_drift = nan\n", ["key 'analog_drift'", "finite", "(got nan)"]),
    (ADAPT + "analog_drift = inf\n", ["key 'analog_drift'", "finite", "(got inf)"]),
    (ADAPT + "stream_range = [5, 5]\n", ["key 'stream_range'", "0 <= start < end", "[5, 5]"]),
    (ADAPT + "stream_range = [-1, 5]\n", ["key 'stream_range'", "0 <= start < end", "[-1, 5]"]),
    (ADAPT + "test_range = [1, 2, 3]\n", ["key 'test_range'", "[start, end]", "[1, 2, 3]"]),
    (INFER + 'description = 5\n', ["key 'description'", "a string", "(got 5)"]),
    (INFER + "set = 5\n", ["key 'set'", "a table", "(got 5)"]),
    (INFER + "axes = 5\n", ["key 'axes'", "a table", "(got 5)"]),
    (INFER + "zip = 5\n", ["key 'zip'", "a table", "(got 5)"]),
    (TRAIN + "[params]\nsgd = 5\n", ["[params.sgd]", "a table of hyper-parameters", "(got 5)"]),
    (TRAIN + "[params.sgd]\nlr = -1.0\n", ["key 'params.sgd.lr'", "(got -1.0)"]),
])
def test_bad_values_are_refused_clearly(tmp_path, text, fragments):
    error_of(tmp_path, text, *fragments)


# ------------------------------------------------------------------------------------------------------ axes
def test_axes_of_profile_keys_trainer_params_and_fields(tmp_path):
    spec = load(tmp_path, TRAIN + '[axes]\n"periphery.adc_bits" = [4, 6]\n"sgd.lr" = [0.01, 0.1]\n'
                                  'epochs = [1, 2]\nweight_bits = [2, 4]\n"coordinate.batch_size" = [8, 16]\n')
    assert [keys for keys, _ in spec.axes] == [("periphery.adc_bits",), ("sgd.lr",), ("epochs",), ("weight_bits",),
                                               ("coordinate.batch_size",)]
    assert spec.axes[1][1] == [(0.01,), (0.1,)]


def test_axis_values_are_checked_by_their_rule(tmp_path):
    error_of(tmp_path, TRAIN + "[axes]\nepochs = [1, 0]\n", "axes.epochs[1]", ">= 1", "(got 0)")
    error_of(tmp_path, TRAIN + '[axes]\n"sgd.lr" = [0.1, "fast"]\n', "axes.'sgd.lr'[1]", "(got 'fast')")
    error_of(tmp_path, INFER + '[axes]\nexecutor = ["analog", "magic"]\n', "axes.executor[1]", "(got 'magic')")


def test_trainer_param_axis_needs_its_trainer(tmp_path):
    text = TRAIN.replace('["sgd", "coordinate"]', '["coordinate"]') + '[axes]\n"sgd.lr" = [0.01, 0.1]\n'
    error_of(tmp_path, text, "axis 'sgd.lr'", "trainer 'sgd'", "does not run", "it runs: coordinate")


def test_unknown_trainer_param_suggests_the_closest(tmp_path):
    error_of(tmp_path, TRAIN + '[axes]\n"sgd.lrr" = [0.01, 0.1]\n', "unknown key 'sgd.lrr'", "did you mean 'sgd.lr'?",
             "hyper-parameter of 'sgd'")
    error_of(tmp_path, TRAIN + "[params.sgd]\nmomentun = 0.9\n", "unknown key 'params.sgd.momentun'",
             "did you mean 'params.sgd.momentum'?")


def test_unknown_axis_key_has_a_hint(tmp_path):
    error_of(tmp_path, INFER + '[axes]\n"periphery.adc_bit" = [4, 6]\n', "unknown key 'axes.periphery.adc_bit'",
             "did you mean 'axes.periphery.adc_bits'?")
    error_of(tmp_path, INFER + '[axes]\nsampels = [4, 6]\n', "unknown key 'axes.sampels'",
             "did you mean 'axes.samples'?", "a setting, a dotted profile key or TRAINER.PARAM")
    error_of(tmp_path, INFER + '[axes]\n"device.nonsense" = [4, 6]\n', "unknown key 'axes.device.nonsense'",
             "dotted profile key")


@pytest.mark.parametrize("key", ["seed", "seeds", "trainer", "trainers"])
def test_seeds_and_trainers_are_not_axes(tmp_path, key):
    error_of(tmp_path, TRAIN + f'[axes]\n{key} = [1, 2]\n', f"unknown key 'axes.{key}'",
             "'seeds' and 'trainers' are lists of their own, not axes")


def test_empty_and_duplicate_axis_values_refused(tmp_path):
    error_of(tmp_path, INFER + '[axes]\n"periphery.adc_bits" = []\n', "axes.'periphery.adc_bits'",
             "non-empty list", "(got [])")
    error_of(tmp_path, INFER + '[axes]\n"periphery.adc_bits" = 4\n', "axes.'periphery.adc_bits'",
             "non-empty list", "(got 4)")
    error_of(tmp_path, INFER + '[axes]\n"periphery.adc_bits" = [4, 6, 4]\n', "axes.'periphery.adc_bits'",
             "a value twice", "[4, 6, 4]")
    error_of(tmp_path, TRAIN + "[axes]\nepochs = [2, 2]\n", "axes.epochs", "a value twice", "[2, 2]")


def test_a_key_both_fixed_and_varied_is_refused(tmp_path):
    error_of(tmp_path, TRAIN + "epochs = 3\n[axes]\nepochs = [1, 2]\n", "key 'epochs'", "both fixed and varied")
    error_of(tmp_path, INFER + '[set]\n"periphery.adc_bits" = 4\n[axes]\n"periphery.adc_bits" = [4, 6]\n',
             "key 'periphery.adc_bits'", "both fixed in [set] and varied")
    error_of(tmp_path, TRAIN + '[params.sgd]\nlr = 0.1\n[axes]\n"sgd.lr" = [0.01, 0.1]\n', "key 'sgd.lr'",
             "both fixed in [params.sgd] and varied")
    error_of(tmp_path, INFER + '[axes]\nmodel = ["iris_mlp", "digits_mlp"]\n', "key 'model'", "both fixed and varied")


def test_zip_groups(tmp_path):
    spec = load(tmp_path, INFER + '[zip.xbar]\n"crossbar.rows" = [64, 128, 256]\n"crossbar.cols" = [32, 64, 128]\n')
    assert spec.axes == ((("crossbar.rows", "crossbar.cols"), [(64, 32), (128, 64), (256, 128)]),)
    msg = error_of(tmp_path, INFER + '[zip.xbar]\n"crossbar.rows" = [64, 128, 256]\n"crossbar.cols" = [32, 64]\n',
                   "[zip.xbar]", "equal lengths", "crossbar.rows: 3", "crossbar.cols: 2")
    assert "crossbar.cols: 2)" in msg
    error_of(tmp_path, INFER + '[zip.xbar]\n"crossbar.rows" = [64, 128]\n', "[zip.xbar]", "at least two keys")
    error_of(tmp_path, INFER + "[zip]\nxbar = 3\n", "[zip.xbar]", "at least two keys", "(got 3)")
    error_of(tmp_path, INFER + '[axes]\n"crossbar.rows" = [64, 128]\n'
                               '[zip.xbar]\n"crossbar.rows" = [64, 128]\n"crossbar.cols" = [64, 128]\n',
             "key 'crossbar.rows'", "varied twice")
    error_of(tmp_path, INFER + '[zip.a]\n"crossbar.rows" = [64, 128]\n"crossbar.cols" = [64, 128]\n'
                               '[zip.b]\n"crossbar.rows" = [32, 16]\n"periphery.adc_bits" = [4, 6]\n',
             "key 'crossbar.rows'", "varied twice")
    error_of(tmp_path, INFER + '[zip.a]\n"crossbar.rows" = [64, 64]\n"crossbar.cols" = [64, 64]\n',
             "same combination of values twice")


def test_zip_group_columns_may_repeat_values(tmp_path):
    spec = load(tmp_path, INFER + '[zip.shape]\n"crossbar.rows" = [64, 128, 128]\n'
                                  '"crossbar.cols" = [128, 64, 128]\n')
    assert spec.axes == ((("crossbar.rows", "crossbar.cols"), [(64, 128), (128, 64), (128, 128)]),)


def test_set_and_params_tables(tmp_path):
    spec = load(tmp_path, INFER + '[set]\n"periphery.adc_bits" = 6\n"device.set_energy_pj" = 1.5\n')
    assert spec.settings == {"periphery.adc_bits": 6, "device.set_energy_pj": 1.5}
    error_of(tmp_path, INFER + '[set]\n"periphery.adc_bit" = 6\n', "unknown key 'set.periphery.adc_bit'",
             "did you mean 'set.periphery.adc_bits'?", "[set]")
    error_of(tmp_path, INFER + '[set]\nadc_bits = 6\n', "unknown key 'set.adc_bits'")
    text = TRAIN.replace('["sgd", "coordinate"]', '["sgd"]') + "[params.coordinate]\ncandidates = 3\n"
    error_of(tmp_path, text, "[params.coordinate]", "does not run", "it runs: sgd")


# ----------------------------------------------------------------------------------------------------- paths
def test_relative_paths_are_relative_to_the_spec_file(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "profiles").mkdir(parents=True)
    shutil.copy(PROFILES_DIR / "pcm.toml", root / "profiles" / "mine.toml")
    save_model(load_model("iris_mlp"), root / "models" / "m.toml")
    spec_path = write(root, INFER.replace('"iris_mlp"', '"models/m.toml"') + 'profile = "profiles/mine.toml"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative to the spec file, not to the working directory
    spec = load_study_spec(spec_path)
    assert spec.fixed["profile"] == str((root / "profiles" / "mine.toml").resolve())
    assert spec.fixed["model"] == str((root / "models" / "m.toml").resolve())
    assert spec.fixed["data"] == "iris"  # names stay names
    points = expand(spec)  # both files are found from elsewhere
    assert len(points) == 1
    assert points[0].profile.name == "pcm"
    assert points[0].profile.content_hash == load_profile("pcm").content_hash


def test_relative_paths_in_axes(tmp_path, monkeypatch):
    root = tmp_path / "project"
    path = write(root, 'name = "s"\nkind = "map"\n'
                       '[axes]\nprofile = ["profiles/mine.toml", "rram_hfo2", "/abs/x.toml"]\n'
                       'model = ["m.toml", "iris_mlp"]\n')
    monkeypatch.chdir(tmp_path)
    spec = load_study_spec(path)
    assert spec.axes[0][1] == [(str((root / "profiles" / "mine.toml").resolve()),), ("rram_hfo2",),
                               ("/abs/x.toml",)]
    assert spec.axes[1][1] == [(str((root / "m.toml").resolve()),), ("iris_mlp",)]


def test_relative_mnist_data_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_study_spec(write(tmp_path, TRAIN.replace('"iris"', '"mnist:rel/dir"'), "specs/study.toml"))
    assert spec.fixed["data"] == "mnist:" + str((tmp_path / "specs" / "rel" / "dir").resolve())
    spec = load_study_spec(write(tmp_path, TRAIN.replace('"iris"', '"mnist:/data/mnist"'), "specs/abs.toml"))
    assert spec.fixed["data"] == "mnist:/data/mnist"
    spec = load_study_spec(write(tmp_path, TRAIN.replace('data = "iris"\n', "")
                                 + '[axes]\ndata = ["digits", "mnist:here", "mnist"]\n', "specs/axis.toml"))
    assert spec.axes[0][1] == [("digits",), ("mnist:" + str((tmp_path / "specs" / "here").resolve()),), ("mnist",)]


def test_dict_specs_keep_paths_as_given():
    spec = study_spec_from_dict({"name": "s", "kind": "map", "model": "models/m.toml"}, source="<test>")
    assert spec.fixed["model"] == "models/m.toml" and spec.source == "<test>"
    with pytest.raises(StudyError, match=r"^<dict>: a study spec is a table of keys \(got list\)"):
        study_spec_from_dict([1, 2])  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------------- identity
IDENTITY_BASE = TRAIN + """
seeds = 2
epochs = 2
[set]
"device.set_energy_pj" = 1.0
[params.sgd]
lr = 0.1
[axes]
"periphery.adc_bits" = [4, 6]
"""


def test_identity_ignores_axis_values_trainers_and_seeds(tmp_path):
    base = load(tmp_path, IDENTITY_BASE)
    assert base.identity() == {"name": "training", "kind": "train", "fixed": base.fixed,
                               "set": {"device.set_energy_pj": 1.0}, "params": {"sgd": {"lr": 0.1}},
                               "axes": [["periphery.adc_bits"]]}
    same = [
        IDENTITY_BASE.replace("[4, 6]", "[4, 6, 8]"),
        IDENTITY_BASE.replace("[4, 6]", "[8]"),
        IDENTITY_BASE.replace('["sgd", "coordinate"]', '["sgd", "coordinate", "bitflip"]'),
        IDENTITY_BASE.replace('["sgd", "coordinate"]', '["sgd"]'),
        IDENTITY_BASE.replace("seeds = 2", "seeds = 5"),
        IDENTITY_BASE.replace("seeds = 2", "seeds = [3, 9]"),
    ]
    for text in same:
        other = load(tmp_path, text)
        assert other.identity() == base.identity(), text
        assert other.identity_hash() == base.identity_hash(), text


def test_identity_changes_with_everything_else(tmp_path):
    base = load(tmp_path, IDENTITY_BASE)
    changed = {
        "fixed setting": IDENTITY_BASE.replace("epochs = 2", "epochs = 3"),
        "default changed": IDENTITY_BASE.replace("epochs = 2\n", "epochs = 2\nweight_bits = 3\n"),
        "set value": IDENTITY_BASE.replace('"device.set_energy_pj" = 1.0', '"device.set_energy_pj" = 2.0'),
        "set key": IDENTITY_BASE.replace("[set]\n", '[set]\n"chip.clock_mhz" = 100.0\n'),
        "params": IDENTITY_BASE.replace("lr = 0.1", "lr = 0.2"),
        "new axis key": IDENTITY_BASE + '"sgd.momentum" = [0.0, 0.9]\n',
        "name": IDENTITY_BASE.replace('name = "training"', 'name = "other"'),
        "profile": IDENTITY_BASE.replace("epochs = 2\n", 'epochs = 2\nprofile = "pcm"\n'),
    }
    for what, text in changed.items():
        other = load(tmp_path, text)
        assert other.identity() != base.identity(), what
        assert other.identity_hash() != base.identity_hash(), what


def test_identity_of_a_profile_object_is_its_content_hash():
    profile = load_profile("pcm")
    spec = study_spec_from_dict({"name": "s", "kind": "map", "model": "iris_mlp"})
    spec = dataclasses.replace(spec, fixed={**spec.fixed, "profile": profile})
    assert spec.identity()["fixed"]["profile"] == profile.content_hash
    assert len(spec.identity_hash()) == 64
    assert spec.to_dict()["fixed"]["profile"] == {"name": "pcm", "content_hash": profile.content_hash}


# ---------------------------------------------------------------------------------------------------- points
def test_point_count_trainer_params_and_stable_keys(tmp_path):
    spec = load(tmp_path, TRAIN + 'seeds = 2\n[axes]\n"sgd.lr" = [0.01, 0.1]\n"periphery.adc_bits" = [4, 6]\n')
    points = expand(spec)
    # sgd: 2 lr x 2 adc x 2 seeds; coordinate: the lr axis does not apply, 2 adc x 2 seeds
    assert len(points) == 2 * 2 * 2 + 2 * 2
    assert [p.position for p in points] == list(range(len(points)))
    assert len({p.key for p in points}) == len(points)
    coordinate = [p for p in points if p.axes["trainer"] == "coordinate"]
    assert len(coordinate) == 4
    assert all(p.axes["sgd.lr"] is None for p in coordinate)
    assert sorted((p.axes["periphery.adc_bits"], p.seed) for p in coordinate) == [(4, 0), (4, 1), (6, 0), (6, 1)]
    sgd = [p for p in points if p.axes["trainer"] == "sgd"]
    assert {p.task["params"]["lr"] for p in sgd} == {0.01, 0.1}
    assert all(p.task["trainer"] == "sgd" and p.task["epochs"] == DEFAULTS["epochs"] for p in sgd)
    assert points[0].label() == "sgd, sgd.lr=0.01, periphery.adc_bits=4, seed 0"
    assert coordinate[0].label() == "coordinate, periphery.adc_bits=4, seed 0"
    again = expand(load(tmp_path, TRAIN + 'seeds = 2\n[axes]\n"sgd.lr" = [0.01, 0.1]\n'
                                          '"periphery.adc_bits" = [4, 6]\n'))
    assert [(p.key, p.sim_key) for p in again] == [(p.key, p.sim_key) for p in points]


def test_adding_axis_values_only_adds_keys(tmp_path):
    small = {p.key for p in expand(load(tmp_path, INFER + '[axes]\n"periphery.adc_bits" = [4, 6]\n'))}
    big = {p.key for p in expand(load(tmp_path, INFER + 'seeds = 2\n[axes]\n"periphery.adc_bits" = [4, 6, 8]\n'))}
    assert small < big and len(big) == 6


def test_point_count_is_the_product(tmp_path):
    spec = load(tmp_path, INFER + 'seeds = 3\nplacement = "naive"\n[axes]\n"periphery.adc_bits" = [4, 6, 8]\n'
                                  '[zip.xbar]\n"crossbar.rows" = [64, 128]\n"crossbar.cols" = [64, 128]\n')
    points = expand(spec)
    assert len(points) == 3 * 2 * 3
    assert {(p.axes["periphery.adc_bits"], p.axes["crossbar.rows"], p.axes["crossbar.cols"], p.seed)
            for p in points} == {(a, r, r, s) for a in (4, 6, 8) for r in (64, 128) for s in (0, 1, 2)}
    for p in points:
        assert p.profile.crossbar.rows == p.axes["crossbar.rows"]
        assert p.profile.periphery.adc_bits == p.axes["periphery.adc_bits"]
        assert p.task["placement"] == "naive" and p.task["seed"] == p.seed


def test_equal_resolved_points_appear_once(tmp_path):
    # a shipped profile by name and by path are distinct axis values but the same content: one point per seed
    pcm_path = PROFILES_DIR / "pcm.toml"
    spec = load(tmp_path, MAP + f'seeds = 2\n[axes]\nprofile = ["pcm", "{pcm_path}"]\n')
    assert len(spec.axes[0][1]) == 2
    points = expand(spec)
    assert len(points) == 2 and [p.position for p in points] == [0, 1]
    assert [(p.axes["profile"], p.seed) for p in points] == [("pcm", 0), ("pcm", 1)]


def test_price_keys_share_the_simulation_key(tmp_path):
    roles = key_roles()
    assert roles["device.set_energy_pj"] == "price" and roles["periphery.adc_bits"] == "structure"
    spec = load(tmp_path, INFER + '[axes]\n"periphery.adc_bits" = [4, 6]\n"device.set_energy_pj" = [1.0, 2.0]\n')
    points = expand(spec)
    assert len(points) == 4 and len({p.key for p in points}) == 4
    by_sim: dict[str, set] = {}
    for p in points:
        by_sim.setdefault(p.sim_key, set()).add(p.axes["periphery.adc_bits"])
    assert sorted(map(sorted, by_sim.values())) == [[4], [6]]  # structure splits, price does not
    assert repriced_axes(spec) == ["device.set_energy_pj"]


def test_repriced_axes(tmp_path):
    spec = load(tmp_path, INFER + '[axes]\n"periphery.adc_bits" = [4, 6]\n"chip.clock_mhz" = [100.0, 200.0]\n'
                                  '"device.technology" = ["rram", "pcm"]\n'
                                  '[zip.energy]\n"device.set_energy_pj" = [1.0, 2.0]\n'
                                  '"device.reset_energy_pj" = [1.0, 2.0]\n'
                                  '[zip.mixed]\n"device.read_energy_pj" = [0.1, 0.2]\n"crossbar.rows" = [64, 128]\n')
    assert repriced_axes(spec) == ["chip.clock_mhz", "device.technology",
                                   "device.set_energy_pj + device.reset_energy_pj"]
    points = expand(spec)
    assert len({p.sim_key for p in points}) == 2 * 2  # adc_bits x the mixed zip group
    train = load(tmp_path, TRAIN + '[axes]\n"sgd.lr" = [0.1, 0.2]\n"device.set_energy_pj" = [1.0, 2.0]\n'
                                   'epochs = [1, 2]\n')
    assert repriced_axes(train) == ["device.set_energy_pj"]
    mapping = load(tmp_path, MAP + '[axes]\n"device.set_energy_pj" = [1.0, 2.0]\n')
    assert repriced_axes(mapping) == []
    assert all(p.key == p.sim_key for p in expand(mapping))  # mapping points are always run


def test_profile_value_out_of_range_fails_expand(tmp_path):
    spec = load(tmp_path, INFER + 'seeds = 2\n[axes]\n"periphery.adc_bits" = [4, 99]\n')
    expand_error(spec, "point (periphery.adc_bits=99, seed 0)", "'periphery.adc_bits'", "[1, 32]", "(got 99)")
    spec = load(tmp_path, INFER + '[set]\n"device.set_energy_pj" = -1.0\n')
    expand_error(spec, "point (the fixed settings, seed 0)", "'device.set_energy_pj'", "(got -1.0)")
    spec = load(tmp_path, INFER + '[zip.x]\n"crossbar.rows" = [64, 0]\n"crossbar.cols" = [64, 128]\n')
    expand_error(spec, "crossbar.rows=0, crossbar.cols=128, seed 0", "'crossbar.rows'", "(got 0)")


def test_data_that_does_not_fit_the_model_fails_expand(tmp_path):
    spec = load(tmp_path, INFER.replace('"iris_mlp"', '"digits_mlp"'))
    expand_error(spec, "data set 'iris'", "(4,)", "model 'digits_mlp'", "(8, 8, 1)")
    spec = load(tmp_path, INFER.replace('data = "iris"\n', "") + '[axes]\ndata = ["iris", "digits"]\n')
    expand_error(spec, "point (data=digits, seed 0)", "data set 'digits'", "model 'iris_mlp'")


def test_unknown_names_fail_expand(tmp_path):
    expand_error(load(tmp_path, INFER.replace('"iris_mlp"', '"irs_mlp"')), "unknown model 'irs_mlp'", "iris_mlp")
    expand_error(load(tmp_path, INFER + 'profile = "rram"\n'), "unknown profile 'rram'", "rram_hfo2")
    expand_error(load(tmp_path, INFER.replace('"iris"', '"irises"')), "unknown data set 'irises'")
    expand_error(load(tmp_path, TRAIN.replace('"4-8-3"', '"4-0-3"')), "model spec '4-0-3'")


def _edit_first_code(model):
    layer = model.layers[0]
    codes = layer.codes.copy()
    codes[0, 0] = 1 if codes[0, 0] != 1 else 0
    return dataclasses.replace(model, layers=(dataclasses.replace(layer, codes=codes), *model.layers[1:]))


def test_editing_a_model_file_changes_the_point_keys(tmp_path):
    model = load_model("iris_mlp")
    model_path = save_model(model, tmp_path / "m.toml")
    spec = load(tmp_path, INFER.replace('"iris_mlp"', '"m.toml"'))
    before = expand(spec)
    save_model(_edit_first_code(model), model_path)
    after = expand(spec)
    assert before[0].key != after[0].key and before[0].sim_key != after[0].sim_key
    save_model(model, model_path)  # the content, not the file's time, makes the key
    assert expand(spec)[0].key == before[0].key


def test_editing_a_model_input_range_changes_the_point_keys(tmp_path):
    model = load_model("iris_mlp")
    model_path = save_model(model, tmp_path / "m.toml")
    spec = load(tmp_path, INFER.replace('"iris_mlp"', '"m.toml"'))
    before = expand(spec)[0].key
    save_model(dataclasses.replace(model, input_range=(0.0, 2.0)), model_path)
    assert load_model(model_path).input_range == (0.0, 2.0)
    assert expand(spec)[0].key != before


# ------------------------------------------------------------------------------ values refused only at run time
def test_map_with_a_layer_size_model_fails_expand(tmp_path):
    expand_error(load(tmp_path, MAP.replace('"iris_mlp"', '"4-8-3"')), "4-8-3")


def test_train_with_a_model_that_does_not_fit_the_data_fails_expand(tmp_path):
    expand_error(load(tmp_path, TRAIN.replace('"4-8-3"', '"digits_mlp"')), "digits_mlp", "(8, 8, 1)")


@pytest.mark.parametrize("seeds", ["[-1]", "[4294967296]"])
def test_seeds_outside_the_rng_range_are_refused(tmp_path, seeds):
    spec_text = TRAIN + f"seeds = {seeds}\n"
    try:
        spec = load(tmp_path, spec_text)
    except StudyError as exc:
        assert "seeds" in str(exc)
        return
    expand_error(spec, "seed")


def test_a_huge_seed_count_is_refused(tmp_path):
    error_of(tmp_path, MAP + "seeds = 9223372036854775807\n", "key 'seeds'")


@pytest.mark.parametrize("entry", ['["sgd"]', "{ a = 1 }"])
def test_unhashable_trainer_entry_is_refused(tmp_path, entry):
    error_of(tmp_path, TRAIN.replace('["sgd", "coordinate"]', f'["sgd", {entry}]'), "'trainers'[1]")


def test_adapt_range_beyond_the_data_fails_expand(tmp_path):
    expand_error(load(tmp_path, ADAPT + "stream_range = [0, 1000000]\n"), "stream")


# ------------------------------------------------------------------------------------------------------ fuzz
FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
BASES = {
    "infer": {"name": "fuzz", "kind": "infer", "model": "iris_mlp", "data": "iris", "samples": 10, "seeds": 2,
              "set": {"device.set_energy_pj": 1.5},
              "axes": {"periphery.adc_bits": [4, 6], "placement": ["optimized", "naive"]},
              "zip": {"xbar": {"crossbar.rows": [64, 128], "crossbar.cols": [64, 128]}}},
    "map": {"name": "fuzz", "kind": "map", "model": "iris_mlp", "placement": "naive", "seeds": [0, 1],
            "axes": {"crossbar.rows": [64, 128], "device.set_energy_pj": [1.0, 2.0]}},
    "train": {"name": "fuzz", "kind": "train", "model": "4-8-3", "data": "iris", "trainers": ["sgd", "coordinate"],
              "epochs": 1, "params": {"sgd": {"lr": 0.1}},
              "axes": {"sgd.momentum": [0.0, 0.9], "weight_bits": [2, 3]}},
    "adapt": {"name": "fuzz", "kind": "adapt", "model": "4-8-3", "data": "iris", "trainers": ["nvm_sgd"],
              "stream_range": [0, 100], "analog_drift": 0.1, "axes": {"nvm_sgd.lr": [0.01, 0.1]}},
}
WORDS = ["iris", "digits", "iris_mlp", "digits_mlp", "mnist_mlp", "4-8-3", "rram_hfo2", "pcm", "sgd", "coordinate",
         "analog", "naive", "rotate", "map", "infer", "train", "nan", "", "periphery.adc_bits", "sgd.lr", "epochs",
         "mnist:/nonexistent/dir", "x.toml", "models/none.toml"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 70),
                    st.sampled_from([2**31, 2**63 - 1, -(2**63)]), st.floats(),
                    st.sampled_from([math.nan, math.inf, -math.inf]), st.text(max_size=8), st.sampled_from(WORDS))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.one_of(st.text(max_size=6), st.sampled_from(WORDS)), inner,
                                             max_size=3), max_leaves=6)


def _paths(obj, prefix=()):
    """Every (container path, key or index) inside ``obj``."""
    out = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for k, v in items:
        out.append(prefix + (k,))
        out += _paths(v, prefix + (k,))
    return out


def _at(obj, path):
    for k in path:
        obj = obj[k]
    return obj


@st.composite
def mutated_spec(draw):
    kind = draw(st.sampled_from(sorted(BASES)))
    raw = copy.deepcopy(BASES[kind])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "replace", "replace", "insert", "axis", "kind"]))
        paths = _paths(raw)
        event(op)
        if op == "drop":
            dict_paths = [p for p in paths if isinstance(_at(raw, p[:-1]), dict)]
            path = draw(st.sampled_from(dict_paths))
            del _at(raw, path[:-1])[path[-1]]
        elif op == "replace" and paths:
            path = draw(st.sampled_from(paths))
            _at(raw, path[:-1])[path[-1]] = draw(json_values)
        elif op == "insert":
            tables = [()] + [p for p in paths if isinstance(_at(raw, p), dict)]
            table = _at(raw, draw(st.sampled_from(tables)))
            key = draw(st.one_of(st.text(max_size=10), st.sampled_from(WORDS + ["seed", "trainer", "axis", "zip",
                                                                                "set", "params", "crossbar.rowz"])))
            table[key] = draw(json_values)
        elif op == "axis":
            lists = [p for p in paths if p[0] in ("axes", "zip") and isinstance(_at(raw, p), list)]
            if not lists:
                continue
            values = _at(raw, draw(st.sampled_from(lists)))
            how = draw(st.sampled_from(["clear", "duplicate", "append", "pop", "set"]))
            if how == "clear":
                values.clear()
            elif how == "duplicate" and values:
                values.append(values[0])
            elif how == "append":
                values.append(draw(json_values))
            elif how == "pop" and values:
                values.pop()
            elif how == "set" and values:
                values[draw(st.integers(0, len(values) - 1))] = draw(json_values)
        elif op == "kind":
            raw["kind"] = draw(st.sampled_from(sorted(BASES)))
    return raw


def _known_crash(raw: dict) -> bool:
    """Inputs too slow for a fuzz example: valid seed counts in the thousands expand into as many points (larger
    counts are refused, see test_a_huge_seed_count_is_refused)."""
    seeds = raw.get("seeds")
    return isinstance(seeds, int) and not isinstance(seeds, bool) and 20 < seeds <= 10_000


@FUZZ
@given(raw=mutated_spec())
def test_fuzzed_specs_succeed_or_raise_study_errors(raw):
    assume(not _known_crash(raw))
    try:
        spec = study_spec_from_dict(raw, source="fuzz")
    except StudyError as exc:
        event("refused by the spec")
        assert str(exc).startswith("fuzz: "), str(exc)
        return
    except Exception as exc:  # the point of the test
        pytest.fail(f"study_spec_from_dict({raw!r}) raised {type(exc).__name__}: {exc}")
    try:
        points = expand(spec)
    except NeurosimError as exc:
        event("refused by expand")
        assert str(exc).startswith("fuzz: "), str(exc)
        return
    except Exception as exc:
        pytest.fail(f"expand({raw!r}) raised {type(exc).__name__}: {exc}")
    event("accepted")
    bound = max(1, len(spec.trainers)) * len(spec.seeds) * math.prod(len(v) for _, v in spec.axes)
    assert 1 <= len(points) <= bound
    assert len({p.key for p in points}) == len(points)
    assert [p.position for p in points] == list(range(len(points)))
    assert all(p.seed in spec.seeds for p in points)


@pytest.mark.parametrize("kind", sorted(BASES))
def test_fuzz_bases_are_valid(kind):
    """Control: the unmutated dicts are accepted and expand, so every refusal in the fuzz is due to a mutation."""
    spec = study_spec_from_dict(copy.deepcopy(BASES[kind]), source="fuzz")
    assert expand(spec)


PROFILE_KEYS = sorted(k for k in key_roles() if "." in k)


@FUZZ
@given(kind=st.sampled_from(["map", "infer"]), key=st.sampled_from(PROFILE_KEYS),
       values=st.lists(st.one_of(st.integers(0, 300), json_values), min_size=1, max_size=3),
       fixed=st.none() | st.sampled_from(PROFILE_KEYS), value=json_values)
def test_fuzzed_profile_values_succeed_or_raise_study_errors(kind, key, values, fixed, value):
    """Profile values are checked only when the points are resolved: any value there is refused with a StudyError
    that names the point and the key, or resolves."""
    raw = {**copy.deepcopy(BASES[kind]), "axes": {key: values}, "set": {}}
    raw.pop("zip", None)
    if fixed is not None and fixed != key:
        raw["set"] = {fixed: value}
    try:
        spec = study_spec_from_dict(raw, source="fuzz")
    except StudyError as exc:
        assert str(exc).startswith("fuzz: ") and "twice" in str(exc), str(exc)  # only duplicates are refused here
        return
    try:
        points = expand(spec)
    except StudyError as exc:
        msg = str(exc)
        assert msg.startswith("fuzz: point (") and (f"'{key}'" in msg or f"'{fixed}'" in msg), msg
        event("refused by expand")
        return
    event("accepted")
    assert 1 <= len(points) <= len(values) * len(spec.seeds)
    section, _, name = key.partition(".")
    for p in points:
        assert p.profile.to_dict()[section].get(name) == p.axes[key]  # (None: an unpinned cost, derived)
