"""Running a study: the coordinator that expands a spec into points, runs the pending ones on an engine, re-prices
price-only points, and writes every result to the store as it arrives.

Resume is by content key: a rerun of the same command skips every ``done`` point and runs the rest (``failed``
ones too with ``retry_failed``); points added to an axis are new keys and run alone. Ctrl-C (SIGINT) or SIGTERM
stops the workers, keeps every finished point and sets the running ones back to ``pending``; SIGKILL loses the
running points only (the next run finds them ``running`` and runs them again).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..errors import NeurosimError
from .engines import make_engine
from .metrics import load_result, metrics_of_result, reprice_result
from .points import REPRICEABLE_KINDS, Point, expand, repriced_axes
from .spec import StudySpec
from .store import StoredPoint, StudyStore

OnDone = Callable[[Point, dict[str, Any]], None]


@dataclass
class SweepOutcome:
    """What a run of a study did.

    Attributes
    ----------
    folder : Path
    outcome : str
        ``"finished"`` (every point done or failed) or ``"interrupted"``.
    computed, repriced, failed, skipped : int
        Points simulated, re-priced from a simulated point's counts, failed, and already done before this run.
    points : list of StoredPoint
        Every current point of the study, as stored at the end of the run.
    repriced_axes : list of str
        Axes that only change prices (their points are re-priced, not simulated).
    wall_s : float
    """

    folder: Path
    outcome: str
    computed: int = 0
    repriced: int = 0
    failed: int = 0
    skipped: int = 0
    points: list[StoredPoint] = field(default_factory=list)
    repriced_axes: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def interrupted(self) -> bool:
        return self.outcome == "interrupted"


class StudyProgress:
    """One line of progress: done, failed, running, ETA (a refreshed line on a terminal, a line every 10 s
    otherwise)."""

    def __init__(self, total: int, skipped: int, stream: TextIO | None = None):
        self.total, self.skipped = total, skipped
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._t0 = time.perf_counter()
        self._last = 0.0
        self._interval = 0.5 if self.tty else 10.0

    def __call__(self, done: int, failed: int, running: int, repriced: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self._last < self._interval:
            return
        self._last = now
        elapsed = now - self._t0
        finished_now = done + failed - self.skipped
        left = self.total - done - failed
        eta = f", ETA {_duration(elapsed / finished_now * left)}" if finished_now > 0 and left > 0 else ""
        text = (f"study: {done}/{self.total} done ({repriced} re-priced, {self.skipped} from earlier runs), "
                f"{failed} failed, {running} running, {_duration(elapsed)} elapsed{eta}")
        if self.tty:
            self.stream.write("\r" + text.ljust(100) + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _Stop(Exception):
    """SIGTERM, turned into an orderly stop."""


def run_study(spec: StudySpec, out_dir: str | Path, *, workers: int | None = None, scheduler: str | None = None,
              retry_failed: bool = False, progress: bool | StudyProgress = True, command: str = "",
              on_done: OnDone | None = None, points: list[Point] | None = None, reprice: bool = True) -> SweepOutcome:
    """Run every pending point of ``spec`` into the study folder ``out_dir``.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: the cores this process may use), or the size of a ``"local"`` Dask
        cluster.
    scheduler : str, optional
        ``"local"`` (start a Dask LocalCluster) or the address of a running Dask scheduler.
    retry_failed : bool
        Run failed points again (by default a rerun skips them and reports their errors).
    on_done : callable, optional
        Called in the coordinator with (point, record dict) as each point finishes (e.g. to save its record).
    points : list of Point, optional
        The expansion of ``spec`` if the caller already made it.
    reprice : bool
        Re-price points that differ from a simulated one only in prices (default); False simulates every point
        (to check the re-pricing, or to time it).

    Raises
    ------
    StudyError
        Before any work: a bad spec value, or a folder that holds another study.
    """
    t0 = time.perf_counter()
    points = expand(spec) if points is None else points  # every value checked before any work starts
    folder = Path(out_dir)
    engine = make_engine(workers, scheduler)
    store = StudyStore.open(folder, spec.identity())
    outcome = SweepOutcome(folder=folder, outcome="finished", repriced_axes=repriced_axes(spec))
    try:
        run_id = store.begin_run(command, engine.describe())
        batches: dict[str, set[int]] = {}
        for p in points:
            if "batch_size" in p.task:
                batches.setdefault(p.task["trainer"], set()).add(p.task["batch_size"])
        store.set_meta(spec=spec.to_dict(), repriced_axes=outcome.repriced_axes,
                       batch_sizes={t: sorted(b) for t, b in batches.items()})
        store.sync(points)
        if retry_failed:
            store.retry_failed()
        stored = {p.key: p for p in store.points()}
        todo = deque(p for p in points if stored[p.key].status == "pending")
        outcome.skipped = sum(p.status == "done" for p in stored.values())
        show = progress if isinstance(progress, StudyProgress) else (
            StudyProgress(len(points), outcome.skipped) if progress else None)
        coordinator = _Coordinator(spec, store, engine, run_id, outcome, on_done, show, stored, reprice)
        coordinator.run(todo)
        store.end_run(run_id, outcome.outcome)
        outcome.points = store.points()
    finally:
        store.close()
    outcome.wall_s = time.perf_counter() - t0
    return outcome


class _Coordinator:
    def __init__(self, spec: StudySpec, store: StudyStore, engine: Any, run_id: int, outcome: SweepOutcome,
                 on_done: OnDone | None, show: StudyProgress | None, stored: dict[str, StoredPoint], reprice: bool):
        self.spec, self.store, self.engine, self.run_id = spec, store, engine, run_id
        self.outcome, self.on_done, self.show = outcome, on_done, show
        self.reprices = reprice and spec.kind in REPRICEABLE_KINDS
        # simulated (not re-priced) done points by simulation key: the sources of re-pricing
        self.simulated = {p.sim_key: p.key for p in stored.values()
                          if p.status == "done" and p.repriced_from is None}
        self.done = sum(p.status == "done" for p in stored.values())
        self.failed = sum(p.status == "failed" for p in stored.values())
        self.running: dict[str, Point] = {}  # key -> point
        self.in_flight: dict[str, str] = {}  # sim_key -> key being simulated
        self.parked: dict[str, list[Point]] = {}  # sim_key -> points waiting for that simulation
        self._source: tuple[str, Any, dict[str, Any]] | None = None  # the last re-pricing source, loaded

    def run(self, todo: deque[Point]) -> None:
        previous = None
        if threading.current_thread() is threading.main_thread():
            def stop(signum, frame):
                raise _Stop()

            previous = signal.signal(signal.SIGTERM, stop)
        started = False
        try:
            while todo or self.running:
                if todo and not started:
                    self.engine.start()
                    started = True
                self._dispatch(todo)
                for completion in self.engine.poll(timeout=0.25):
                    self._complete(completion.key, completion.result, todo)
                self._progress()
            self._progress(final=True)
            self.engine.shutdown()
        except (KeyboardInterrupt, _Stop):
            self.outcome.outcome = "interrupted"
            self.engine.shutdown(kill=True)
            self.store.mark_pending(list(self.running))
            self._progress(final=True)
        except BaseException:
            self.engine.shutdown(kill=True)
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _dispatch(self, todo: deque[Point]) -> None:
        while todo:
            p = todo[0]
            if self.reprices and p.sim_key in self.simulated:
                with self.store.batch():  # the run of re-priceable points ahead, in one transaction
                    while todo and todo[0].sim_key in self.simulated:
                        p = todo.popleft()
                        self._reprice(p, self.simulated[p.sim_key])
            elif self.reprices and p.sim_key in self.in_flight:
                self.parked.setdefault(p.sim_key, []).append(todo.popleft())
            elif self.engine.idle() > 0:
                todo.popleft()
                self.store.mark_running(p.key, self.run_id)
                self.engine.submit(p.key, p.payload())
                self.running[p.key] = p
                self.in_flight[p.sim_key] = p.key
            else:
                return

    def _complete(self, key: str, result: dict[str, Any], todo: deque[Point]) -> None:
        p = self.running.pop(key)
        self.in_flight.pop(p.sim_key, None)
        record = result.get("record") if result.get("ok") else None
        if record is not None:
            try:
                loaded = load_result(self.spec.kind, record)
                metrics = metrics_of_result(self.spec.kind, loaded)
            except NeurosimError as exc:
                record, result = None, {**result, "error": f"its record cannot be read: {exc}"}
        if record is None:
            self.store.fail(key, self.run_id, result.get("error") or "unknown error", result.get("wall_s"),
                            result.get("worker"))
            self.failed += 1
            self.outcome.failed += 1
            todo.extendleft(reversed(self.parked.pop(p.sim_key, [])))  # they are simulated on their own
            return
        self.store.finish(key, self.run_id, record, metrics, result["wall_s"], result.get("worker"))
        self.simulated[p.sim_key] = key
        self.done += 1
        self.outcome.computed += 1
        if self.on_done is not None:
            self.on_done(p, record)
        self._source = (key, loaded, record)
        with self.store.batch():
            for waiting in self.parked.pop(p.sim_key, []):
                self._reprice(waiting, key)

    def _reprice(self, p: Point, source_key: str) -> None:
        t0 = time.perf_counter()
        try:
            if self._source is None or self._source[0] != source_key:  # points of one group come together
                record = self.store.record(source_key)
                self._source = (source_key, load_result(self.spec.kind, record), record)
            _, loaded, source = self._source
            repriced, record = reprice_result(self.spec.kind, loaded, source, p.profile)
            metrics = metrics_of_result(self.spec.kind, repriced)
        except NeurosimError as exc:
            self.store.fail(p.key, self.run_id, f"re-pricing from point {source_key[:12]} failed: {exc}",
                            time.perf_counter() - t0, "coordinator")
            self.failed += 1
            self.outcome.failed += 1
            return
        self.store.finish(p.key, self.run_id, record, metrics, time.perf_counter() - t0, "coordinator",
                          repriced_from=source_key, source=source)
        self.done += 1
        self.outcome.repriced += 1
        if self.on_done is not None:
            self.on_done(p, record)

    def _progress(self, final: bool = False) -> None:
        if self.show is not None:
            self.show(self.done, self.failed, len(self.running), self.outcome.repriced, final=final)


__all__ = ["run_study", "SweepOutcome", "StudyProgress"]
