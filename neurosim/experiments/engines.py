"""Where a study's points run: a pool of local worker processes (the default) or a Dask cluster.

Both engines take a point's payload, run :func:`neurosim.experiments.worker.run_point` somewhere else, and hand
back its result; neither writes anything (the coordinator writes the store). Both keep at most one point per worker
slot in flight, so "running" means running.

Modelling choice that keeps results identical wherever a point runs: local workers are started with
``OPENBLAS_NUM_THREADS=1`` (Dask's nanny sets the same by default), so every point's linear algebra runs on one
thread with the BLAS kernel family pinned by :mod:`neurosim._blas`; parallelism comes from running points side by
side.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..errors import StudyError

# one thread per worker: the workers already fill the cores (neurosim's own row-chunk threads included)
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NEUROSIM_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Completion:
    """A point that stopped running: its key and :func:`run_point`'s result (or the cause of a worker's death)."""

    key: str
    result: dict[str, Any]


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------------- local
def _death(code: int | None) -> str:
    """Why a worker that returned no result is gone, as far as its exit code tells."""
    if code is None:
        return "the worker process stopped answering while running this point and did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (the kernel's out-of-memory killer sends SIGKILL)" if -code == signal.SIGKILL else ""
        return f"the worker process was killed by {name} while running this point{hint}"
    # a spawned worker re-imports the main script: one run from stdin, or one that starts a study at import time
    # (no `if __name__ == "__main__":` guard), fails there and exits 1 with its traceback on stderr
    return (f"the worker process exited (exit code {code}) while running this point; its error is on stderr above "
            "(a script that runs a study must start it under `if __name__ == \"__main__\":` and be run from a file: "
            "workers are spawned and re-import it)")


def _worker_main(conn: Connection, parent_pid: int) -> None:
    """A local worker: run payloads received on ``conn`` until told to stop or the coordinator disappears."""
    # Ctrl-C reaches the whole process group: the coordinator decides what stops, workers ignore it
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:
        # a coordinator killed with SIGKILL cannot stop its workers: they notice and leave
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    from .worker import run_point

    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        if payload is None:
            return
        conn.send(run_point(payload))


class _LocalWorker:
    def __init__(self, context: Any):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.key: str | None = None


class LocalEngine:
    """``workers`` spawned processes on this machine, one point each at a time."""

    def __init__(self, workers: int):
        if workers < 1:
            raise StudyError(f"--workers must be >= 1 (got {workers})")
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")  # no fork: the coordinator may hold threads
        self._pool: list[_LocalWorker] = []

    def describe(self) -> str:
        return f"local pool of {self.workers} worker processes"

    @property
    def capacity(self) -> int:
        return self.workers

    def start(self) -> None:
        saved = {k: os.environ.get(k) for k in _WORKER_ENV}
        os.environ.update(_WORKER_ENV)  # inherited by the spawned workers only (this process's BLAS is loaded)
        try:
            self._pool = [_LocalWorker(self._context) for _ in range(self.workers)]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def idle(self) -> int:
        return sum(w.key is None for w in self._pool)

    def submit(self, key: str, payload: dict[str, Any]) -> None:
        worker = next(w for w in self._pool if w.key is None)
        worker.key = key
        worker.conn.send(payload)

    def poll(self, timeout: float) -> list[Completion]:
        busy = [w for w in self._pool if w.key is not None]
        if not busy:
            return []
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=timeout))
        done = []
        for w in busy:
            if w.conn in ready:
                try:
                    result = w.conn.recv()
                except (EOFError, OSError):
                    result = None
                if result is not None:
                    done.append(Completion(w.key, result))
                    w.key = None
                    continue
            if w.conn in ready or w.process.sentinel in ready:
                w.process.join(timeout=5)
                code = w.process.exitcode
                done.append(Completion(w.key, {"key": w.key, "ok": False, "wall_s": None, "worker": None,
                                               "error": _death(code)}))
                self._pool[self._pool.index(w)] = _LocalWorker(self._context)
        return done

    def shutdown(self, kill: bool = False) -> None:
        for w in self._pool:
            if kill or w.key is not None:
                w.process.terminate()
            else:
                try:
                    w.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        for w in self._pool:
            w.process.join(timeout=10)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self._pool = []


# ----------------------------------------------------------------------------------------------------- dask
class DaskEngine:
    """Points on a Dask distributed cluster: an existing scheduler (``tcp://host:port``) or, for ``"local"``, a
    :class:`dask.distributed.LocalCluster` of ``workers`` single-threaded worker processes started here."""

    def __init__(self, address: str, workers: int):
        self.address = address
        self.workers = workers
        self._client: Any = None
        self._cluster: Any = None
        self._futures: dict[Any, str] = {}

    def describe(self) -> str:
        if self.address == "local":
            return f"Dask LocalCluster of {self.workers} worker processes"
        return f"Dask cluster at {self.address}"

    def start(self) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover (dask is a declared dependency)
            raise StudyError(f"--scheduler needs dask.distributed ({exc}); reinstall neurosim-edge") from None
        try:
            if self.address == "local":
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address, timeout="5s")
        except (OSError, TimeoutError, ValueError) as exc:
            self.shutdown()
            raise StudyError(f"--scheduler {self.address}: cannot reach the Dask scheduler ({exc})") from None

    @property
    def capacity(self) -> int:
        if self._client is None:
            return self.workers
        return max(1, sum(self._client.nthreads().values()))

    def idle(self) -> int:
        return self.capacity - len(self._futures)

    def submit(self, key: str, payload: dict[str, Any]) -> None:
        from .worker import run_point

        future = self._client.submit(run_point, payload, pure=False, key=f"neurosim-{key[:16]}-{uuid.uuid4().hex[:8]}")
        self._futures[future] = key

    def poll(self, timeout: float) -> list[Completion]:
        if not self._futures:
            return []
        from dask.distributed import wait as dask_wait

        try:
            done, _ = dask_wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        out = []
        for future in done:
            key = self._futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # the worker died or the cluster lost the task
                result = {"key": key, "ok": False, "wall_s": None, "worker": None,
                          "error": f"the Dask task failed: {type(exc).__name__}: {exc}"}
            out.append(Completion(key, result))
        return out

    def shutdown(self, kill: bool = False) -> None:
        if self._client is not None and self._futures:
            self._client.cancel(list(self._futures))
        self._futures = {}
        for thing in (self._client, self._cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a cluster that is already gone
                    pass
        self._client = self._cluster = None


def make_engine(workers: int | None, scheduler: str | None) -> LocalEngine | DaskEngine:
    """The engine for ``--workers`` and ``--scheduler`` (None: a local pool)."""
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise StudyError(f"--workers must be >= 1 (got {workers})")
    if scheduler is None:
        return LocalEngine(workers)
    if not scheduler.strip():
        raise StudyError("--scheduler must be 'local' or a Dask scheduler address such as tcp://host:8786 (got '')")
    return DaskEngine(scheduler, workers)


__all__ = ["LocalEngine", "DaskEngine", "Completion", "make_engine", "default_workers"]
