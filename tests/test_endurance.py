"""Endurance management: wear levelling (row maps moved through the one door), write budgets, run to failure and
the endurance-aware trainers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim
from neurosim.chip import Chip, WriteRequest
from neurosim.data import load_dataset
from neurosim.data.streams import Scenario, online_scenario
from neurosim.errors import ProfileError, WriteRequestError
from neurosim.nn.spec import model_from_spec
from neurosim.training import TRAINERS, TrainingError, adapt, make_trainer, train
from neurosim.training.endurance import LifeTracker, UsefulLife

POLICIES = ("none", "rotate", "hot_cold")


def _profile(policy: str, base: str = "ideal", period: int = 1, **extra) -> neurosim.Profile:
    changes = {"write_policy.wear_levelling": policy, "write_policy.levelling_period": period,
               "write_policy.spare_rows_fraction": 0.0 if policy == "none" else 0.25,
               "crossbar.rows": 16, "crossbar.cols": 16, **extra}
    return neurosim.load_profile(base).replace(changes)


def _model(seed: int = 0):
    return model_from_spec("20-12-4", (20,), 4, seed=seed)


def _churn(chip: Chip, steps: int, seed: int, hot_rows: int = 6) -> None:
    """Random code changes concentrated on the first ``hot_rows`` inputs of layer 1 (hot rows)."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        codes = chip.stored_codes(1).copy()
        i = rng.integers(0, hot_rows, 8)
        j = rng.integers(0, codes.shape[1], 8)
        codes[i, j] = rng.integers(-1, 2, 8)
        chip.apply(WriteRequest(codes={1: codes}))


# ----------------------------------------------------------------------------------------------------- profiles
def test_levelling_needs_a_spare_row():
    with pytest.raises(ProfileError, match="spare_rows_fraction"):
        neurosim.load_profile("ideal").replace({"write_policy.wear_levelling": "rotate"})


def test_spare_rows_cost_tiles_and_are_never_mapped():
    base = Chip(_profile("none"), _model())
    spared = Chip(_profile("rotate"), _model())
    assert spared.mapping.tilings[0].rows_per_tile == 12  # 16 rows less ceil(0.25 x 16)
    assert spared.mapping.n_tiles >= base.mapping.n_tiles
    for lt in spared.mapping.tilings:
        rows = (lt.cell_index % (16 * 16)) // 16
        assert rows.max() < 12


def test_shipped_profiles_do_not_level():
    names = neurosim.profiles.list_profiles()
    assert names
    for name in names:
        assert neurosim.load_profile(name).write_policy.wear_levelling == "none"


# ----------------------------------------------------------------------------------------------------- remaps
@pytest.mark.parametrize("policy", ["rotate", "hot_cold"])
def test_remap_preserves_every_weight_and_is_counted(policy):
    chip = Chip(_profile(policy), _model())
    x = np.random.default_rng(1).random((50, 20))
    _churn(chip, 40, seed=2)
    codes = {i: chip.stored_codes(i) for i in chip.analog_layers()}
    logits = chip.forward(x, count=False)
    writes_before, levelled_before = chip.ledger.writes_total, chip.wear.writes
    moved_before = chip.wear.rows_moved
    # requests of the codes already held: every write from here on is a levelling move's
    for _ in range(20):
        chip.apply(WriteRequest(codes={1: chip.stored_codes(1)}))
    assert chip.wear.rows_moved > moved_before
    for i, c in codes.items():
        np.testing.assert_array_equal(chip.stored_codes(i), c)
    np.testing.assert_array_equal(chip.forward(x, count=False), logits)  # reads after remaps equal reads before
    # the moves' writes are in the chip's ledger (the one door) and in the levelling's own account
    assert chip.ledger.writes_total - writes_before == chip.wear.writes - levelled_before > 0
    assert chip.wear.ledger.writes_total == chip.wear.writes


def test_moves_are_the_only_extra_writes():
    """A chip with levelling writes what a chip without writes, plus exactly the writes of its moves."""
    plain = Chip(_profile("none", **{"write_policy.spare_rows_fraction": 0.25}), _model())
    lev = Chip(_profile("rotate"), _model())
    _churn(plain, 30, seed=3)
    _churn(lev, 30, seed=3)
    request_writes = plain.ledger.writes_total
    assert lev.ledger.writes_total == request_writes + lev.wear.writes
    assert lev.wear.writes > 0


@pytest.mark.parametrize("policy", ["rotate", "hot_cold"])
def test_map_is_a_permutation_within_tiles(policy):
    chip = Chip(_profile(policy), _model())
    _churn(chip, 60, seed=4)
    l2p, p2l = chip.wear.l2p, chip.wear.p2l
    np.testing.assert_array_equal(np.sort(l2p), np.arange(chip.memory.n_cells))
    np.testing.assert_array_equal(p2l[l2p], np.arange(chip.memory.n_cells))
    tile = 16 * 16
    np.testing.assert_array_equal(l2p // tile, np.arange(chip.memory.n_cells) // tile)  # rows stay in their tile


def test_rotation_visits_rows_and_levels_hot_rows():
    """Hot rows written under rotation spread their wear: the worst cell takes fewer writes than without."""
    worst = {}
    for policy in ("none", "rotate", "hot_cold"):
        profile = _profile(policy, period=4, **{"write_policy.spare_rows_fraction": 0.25})
        chip = Chip(profile, _model())
        start = chip.memory.write_counts.copy()
        _churn(chip, 400, seed=5, hot_rows=2)
        worst[policy] = int((chip.memory.write_counts - start).max())
    assert worst["rotate"] < worst["none"]
    assert worst["hot_cold"] < worst["none"]


def test_levelling_on_a_noisy_profile_keeps_codes():
    chip = Chip(_profile("hot_cold", base="rram_hfo2", **{"device.stuck_at_low_rate": 0.0,
                                                          "device.stuck_at_high_rate": 0.0}), _model())
    _churn(chip, 50, seed=6)
    codes = chip.stored_codes(1)
    for _ in range(10):
        chip.apply(WriteRequest(codes={1: codes}))
    np.testing.assert_array_equal(chip.stored_codes(1), codes)


# ----------------------------------------------------------------------------------------------------- budgets
@settings(max_examples=15, deadline=None)
@given(budget=st.integers(1, 6), policy=st.sampled_from(POLICIES), seed=st.integers(0, 2 ** 16),
       mode=st.sampled_from(["skip_unchanged", "always"]))
def test_budgets_are_never_exceeded(budget, policy, seed, mode):
    chip = Chip(_profile(policy, **{"write_policy.mode": mode}), _model())
    chip.set_write_budget(budget)
    start = chip.memory.write_counts.copy()
    _churn(chip, 40, seed=seed)
    used = chip.memory.write_counts - start
    assert used.max() <= budget
    if policy == "none" and budget <= 2:  # hot rows under a small budget: some requests must have been refused
        assert chip.refused_writes > 0


def test_budget_refusals_are_counted_and_leave_the_level():
    chip = Chip(_profile("none"), _model())
    chip.set_write_budget(1)
    codes = chip.stored_codes(1)
    flipped = codes.copy()
    flipped[0, 0] = 1 if codes[0, 0] != 1 else -1
    chip.apply(WriteRequest(codes={1: flipped}))
    assert chip.refused_writes == 0
    chip.apply(WriteRequest(codes={1: codes}))  # back: its cells have used their one write
    assert chip.refused_writes > 0
    np.testing.assert_array_equal(chip.stored_codes(1), flipped)


def test_budget_with_a_cell_named_twice():
    chip = Chip(_profile("none"), _model())
    chip.set_write_budget(1)
    request = WriteRequest(updates={1: (np.array([0, 0]), np.array([1, -1]))})
    start = chip.memory.write_counts.copy()
    chip.apply(request)
    assert (chip.memory.write_counts - start).max() <= 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_bad_budget_is_named(bad):
    chip = Chip(_profile("none"), _model())
    with pytest.raises(WriteRequestError, match="write budget"):
        chip.set_write_budget(bad)


def test_remaining_writes_seen_by_trainers():
    chip = Chip(_profile("rotate"), _model())
    from neurosim.training.base import TrainingView
    view = TrainingView(chip)
    limit = view.write_limit
    assert limit == int(chip.profile.device.endurance_cycles)
    chip.set_write_budget(3)
    view = TrainingView(chip)
    assert view.write_limit == 3
    left = view.remaining_writes(1)
    assert left.shape == (20, 12) and left.max() == 3
    _churn(chip, 20, seed=7)
    assert view.remaining_writes(1).min() < 3


# --------------------------------------------------------------------------------------------- conformance
@pytest.mark.parametrize("policy", ["rotate", "hot_cold"])
@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_every_trainer_runs_under_every_policy(trainer, policy):
    data = load_dataset("iris", seed=0)
    model = model_from_spec("4-16-3", data.input_shape, data.n_classes, seed=0)
    profile = _profile(policy, period=2)
    chip = Chip(profile, model, seed=0)
    chip.set_write_budget(50)
    record = train(chip, make_trainer(trainer), data, epochs=2, batch_size=16, seed=0, eval_train_samples=50)
    assert record.memory["wear_levelling"]["policy"] == policy
    assert record.memory["write_budget"] == 50
    assert 0 <= record.final.test_accuracy <= 1
    held = {i: chip.stored_codes(i) for i in chip.analog_layers()}
    for i, c in held.items():  # what the trainer's view sees is what the chip computes with
        np.testing.assert_array_equal(TrainingViewCodes(chip, i), c)


def TrainingViewCodes(chip, index):
    from neurosim.training.base import TrainingView
    return TrainingView(chip).codes(index)


@pytest.mark.parametrize("trainer", ["coordinate", "bitflip"])
def test_wear_aware_trainers_never_propose_exhausted_weights(trainer):
    data = load_dataset("iris", seed=0)
    model = model_from_spec("4-16-3", data.input_shape, data.n_classes, seed=0)
    chip = Chip("ideal", model, seed=0)
    chip.set_write_budget(1)
    record = train(chip, make_trainer(trainer, wear_weight=1), data, epochs=3, batch_size=16, seed=0,
                   eval_train_samples=50)
    assert record.memory["refused_writes"] == 0  # exhausted weights were never asked for
    plain = Chip("ideal", model, seed=0)
    plain.set_write_budget(1)
    rec_plain = train(plain, make_trainer(trainer), data, epochs=3, batch_size=16, seed=0, eval_train_samples=50)
    assert rec_plain.memory["refused_writes"] > 0


# --------------------------------------------------------------------------------------------- run to failure
def test_life_tracker_rules():
    t = LifeTracker(UsefulLife(drop=0.05, endurance_scale=0.01, smoothing=2), n_cells=1000)
    assert not t.after_step(10, 0)
    assert not t.after_step(20, 1)
    assert t.first_failure == 20
    for s, a in ((100, 0.9), (200, 0.92), (300, 0.86), (400, 0.9), (500, 0.84)):
        assert not t.evaluated(s, a, 1, 0)  # means 0.91 (best), 0.89, 0.88, 0.87: not below 0.86
    assert t.evaluated(600, 0.85, 2, 0)  # mean 0.845 < 0.86
    assert t.end_of_life == 600
    t.after_step(700, 10)
    assert t.one_percent == 700
    out = t.summary(700)
    assert out["samples_to"]["end_of_life"] == pytest.approx(600 / 0.01)
    assert out["samples_to"]["first_failure"] == pytest.approx(20 / 0.01)
    assert out["threshold"] == pytest.approx(0.86)
    assert out["accuracy_over_life"] == pytest.approx(np.mean([0.9, 0.92, 0.86, 0.9, 0.84, 0.85]))


def test_absolute_threshold():
    t = LifeTracker(UsefulLife(min_accuracy=0.8, smoothing=1), n_cells=10)
    assert not t.evaluated(1, 0.85, 0, 0)
    assert t.evaluated(2, 0.79, 0, 0)


def test_failed_fraction_stops():
    t = LifeTracker(UsefulLife(failed_fraction=0.1), n_cells=100)
    assert not t.after_step(5, 9)
    assert t.after_step(6, 10)


@pytest.mark.parametrize("bad", [{"drop": -0.1}, {"window": 0}, {"endurance_scale": 0}, {"endurance_scale": 2},
                                 {"min_accuracy": 1.5}, {"failed_fraction": 0}, {"smoothing": 0}])
def test_bad_rules_are_named(bad):
    with pytest.raises(TrainingError, match=next(iter(bad))):
        UsefulLife(**bad)


@pytest.fixture(scope="module")
def online():
    return online_scenario(load_dataset("digits", seed=0), Scenario(shift="rotate", seed=0))


def test_continual_stream_runs_to_the_end_of_useful_life(online):
    model = model_from_spec("64-16-10", (64,), 10, seed=0)
    from neurosim.nn.host_training import train_on_host
    from neurosim.nn.spec import architecture_from_spec
    model = train_on_host(architecture_from_spec("64-16-10"), online.pretrain.x_train, online.pretrain.y_train,
                          name="host", input_shape=(64,), n_classes=10, weight_bits=2, epochs=5, seed=0)
    profile = neurosim.load_profile("rram_hfo2").replace({"device.endurance_cycles": 3.0})
    chip = Chip(profile, model, seed=0)
    record = adapt(chip, make_trainer("sgd"), online, seed=0, stream=20_000,
                   until=UsefulLife(endurance_scale=3e-6, evaluations=20, window=200, failed_fraction=0.2))
    st_ = record.lifetime["stream"]
    sim = st_["simulated_samples_to"]
    assert sim["first_failure"] is not None and sim["first_failure"] <= st_["samples_run"]
    assert st_["samples_run"] <= 20_000
    assert st_["samples_to"]["first_failure"] == pytest.approx(sim["first_failure"] / 3e-6)
    assert st_["timeline"] and all(0 <= p["window_accuracy"] <= 1 for p in st_["timeline"])
    # stopped by a rule or ran the whole stream
    stopped = sim["end_of_life"] is not None or sim["failed_fraction_stop"] is not None
    assert stopped or st_["samples_run"] == 20_000


def test_stream_needs_positive_count(online):
    chip = Chip("ideal", model_from_spec("64-16-10", (64,), 10, seed=0))
    with pytest.raises(TrainingError, match="stream"):
        adapt(chip, make_trainer("sgd"), online, stream=0)
    with pytest.raises(TrainingError, match="continual stream"):
        adapt(chip, make_trainer("sgd"), online, until=UsefulLife())


# --------------------------------------------------------------------------------------------- sgd's writes
def _digits_run(params: dict, budget: int | None = None) -> tuple[int, float, int]:
    data = load_dataset("digits", seed=0)
    model = model_from_spec("64-32-10", data.input_shape, data.n_classes, seed=0)
    chip = Chip("ideal", model, seed=0)
    chip.set_write_budget(budget)
    record = train(chip, make_trainer("sgd", **params), data, epochs=3, batch_size=32, seed=0,
                   eval_train_samples=100)
    return record.memory["writes_total"], record.final.test_accuracy, record.memory["refused_writes"]


def test_sgd_hysteresis_cuts_writes():
    plain, acc_plain, _ = _digits_run({})
    damped, acc_damped, _ = _digits_run({"hysteresis": 0.2})
    assert damped < 0.8 * plain
    assert acc_damped > 0.5 and acc_plain > 0.5


def test_sgd_hysteresis_zero_is_plain_rounding():
    assert _digits_run({}) == _digits_run({"hysteresis": 0.0})


def test_sgd_wear_weight_freezes_exhausted_weights():
    _, _, refused_plain = _digits_run({}, budget=1)
    _, _, refused_aware = _digits_run({"wear_weight": 1.0}, budget=1)
    assert refused_plain > 0
    assert refused_aware < refused_plain / 10  # it stops asking for what the chip cannot write


def test_a_profile_without_the_new_keys_gets_a_migration_hint(tmp_path):
    text = neurosim.load_profile("rram_hfo2").to_toml()
    old = "\n".join(line for line in text.splitlines()
                    if not line.startswith(("wear_levelling", "levelling_period", "spare_rows_fraction")))
    path = tmp_path / "old.toml"
    path.write_text(old)
    with pytest.raises(ProfileError, match="new in neurosim 0.5") as exc:
        neurosim.load_profile(str(path))
    assert "write_policy.wear_levelling" in str(exc.value)


@pytest.mark.parametrize("key, value, needle", [
    ("write_policy.wear_levelling", "shuffle", "one of"),
    ("write_policy.levelling_period", 0, "integer in [1"),
    ("write_policy.spare_rows_fraction", 0.9, "0.5"),
])
def test_bad_levelling_keys_are_named(key, value, needle):
    with pytest.raises(ProfileError, match=key.replace(".", r"\.")) as exc:
        neurosim.load_profile("ideal").replace({key: value})
    assert needle in str(exc.value)


def test_study_spec_takes_the_endurance_settings(tmp_path):
    from neurosim.experiments.points import expand
    from neurosim.experiments.spec import load_study_spec
    path = tmp_path / "life.toml"
    path.write_text('name = "life"\nkind = "adapt"\ntrainers = ["sgd"]\nmodel = "64-16-10"\n'
                    'stream = 5000\nendurance_scale = 1e-5\nwrite_budget = 3\nmin_accuracy = 0.5\n'
                    '[axes]\n"write_policy.wear_levelling" = ["none", "rotate"]\n'
                    '[set]\n"write_policy.spare_rows_fraction" = 0.0625\n')
    spec = load_study_spec(str(path))
    points = expand(spec)
    assert len(points) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nkind = "train"\ntrainers = ["sgd"]\nstream = 5000\n')
    from neurosim.errors import StudyError
    with pytest.raises(StudyError, match="stream"):
        load_study_spec(str(bad))
