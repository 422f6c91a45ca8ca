"""The study store: one SQLite database in the study's folder, written only by the coordinating process.

Tables:

- ``meta``: the study's identity (name, kind, the spec minus its axes' values) and its latest spec;
- ``points``: one row per point ever run in this folder, keyed by the point's content key: its axes' values and
  seed, its status (``pending``, ``running``, ``done``, ``failed`` with the error), the headline metrics as
  columns (see :mod:`neurosim.experiments.metrics`), which run computed it, and its whole record as JSON; points
  of the latest spec are marked ``current``;
- ``runs``: one row per invocation (started, finished, outcome), so a resumed study shows what each run did.

Durability: every change is one transaction (SQLite's rollback journal, ``synchronous=FULL``), so a coordinator
killed at any moment (SIGKILL included) leaves the store intact and loses at most the points that were running;
those are found marked ``running`` by the next run and set back to ``pending``.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import StudyError
from .metrics import METRICS

STORE_NAME = "study.sqlite"
STORE_SCHEMA = "neurosim.study/1"
STATUSES = ("pending", "running", "done", "failed")
_METRIC_COLUMNS = ", ".join(f"{name} REAL" for name in METRICS)


@dataclass(frozen=True)
class StoredPoint:
    """A row of the ``points`` table."""

    key: str
    sim_key: str
    position: int
    axes: dict[str, Any]
    seed: int
    status: str
    error: str | None
    run_id: int | None
    worker: str | None
    wall_s: float | None
    repriced_from: str | None
    metrics: dict[str, float | None]
    current: bool

    def record(self, store: StudyStore) -> dict[str, Any] | None:
        """The point's whole record (read on demand: records are large)."""
        return store.record(self.key)


class StudyStore:
    """The SQLite store of one study folder (see the module docstring).

    Use :meth:`open` (creates the folder and store, or checks that an existing one holds the same study).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection):
        self.path = path
        self._db = connection
        self._batched = False

    # ---------------------------------------------------------------------------------------------- opening
    @classmethod
    def open(cls, folder: str | Path, identity: dict[str, Any] | None = None) -> StudyStore:
        """Open the store of ``folder``.

        Parameters
        ----------
        identity : dict, optional
            The study's identity (:meth:`StudySpec.identity`). Given: the folder is created if needed, and an
            existing store must hold the same study. None: the store must exist (reading a finished study).

        Raises
        ------
        StudyError
            When the folder holds another study (naming the first setting that differs), holds files but no
            store, or the file is not a study store.
        """
        folder = Path(folder)
        path = folder / STORE_NAME
        try:
            folder.exists() and path.exists()
        except OSError as exc:  # e.g. a name too long for the file system
            raise StudyError(f"{folder}: cannot be used as a study folder ({exc.strerror or exc})") from None
        if identity is None:
            if not path.is_file():
                raise StudyError(f"{folder}: no study here (no {STORE_NAME}); run `neurosim sweep SPEC.toml --out "
                                 f"{folder}` first")
            return cls(path, _connect(path)).check()
        if folder.exists() and not folder.is_dir():
            raise StudyError(f"--out {folder}: exists and is not a folder")
        if not path.exists() and folder.is_dir() and any(folder.iterdir()):
            raise StudyError(f"--out {folder}: holds files but no study ({STORE_NAME}); choose an empty or new "
                             "folder, so that nothing of yours is mixed with or overwritten by the study's files")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyError(f"--out {folder}: cannot create the study folder ({exc.strerror or exc})") from None
        existed = path.exists()
        store = cls(path, _connect(path))
        if existed:
            store.check()  # a file of the name that is not a study store is refused, never written into
        store._create(identity)
        return store.check()

    def check(self) -> StudyStore:
        try:
            schema = self.meta("schema")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StudyError(f"{self.path}: not a neurosim study store ({exc})") from None
        if schema != STORE_SCHEMA:
            self._db.close()
            what = "not a neurosim study store" if schema is None else f"store schema {schema!r}"
            raise StudyError(f"{self.path}: {what}; this neurosim ({__version__}) reads {STORE_SCHEMA!r}")
        return self

    def _create(self, identity: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(f"""CREATE TABLE IF NOT EXISTS points (
                key TEXT PRIMARY KEY, sim_key TEXT NOT NULL, position INTEGER NOT NULL, axes TEXT NOT NULL,
                seed INTEGER NOT NULL, label TEXT NOT NULL, current INTEGER NOT NULL DEFAULT 1,
                status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
                error TEXT, attempts INTEGER NOT NULL DEFAULT 0, run_id INTEGER, worker TEXT, started REAL,
                finished REAL, wall_s REAL, repriced_from TEXT, {_METRIC_COLUMNS}, record TEXT, record_patch TEXT)""")
            db.execute("""CREATE TABLE IF NOT EXISTS runs (
                run_id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL, command TEXT,
                engine TEXT, outcome TEXT, computed INTEGER NOT NULL DEFAULT 0, repriced INTEGER NOT NULL DEFAULT 0,
                failed INTEGER NOT NULL DEFAULT 0)""")
            # a store made by an earlier version lacks the metrics added since: they are empty columns there
            have = {row[1] for row in db.execute("PRAGMA table_info(points)")}
            for name in METRICS:
                if name not in have:
                    db.execute(f"ALTER TABLE points ADD COLUMN {name} REAL")
            stored = db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
            if stored is None:
                db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema", json.dumps(STORE_SCHEMA)), ("identity", json.dumps(identity, sort_keys=True)),
                    ("created", json.dumps(time.time())), ("package_version", json.dumps(__version__))])
                return
        ours = json.loads(stored[0])
        if ours != json.loads(json.dumps(identity, sort_keys=True)):
            key, theirs_value, ours_value = _first_difference(identity, ours)
            raise StudyError(f"--out {self.path.parent}: holds study {ours.get('name')!r} ({ours.get('kind')}), "
                             f"and this spec is another study: {key} is {_short(theirs_value)} here but "
                             f"{_short(ours_value)} there. Adding values to an axis, trainers or seeds resumes a "
                             "study; anything else is a new study: choose another --out (or delete the folder to "
                             "start over)")

    # ------------------------------------------------------------------------------------------------- meta
    def meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, **values: Any) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           [(k, json.dumps(v, sort_keys=True, default=str)) for k, v in values.items()])

    # ------------------------------------------------------------------------------------------------- runs
    def begin_run(self, command: str, engine: str) -> int:
        """Record a new invocation; points left ``running`` by an earlier one that died go back to ``pending``."""
        with self._tx() as db:
            db.execute("UPDATE points SET status = 'pending', worker = NULL, started = NULL "
                       "WHERE status = 'running'")
            for (dead,) in db.execute("SELECT run_id FROM runs WHERE outcome IS NULL").fetchall():
                self._count_run(db, dead, "killed", None)
            cur = db.execute("INSERT INTO runs (started, command, engine) VALUES (?, ?, ?)",
                             (time.time(), command, engine))
            return int(cur.lastrowid)

    def end_run(self, run_id: int, outcome: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE points SET status = 'pending', worker = NULL, started = NULL "
                       "WHERE status = 'running' AND run_id = ?", (run_id,))
            self._count_run(db, run_id, outcome, time.time())

    @staticmethod
    def _count_run(db: sqlite3.Connection, run_id: int, outcome: str, finished: float | None) -> None:
        counts = db.execute("SELECT SUM(status = 'done' AND repriced_from IS NULL), "
                            "SUM(status = 'done' AND repriced_from IS NOT NULL), SUM(status = 'failed') "
                            "FROM points WHERE run_id = ?", (run_id,)).fetchone()
        db.execute("UPDATE runs SET finished = ?, outcome = ?, computed = ?, repriced = ?, failed = ? "
                   "WHERE run_id = ?", (finished, outcome, counts[0] or 0, counts[1] or 0, counts[2] or 0, run_id))

    def runs(self) -> list[dict[str, Any]]:
        cur = self._db.execute("SELECT * FROM runs ORDER BY run_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    # ----------------------------------------------------------------------------------------------- points
    def sync(self, points: Iterable[Any]) -> None:
        """Make the store's current points those given (:class:`~neurosim.experiments.points.Point`): new ones
        are added as ``pending``; known ones keep their status and results and take the spec's order."""
        with self._tx() as db:
            db.execute("UPDATE points SET current = 0")
            for p in points:
                axes = json.dumps(p.axes, sort_keys=False, default=str)
                db.execute("INSERT INTO points (key, sim_key, position, axes, seed, label, current, status) "
                           "VALUES (?, ?, ?, ?, ?, ?, 1, 'pending') ON CONFLICT(key) DO UPDATE SET "
                           "position = excluded.position, axes = excluded.axes, label = excluded.label, "
                           "sim_key = excluded.sim_key, current = 1",
                           (p.key, p.sim_key, p.position, axes, p.seed, p.label()))

    def retry_failed(self) -> int:
        """Set the current failed points back to pending; returns how many."""
        with self._tx() as db:
            return db.execute("UPDATE points SET status = 'pending', error = NULL "
                              "WHERE status = 'failed' AND current = 1").rowcount

    def mark_running(self, key: str, run_id: int, worker: str | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE points SET status = 'running', run_id = ?, worker = ?, started = ?, "
                       "attempts = attempts + 1 WHERE key = ?", (run_id, worker, time.time(), key))

    def mark_pending(self, keys: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE points SET status = 'pending', worker = NULL, started = NULL WHERE key = ?",
                           [(k,) for k in keys])

    def finish(self, key: str, run_id: int, record: dict[str, Any], metrics: dict[str, float | None],
               wall_s: float, worker: str | None, repriced_from: str | None = None,
               source: dict[str, Any] | None = None) -> None:
        """Store a finished point: its record, metrics and provenance, in one transaction.

        A re-priced point (``repriced_from`` the key of the simulated point, ``source`` that point's record) is
        stored as the top-level keys in which its record differs from the source's (the embedded profile, and an
        inference report's priced figures): :meth:`record` rebuilds it exactly, and the store does not hold the
        same counts twice."""
        columns = [m for m in METRICS if m in metrics]
        values = [_finite(metrics[m]) for m in columns]
        assignments = "".join(f", {m} = ?" for m in columns)
        if repriced_from is not None and source is not None:
            patch = {k: v for k, v in record.items() if k not in source or source[k] != v}
            whole, patch = None, json.dumps(patch, allow_nan=False)
            if set(source) - set(record):
                whole, patch = json.dumps(record, allow_nan=False), None
        else:
            whole, patch = json.dumps(record, allow_nan=False), None
        with self._tx() as db:
            db.execute(f"UPDATE points SET status = 'done', error = NULL, run_id = ?, worker = ?, finished = ?, "
                       f"wall_s = ?, repriced_from = ?, record = ?, record_patch = ?{assignments} WHERE key = ?",
                       [run_id, worker, time.time(), wall_s, repriced_from, whole, patch, *values, key])

    def fail(self, key: str, run_id: int, error: str, wall_s: float | None, worker: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE points SET status = 'failed', error = ?, run_id = ?, worker = ?, finished = ?, "
                       "wall_s = ? WHERE key = ?", (error, run_id, worker, time.time(), wall_s, key))

    def points(self, current_only: bool = True) -> list[StoredPoint]:
        """Stored points (without their records), in the spec's order."""
        where = "WHERE current = 1" if current_only else ""
        cur = self._db.execute(f"SELECT key, sim_key, position, axes, seed, status, error, run_id, worker, wall_s, "
                               f"repriced_from, current, {', '.join(METRICS)} FROM points {where} "
                               "ORDER BY current DESC, position")
        out = []
        for row in cur.fetchall():
            metrics = dict(zip(METRICS, row[12:]))
            out.append(StoredPoint(key=row[0], sim_key=row[1], position=row[2], axes=json.loads(row[3]), seed=row[4],
                                   status=row[5], error=row[6], run_id=row[7], worker=row[8], wall_s=row[9],
                                   repriced_from=row[10], current=bool(row[11]), metrics=metrics))
        return out

    def record(self, key: str) -> dict[str, Any] | None:
        """A done point's whole record (None for a point that has none)."""
        row = self._db.execute("SELECT record, record_patch, repriced_from FROM points WHERE key = ?",
                               (key,)).fetchone()
        if row is None:
            return None
        if row[0] is not None:
            return json.loads(row[0])
        if row[1] is None or row[2] is None:
            return None
        source = self.record(row[2])
        if source is None:
            raise StudyError(f"{self.path}: point {key[:12]} was re-priced from point {row[2][:12]}, whose record "
                             "is missing; rerun with a fresh --out")
        return {**source, **json.loads(row[1])}

    def status_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) FROM points WHERE current = 1 GROUP BY status").fetchall()
        return {s: 0 for s in STATUSES} | dict(rows)

    def integrity(self) -> str:
        """SQLite's own check of the file (``"ok"`` when intact)."""
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StudyStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the changes made inside into one transaction (e.g. many re-priced points: one commit, one sync
        to disk, instead of one each); nested calls join the outer batch."""
        if self._batched:
            yield
            return
        with self._tx():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._batched:  # inside a batch: its transaction commits
            yield self._db
            return
        try:
            with self._db:  # one transaction: committed whole or rolled back
                yield self._db
        except sqlite3.DatabaseError as exc:
            raise StudyError(f"{self.path}: the study store cannot be written ({exc})") from None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, timeout=30.0, isolation_level="DEFERRED")
        db.execute("PRAGMA synchronous = FULL")
        return db
    except sqlite3.DatabaseError as exc:
        raise StudyError(f"{path}: cannot open the study store ({exc})") from None


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any]:
    """The first place where two JSON-like values differ: (dotted path, a's value, b's value)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b or json.dumps(a[k], sort_keys=True) != json.dumps(b[k], sort_keys=True):
                if k in a and k in b:
                    return _first_difference(a[k], b[k], f"{path}.{k}" if path else str(k))
                return (f"{path}.{k}" if path else str(k)), a.get(k), b.get(k)
    return path or "the spec", a, b


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["StudyStore", "StoredPoint", "STORE_NAME", "STORE_SCHEMA", "STATUSES"]
