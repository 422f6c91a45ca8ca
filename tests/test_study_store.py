"""The study store (one SQLite file per study folder): opening and refusing folders, the points' lifecycle (sync,
running, done, failed, pending again), runs and what a killed coordinator leaves behind, and a stateful property
test of random operation sequences against a model of the store.

No simulation runs here: points are small stand-ins with the attributes the store reads.
"""

from __future__ import annotations

import collections
import inspect
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from neurosim.errors import StudyError
from neurosim.experiments.metrics import METRICS
from neurosim.experiments.spec import study_spec_from_dict
from neurosim.experiments.store import STATUSES, STORE_NAME, STORE_SCHEMA, StudyStore

REPO = Path(__file__).resolve().parent.parent
SPEC = {"name": "grid", "kind": "infer", "model": "iris_mlp", "data": "iris", "samples": 10,
        "axes": {"periphery.adc_bits": [4, 6]}}
IDENTITY = study_spec_from_dict(SPEC, source="<test>").identity()


@dataclass(frozen=True)
class FakePoint:
    """What :meth:`StudyStore.sync` reads of a :class:`~neurosim.experiments.points.Point`."""

    key: str
    sim_key: str
    position: int
    axes: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def label(self) -> str:
        return ", ".join([f"{k}={v}" for k, v in self.axes.items() if v is not None] + [f"seed {self.seed}"])


def fake_points(n: int, offset: int = 0) -> list[FakePoint]:
    return [FakePoint(key=f"k{i}", sim_key=f"s{i // 2}", position=i - offset,
                      axes={"trainer": "sgd", "sgd.lr": None if i % 3 else 0.1, "periphery.adc_bits": 4 + i},
                      seed=i % 2) for i in range(offset, offset + n)]


def by_key(store: StudyStore, current_only: bool = True) -> dict[str, Any]:
    return {p.key: p for p in store.points(current_only=current_only)}


@pytest.fixture
def store(tmp_path):
    s = StudyStore.open(tmp_path / "study", IDENTITY)
    yield s
    s.close()


# --------------------------------------------------------------------------------------------------- opening
def test_open_creates_the_folder_and_the_store(tmp_path):
    folder = tmp_path / "a" / "b"
    with StudyStore.open(folder, IDENTITY) as s:
        assert s.path == folder / STORE_NAME and s.path.is_file()
        assert s.meta("schema") == STORE_SCHEMA
        assert s.meta("identity") == json.loads(json.dumps(IDENTITY))
        assert s.points() == [] and s.runs() == []
        assert s.status_counts() == {status: 0 for status in STATUSES}
        assert s.integrity() == "ok"
    assert sorted(os.listdir(folder)) == [STORE_NAME]


def test_reopen_with_the_same_identity_sees_the_same_state(tmp_path):
    folder = tmp_path / "study"
    with StudyStore.open(folder, IDENTITY) as s:
        run = s.begin_run("sweep", "local")
        s.sync(fake_points(3))
        s.finish("k1", run, {"a": [1, 2.5, None]}, {"accuracy": 0.5}, 1.0, "w")
        before = s.points()
    # a spec with more axis values and seeds is the same study
    more = study_spec_from_dict({**SPEC, "seeds": 3, "axes": {"periphery.adc_bits": [4, 6, 8]}}).identity()
    assert more == IDENTITY
    with StudyStore.open(folder, more) as s:
        assert s.points() == before
        assert s.record("k1") == {"a": [1, 2.5, None]}
    with StudyStore.open(folder) as s:  # reading a finished study: no identity needed
        assert s.points() == before


def test_another_study_in_the_folder_is_refused(tmp_path):
    folder = tmp_path / "study"
    with StudyStore.open(folder, IDENTITY) as s:
        s.sync(fake_points(2))
    other = study_spec_from_dict({**SPEC, "samples": 20}).identity()
    with pytest.raises(StudyError) as info:
        StudyStore.open(folder, other)
    msg = str(info.value)
    for fragment in (f"--out {folder}", "holds study 'grid' (infer)", "fixed.samples is 20 here but 10 there",
                     "choose another --out"):
        assert fragment in msg, (fragment, msg)
    renamed = study_spec_from_dict({**SPEC, "name": "grid2"}).identity()
    with pytest.raises(StudyError, match=r"name is \"grid2\" here but \"grid\" there"):
        StudyStore.open(folder, renamed)
    new_axis = study_spec_from_dict({**SPEC, "axes": {**SPEC["axes"], "chip.clock_mhz": [100.0]}}).identity()
    with pytest.raises(StudyError, match=r"axes is .*chip\.clock_mhz.* here but .* there"):
        StudyStore.open(folder, new_axis)
    with StudyStore.open(folder, IDENTITY) as s:  # the refusals changed nothing
        assert s.meta("identity") == json.loads(json.dumps(IDENTITY)) and len(s.points()) == 2


def test_a_folder_with_files_but_no_store_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(StudyError) as info:
        StudyStore.open(folder, IDENTITY)
    msg = str(info.value)
    assert f"--out {folder}" in msg and "holds files but no study" in msg and STORE_NAME in msg
    assert os.listdir(folder) == ["notes.txt"] and (folder / "notes.txt").read_text() == "mine"


def test_out_pointing_at_a_file_is_refused(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n")
    with pytest.raises(StudyError, match=rf"^--out {path}: exists and is not a folder"):
        StudyStore.open(path, IDENTITY)
    assert path.read_text() == "a,b\n"


def test_out_below_a_file_is_refused(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n")
    with pytest.raises(StudyError, match="results.csv"):
        StudyStore.open(path / "study", IDENTITY)


def test_reading_a_folder_without_a_store(tmp_path):
    for folder in (tmp_path / "absent", tmp_path):
        with pytest.raises(StudyError) as info:
            StudyStore.open(folder)
        msg = str(info.value)
        assert msg.startswith(f"{folder}: no study here (no {STORE_NAME})") and "neurosim sweep" in msg
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize("content", [b"this is not a database" * 20, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_file_that_is_not_sqlite_is_refused(tmp_path, content):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / STORE_NAME).write_bytes(content)
    for identity in (IDENTITY, None):
        with pytest.raises(StudyError) as info:
            StudyStore.open(folder, identity)
        assert str(info.value).startswith(f"{folder / STORE_NAME}: "), str(info.value)
    assert (folder / STORE_NAME).read_bytes() == content


def test_a_foreign_sqlite_file_is_not_read_as_a_store(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    with sqlite3.connect(folder / STORE_NAME) as db:
        db.execute("CREATE TABLE mine (x)")
    with pytest.raises(StudyError, match="not a neurosim study store"):
        StudyStore.open(folder)


def test_a_foreign_sqlite_file_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    with sqlite3.connect(folder / STORE_NAME) as db:
        db.execute("CREATE TABLE mine (x)")
    try:
        with pytest.raises(StudyError):
            StudyStore.open(folder, IDENTITY)
    finally:
        db = sqlite3.connect(folder / STORE_NAME)
        tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        db.close()
    assert tables == ["mine"]


def test_a_store_of_another_schema_is_refused(tmp_path):
    folder = tmp_path / "study"
    with StudyStore.open(folder, IDENTITY) as s:
        s.set_meta(schema="neurosim.study/99")
    for identity in (IDENTITY, None):
        with pytest.raises(StudyError, match=r"store schema 'neurosim\.study/99'.*reads 'neurosim\.study/1'"):
            StudyStore.open(folder, identity)


# ------------------------------------------------------------------------------------------------- lifecycle
def test_sync_adds_pending_points_in_order(store):
    points = fake_points(4)
    store.sync(list(reversed(points)))  # order comes from the points' positions
    stored = store.points()
    assert [p.key for p in stored] == ["k0", "k1", "k2", "k3"]
    for p, s in zip(points, stored):
        assert (s.sim_key, s.position, s.axes, s.seed) == (p.sim_key, p.position, p.axes, p.seed)
        assert list(s.axes) == list(p.axes)  # the axes keep their order
        assert s.status == "pending" and s.current and s.error is None and s.run_id is None
        assert s.metrics == {m: None for m in METRICS} and store.record(s.key) is None
    assert store.status_counts() == {"pending": 4, "running": 0, "done": 0, "failed": 0}
    assert store.record("no such key") is None


def test_running_done_failed(store):
    run = store.begin_run("neurosim sweep spec.toml", "local pool (2 workers)")
    assert run == 1 and store.runs()[0]["command"] == "neurosim sweep spec.toml"
    store.sync(fake_points(3))
    store.mark_running("k0", run, "host:1")
    store.mark_running("k1", run)
    p = by_key(store)
    assert p["k0"].status == "running" and p["k0"].run_id == run and p["k0"].worker == "host:1"
    record = {"schema": 2, "nested": {"list": [1, 2.5, None, True, "é"], "empty": {}}, "big": 2**62,
              "tiny": 5e-324}
    metrics = {"accuracy": 0.75, "latency_s": math.inf, "energy_per_inference_j": math.nan,
               "tops_per_w": -math.inf, "tiles": 3, "area_mm2": None, "not_a_metric": 1.0}
    store.finish("k0", run, record, metrics, 2.5, "host:1")
    store.fail("k1", run, "boom: it broke", None, "host:2")
    p = by_key(store)
    assert p["k0"].status == "done" and p["k0"].error is None and p["k0"].wall_s == 2.5
    assert p["k0"].repriced_from is None and p["k0"].worker == "host:1"
    assert p["k0"].metrics["accuracy"] == 0.75 and p["k0"].metrics["tiles"] == 3.0
    for name in ("latency_s", "energy_per_inference_j", "tops_per_w", "area_mm2", "flit_hops"):
        assert p["k0"].metrics[name] is None, name  # non-finite or absent: NULL
    assert "not_a_metric" not in p["k0"].metrics
    assert store.record("k0") == record
    assert p["k1"].status == "failed" and p["k1"].error == "boom: it broke" and p["k1"].wall_s is None
    assert p["k1"].worker == "host:2" and store.record("k1") is None
    assert store.status_counts() == {"pending": 1, "running": 0, "done": 1, "failed": 1}
    # metrics are columns: queryable with SQL
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT accuracy, latency_s FROM points WHERE key = 'k0'").fetchone() == (0.75, None)
    db.close()
    store.mark_running("k2", run, "host:3")
    store.mark_pending(["k2"])
    assert (by_key(store)["k2"].status, by_key(store)["k2"].worker) == ("pending", None)
    assert store.integrity() == "ok"


def test_a_repriced_point(store):
    run = store.begin_run("", "")
    store.sync(fake_points(2))
    store.finish("k0", run, {"r": 0}, {}, 1.0, "w")
    store.finish("k1", run, {"r": 1}, {}, 0.0, "coordinator", repriced_from="k0")
    assert by_key(store)["k1"].repriced_from == "k0" and by_key(store)["k0"].repriced_from is None
    store.end_run(run, "finished")
    assert store.runs()[0] | {"started": 0, "finished": 0} == {
        "run_id": run, "started": 0, "finished": 0, "command": "", "engine": "", "outcome": "finished",
        "computed": 1, "repriced": 1, "failed": 0}


#: re-priced points stored as a patch of their source's record, and batched transactions (newer store API)
HAS_PATCH = "source" in inspect.signature(StudyStore.finish).parameters
HAS_BATCH = hasattr(StudyStore, "batch")


@pytest.mark.skipif(not HAS_PATCH, reason="this store keeps every record whole")
def test_a_repriced_record_is_rebuilt_from_its_source(store):
    run = store.begin_run("", "")
    store.sync(fake_points(3))
    source = {"schema": 2, "profile": {"name": "a", "values": [1.0, 2.0]}, "counts": list(range(50)), "x": None}
    repriced = {**source, "profile": {"name": "b", "values": [1.0, 3.0]}}
    store.finish("k0", run, source, {}, 1.0, "w")
    store.finish("k1", run, repriced, {}, 0.0, "coordinator", repriced_from="k0", source=source)
    assert store.record("k1") == repriced and store.record("k0") == source
    db = sqlite3.connect(store.path)
    whole, patch = db.execute("SELECT record, record_patch FROM points WHERE key = 'k1'").fetchone()
    db.close()
    assert whole is None and json.loads(patch) == {"profile": repriced["profile"]}  # the counts are not kept twice
    fewer = {k: v for k, v in repriced.items() if k != "x"}  # a key of the source missing: kept whole
    store.finish("k2", run, fewer, {}, 0.0, "coordinator", repriced_from="k0", source=source)
    assert store.record("k2") == fewer
    store.close()
    with StudyStore.open(store.path.parent) as again:
        assert again.record("k1") == repriced and again.record("k2") == fewer


@pytest.mark.skipif(not HAS_PATCH, reason="this store keeps every record whole")
def test_a_repriced_record_keeps_a_none_key_the_source_lacks(store):
    run = store.begin_run("", "")
    store.sync(fake_points(2))
    source = {"profile": "a", "counts": [1, 2, 3]}
    repriced = {"profile": "b", "counts": [1, 2, 3], "power_w": None}
    store.finish("k0", run, source, {}, 1.0, "w")
    store.finish("k1", run, repriced, {}, 0.0, "coordinator", repriced_from="k0", source=source)
    assert store.record("k1") == repriced


@pytest.mark.skipif(not HAS_BATCH, reason="this store has no batch()")
def test_a_batch_commits_together_or_not_at_all(store):
    run = store.begin_run("", "")
    store.sync(fake_points(3))
    with pytest.raises(RuntimeError):
        with store.batch():
            store.finish("k0", run, {"r": 0}, {}, 1.0, "w")
            with store.batch():  # nested: joins the outer one
                store.fail("k1", run, "x", None, "w")
            raise RuntimeError("coordinator stops")
    assert {p.key: p.status for p in store.points()} == {"k0": "pending", "k1": "pending", "k2": "pending"}
    with store.batch():
        store.finish("k0", run, {"r": 0}, {}, 1.0, "w")
        store.fail("k1", run, "x", None, "w")
    store.close()
    with StudyStore.open(store.path.parent) as again:
        assert {p.key: p.status for p in again.points()} == {"k0": "done", "k1": "failed", "k2": "pending"}
        assert again.record("k0") == {"r": 0} and again.integrity() == "ok"


def test_begin_run_recovers_from_a_killed_run(tmp_path):
    folder = tmp_path / "study"
    s = StudyStore.open(folder, IDENTITY)
    first = s.begin_run("sweep", "local")
    s.sync(fake_points(5))
    for key in ("k0", "k1", "k2", "k3"):
        s.mark_running(key, first, "host:7")
    s.finish("k1", first, {"r": 1}, {"accuracy": 1.0}, 1.0, "host:7")
    s.finish("k4", first, {"r": 4}, {"accuracy": 0.5}, 0.0, "coordinator", repriced_from="k1")
    s.fail("k2", first, "bad", 1.0, "host:7")
    s.close()  # as if the coordinator died: no end_run
    s = StudyStore.open(folder, IDENTITY)
    assert by_key(s)["k0"].status == "running"  # until the next run starts
    second = s.begin_run("sweep", "local")
    assert second == first + 1
    p = by_key(s)
    assert {k: v.status for k, v in p.items()} == {"k0": "pending", "k1": "done", "k2": "failed", "k3": "pending",
                                                   "k4": "done"}
    assert p["k0"].worker is None and p["k1"].worker == "host:7"
    runs = s.runs()
    assert [(r["run_id"], r["outcome"]) for r in runs] == [(first, "killed"), (second, None)]
    assert (runs[0]["computed"], runs[0]["repriced"], runs[0]["failed"], runs[0]["finished"]) == (1, 1, 1, None)
    assert s.record("k1") == {"r": 1} and s.integrity() == "ok"
    s.close()


KILLED_COORDINATOR = """
import os, signal, sys
from types import SimpleNamespace
from neurosim.experiments.store import StudyStore
identity = {identity!r}
s = StudyStore.open(sys.argv[1], identity)
run = s.begin_run("sweep", "local")
s.sync([SimpleNamespace(key=f"k{{i}}", sim_key="s", position=i, axes={{"x": i}}, seed=0, label=lambda: "p")
        for i in range(3)])
s.mark_running("k0", run, "w")
s.mark_running("k1", run, "w")
s.finish("k1", run, {{"ok": True}}, {{"accuracy": 0.5}}, 1.0, "w")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_sigkilled_coordinator_leaves_an_intact_store(tmp_path):
    folder = tmp_path / "study"
    script = KILLED_COORDINATOR.format(identity=IDENTITY)
    proc = subprocess.run([sys.executable, "-c", script, str(folder)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr
    with StudyStore.open(folder, IDENTITY) as s:
        assert s.integrity() == "ok"
        assert {p.key: p.status for p in s.points()} == {"k0": "running", "k1": "done", "k2": "pending"}
        run = s.begin_run("sweep", "local")
        assert {p.key: p.status for p in s.points()} == {"k0": "pending", "k1": "done", "k2": "pending"}
        assert s.record("k1") == {"ok": True} and by_key(s)["k1"].metrics["accuracy"] == 0.5
        assert [(r["outcome"], r["computed"]) for r in s.runs()] == [("killed", 1), (None, 0)] and run == 2


def test_end_run_counts_and_resets_its_running_points(store):
    run = store.begin_run("sweep", "local")
    store.sync(fake_points(5))
    store.mark_running("k0", run)
    store.finish("k0", run, {}, {}, 1.0, "w")
    store.mark_running("k1", run)
    store.fail("k1", run, "x", 1.0, "w")
    store.mark_running("k2", run)
    store.mark_running("k3", run + 41)  # running for another run: not this run's to reset
    store.end_run(run, "interrupted")
    p = by_key(store)
    assert (p["k2"].status, p["k3"].status, p["k0"].status, p["k1"].status) == ("pending", "running", "done",
                                                                                  "failed")
    r = store.runs()[0]
    assert (r["outcome"], r["computed"], r["repriced"], r["failed"]) == ("interrupted", 1, 0, 1)
    assert r["finished"] is not None and r["finished"] >= r["started"]


def test_retry_failed_resets_current_failed_points_only(store):
    run = store.begin_run("", "")
    store.sync(fake_points(4))
    for key in ("k0", "k1", "k2"):
        store.fail(key, run, f"error of {key}", 0.1, "w")
    store.finish("k3", run, {"r": 3}, {}, 0.1, "w")
    store.sync(fake_points(4)[1:])  # k0 is no longer current
    assert store.retry_failed() == 2
    p = by_key(store, current_only=False)
    assert (p["k1"].status, p["k1"].error) == ("pending", None)
    assert (p["k2"].status, p["k2"].error) == ("pending", None)
    assert (p["k0"].status, p["k0"].error, p["k0"].current) == ("failed", "error of k0", False)
    assert p["k3"].status == "done"
    assert store.retry_failed() == 0


def test_sync_of_fewer_points_keeps_the_others_results(store):
    run = store.begin_run("", "")
    points = fake_points(4)
    store.sync(points)
    for p in points:
        store.finish(p.key, run, {"key": p.key}, {"accuracy": p.position / 10}, 1.0, "w")
    store.sync([points[3], points[1]])
    assert [p.key for p in store.points()] == ["k1", "k3"]
    everything = store.points(current_only=False)
    assert [(p.key, p.current) for p in everything] == [("k1", True), ("k3", True), ("k0", False), ("k2", False)]
    assert store.status_counts() == {"pending": 0, "running": 0, "done": 2, "failed": 0}
    assert all(p.status == "done" and store.record(p.key) == {"key": p.key} for p in everything)
    # a later spec with the points again: they are current again, with their results
    moved = [FakePoint(p.key, p.sim_key, 10 - p.position, p.axes, p.seed) for p in points] + fake_points(1, offset=4)
    store.sync(moved)
    stored = store.points()
    assert [p.key for p in stored] == ["k4", "k3", "k2", "k1", "k0"]  # new positions: 0, 7, 8, 9, 10
    assert [p.status for p in stored] == ["pending"] + ["done"] * 4
    assert by_key(store)["k2"].metrics["accuracy"] == 0.2
    assert store.integrity() == "ok"


def test_operations_on_unknown_keys_change_nothing(store):
    store.sync(fake_points(2))
    before = store.points(current_only=False)
    store.mark_running("zz", 1)
    store.finish("zz", 1, {}, {}, 1.0, None)
    store.fail("zz", 1, "x", None, None)
    store.mark_pending(["zz"])
    assert store.points(current_only=False) == before and store.record("zz") is None


# ----------------------------------------------------------------------------------------- stateful property
POOL = fake_points(6)
metric_values = st.one_of(st.none(), st.floats(), st.integers(-10**6, 10**6))
full_metrics = st.fixed_dictionaries({m: metric_values for m in METRICS})
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))
records = st.dictionaries(st.text(max_size=5), st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                                                            | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                                                            max_leaves=8), max_size=4)
keys = st.sampled_from([p.key for p in POOL])


def _stored_metric(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


class StoreMachine(RuleBasedStateMachine):
    """Random operation sequences on a store, checked against a plain model of what the store promises."""

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="study_store_")
        self.folder = Path(self.dir) / "study"
        self.store = StudyStore.open(self.folder, IDENTITY)
        self.rows: dict[str, dict[str, Any]] = {}  # key -> model of the row
        self.runs: dict[int, dict[str, Any]] = {}  # run_id -> outcome and counts
        self.last_run: int | None = None

    def teardown(self):
        try:
            assert self.store.integrity() == "ok"
        finally:
            self.store.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------------------------------- model helpers
    def _counts(self, run_id: int) -> tuple[int, int, int]:
        rows = [r for r in self.rows.values() if r["run_id"] == run_id]
        return (sum(r["status"] == "done" and r["repriced_from"] is None for r in rows),
                sum(r["status"] == "done" and r["repriced_from"] is not None for r in rows),
                sum(r["status"] == "failed" for r in rows))

    def _done(self) -> set[str]:
        return {k for k, r in self.rows.items() if r["status"] == "done"}

    # ------------------------------------------------------------------------------------------------ rules
    @rule(picked=st.lists(st.sampled_from(POOL), unique_by=lambda p: p.key, max_size=len(POOL)))
    def sync(self, picked):
        done = self._done()
        points = [FakePoint(p.key, p.sim_key, i, p.axes, p.seed) for i, p in enumerate(picked)]
        self.store.sync(points)
        for row in self.rows.values():
            row["current"] = False
        for p in points:
            row = self.rows.setdefault(p.key, {"status": "pending", "run_id": None, "worker": None, "error": None,
                                               "record": None, "metrics": {m: None for m in METRICS},
                                               "repriced_from": None, "wall_s": None, "seed": p.seed,
                                               "sim_key": p.sim_key})
            row.update(current=True, position=p.position, axes=p.axes)
        assert self._done() == done  # syncing never changes a status

    @rule(command=st.text(max_size=8))
    def begin_run(self, command):
        done = self._done()
        run_id = self.store.begin_run(command, "engine")
        for row in self.rows.values():
            if row["status"] == "running":
                row.update(status="pending", worker=None)
        for rid, run in self.runs.items():
            if run["outcome"] is None:
                run.update(outcome="killed", counts=self._counts(rid), finished=False)
        assert run_id == max(self.runs, default=0) + 1
        self.runs[run_id] = {"outcome": None, "counts": (0, 0, 0), "finished": False}
        self.last_run = run_id
        assert self._done() == done

    @precondition(lambda self: self.last_run is not None and self.runs[self.last_run]["outcome"] is None)
    @rule(outcome=st.sampled_from(["finished", "interrupted"]))
    def end_run(self, outcome):
        done = self._done()
        self.store.end_run(self.last_run, outcome)
        for row in self.rows.values():
            if row["status"] == "running" and row["run_id"] == self.last_run:
                row.update(status="pending", worker=None)
        self.runs[self.last_run].update(outcome=outcome, counts=self._counts(self.last_run), finished=True)
        assert self._done() == done

    @precondition(lambda self: self.last_run is not None)
    @rule(key=keys, worker=st.sampled_from([None, "host:1", "host:2"]))
    def mark_running(self, key, worker):
        self.store.mark_running(key, self.last_run, worker)
        if key in self.rows:
            self.rows[key].update(status="running", run_id=self.last_run, worker=worker)

    @precondition(lambda self: self.last_run is not None)
    @rule(key=keys, record=records, metrics=full_metrics, wall=st.floats(0, 1e6),
          source=st.sampled_from([None, "k0", "k5"]))
    def finish(self, key, record, metrics, wall, source):
        self.store.finish(key, self.last_run, record, metrics, wall, "w", repriced_from=source)
        if key in self.rows:
            self.rows[key].update(status="done", error=None, run_id=self.last_run, worker="w", wall_s=wall,
                                  repriced_from=source, record=json.loads(json.dumps(record)),
                                  metrics={m: _stored_metric(v) for m, v in metrics.items()})

    @precondition(lambda self: self.last_run is not None)
    @rule(key=keys, error=st.text(max_size=10), wall=st.none() | st.floats(0, 10))
    def fail(self, key, error, wall):
        self.store.fail(key, self.last_run, error, wall, "w")
        if key in self.rows:
            self.rows[key].update(status="failed", error=error, run_id=self.last_run, worker="w", wall_s=wall)

    @rule(picked=st.lists(keys, max_size=3))
    def mark_pending(self, picked):
        self.store.mark_pending(picked)
        for key in picked:
            if key in self.rows:
                self.rows[key].update(status="pending", worker=None)

    @rule()
    def retry_failed(self):
        done = self._done()
        expected = [r for r in self.rows.values() if r["status"] == "failed" and r["current"]]
        assert self.store.retry_failed() == len(expected)
        for row in expected:
            row.update(status="pending", error=None)
        assert self._done() == done

    @rule()
    def reopen(self):
        self.store.close()  # closing without end_run is what a killed coordinator leaves
        self.store = StudyStore.open(self.folder, IDENTITY)

    # ------------------------------------------------------------------------------------------- invariants
    @invariant()
    def store_matches_the_model(self):
        everything = self.store.points(current_only=False)
        current = self.store.points()
        assert [p.key for p in current] == [p.key for p in everything if p.current]
        assert [p.position for p in current] == sorted(p.position for p in current)
        assert {p.key for p in current} == {k for k, r in self.rows.items() if r["current"]}
        assert {p.key for p in everything} == set(self.rows)
        for p in everything:
            row = self.rows[p.key]
            assert p.status in STATUSES
            assert (p.status, p.current, p.run_id, p.worker, p.repriced_from) == (
                row["status"], row["current"], row["run_id"], row["worker"], row["repriced_from"]), p.key
            assert (p.sim_key, p.seed, p.axes) == (row["sim_key"], row["seed"], row["axes"])
            if p.current:
                assert p.position == row["position"]
            if p.status == "done":
                assert p.error is None and p.metrics == row["metrics"] and p.wall_s == row["wall_s"]
                assert self.store.record(p.key) == row["record"]
            if p.status == "failed":
                assert p.error == row["error"]
            if row["record"] is None:
                assert self.store.record(p.key) is None
        counts = self.store.status_counts()
        assert set(counts) == set(STATUSES)
        assert sum(counts.values()) == len(current)
        assert counts == {s: 0 for s in STATUSES} | dict(collections.Counter(p.status for p in current))
        runs = self.store.runs()
        assert [r["run_id"] for r in runs] == sorted(self.runs)
        for r in runs:
            model = self.runs[r["run_id"]]
            assert r["outcome"] == model["outcome"]
            assert (r["computed"], r["repriced"], r["failed"]) == model["counts"]
            assert (r["finished"] is not None) == model["finished"]


StoreMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None, database=None,
                                          derandomize=True, suppress_health_check=[HealthCheck.too_slow])
test_store_operation_sequences = StoreMachine.TestCase
