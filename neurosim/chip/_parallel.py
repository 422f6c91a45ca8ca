"""Row-chunk parallelism for executors (private): split a batch's MVM rows over the machine's cores.

The work of one chunk is numba kernels (``nogil``) and BLAS calls, both of which release the GIL, so plain threads
run chunks on separate cores. BLAS itself runs single-threaded (see :mod:`neurosim._blas`): two BLAS threads per
chunk on two cores would fight each other. Results never depend on the chunking: chunks write disjoint rows, and
every random draw is made by the calling thread in the order a single thread would make it.

``NEUROSIM_NUM_THREADS`` sets the number of threads (default: the cores this process may run on).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ..errors import ExecutorError

MIN_ROWS_PER_CHUNK = 256  # below this a thread hand-off (~20-50 us) costs more than the chunk's work
ROW_ALIGN = 64


def thread_count() -> int:
    """Threads chunks run on: ``NEUROSIM_NUM_THREADS`` if set (a positive integer), else the usable cores."""
    value = os.environ.get("NEUROSIM_NUM_THREADS", "").strip()
    if value:
        if not value.isdigit() or not 0 < int(value) <= 4096:
            raise ExecutorError(f"environment variable NEUROSIM_NUM_THREADS must be a whole number of threads in "
                                f"[1, 4096] (got {value!r})")
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _get_pool(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size != size:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="neurosim-chunk")
        _pool_size = size
    return _pool


def chunks(n_rows: int, threads: int | None = None) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` row ranges, one per thread, none smaller than :data:`MIN_ROWS_PER_CHUNK`
    (a single range when the batch is small)."""
    threads = thread_count() if threads is None else threads
    k = max(1, min(threads, n_rows // MIN_ROWS_PER_CHUNK))
    # inner bounds on multiples of ROW_ALIGN: OpenBLAS computes a row in a full-width micro-kernel unless it is
    # among the product's last few rows, so aligned chunks give every row the bits the whole product gives it
    # (unaligned ones differed in the last bit)
    bounds = [0] + [(n_rows * i // k) // ROW_ALIGN * ROW_ALIGN for i in range(1, k)] + [n_rows]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


def run_chunks(work: Callable[[int, int, int], None], ranges: list[tuple[int, int]]) -> None:
    """Run ``work(chunk index, start, stop)`` for every range: the first in this thread, the rest on the pool;
    returns when all are done (re-raising the first error)."""
    if len(ranges) == 1:
        work(0, *ranges[0])
        return
    pool = _get_pool(len(ranges) - 1)
    futures = [pool.submit(work, i, lo, hi) for i, (lo, hi) in enumerate(ranges[1:], start=1)]
    try:
        work(0, *ranges[0])
    finally:
        for future in futures:
            future.result()



_background: ThreadPoolExecutor | None = None


def _background_pool() -> ThreadPoolExecutor:
    global _background
    if _background is None:
        _background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neurosim-prefetch")
    return _background


class PrefetchedNormals:
    """Standard normal draws of one generator, handed out in the generator's own order, drawn ahead in blocks of
    ``block`` values by a background thread while the caller works (numpy's generators release the GIL while
    they fill an array). What a caller receives is exactly the sequence ``rng.standard_normal`` would give it,
    call after call: only the time of drawing moves. Draws synchronously on a single core.

    The generator must have no other user (its position runs ahead of what has been handed out).
    """

    def __init__(self, rng, block: int = 1 << 16):
        self._rng = rng
        self._block = block
        self._head = np.empty(0)
        self._pos = 0
        self._pending: Future | None = None
        self._ahead = thread_count() > 1

    def _draw(self) -> np.ndarray:
        values = np.empty(self._block)
        self._rng.standard_normal(out=values)
        return values

    def fill(self, out: np.ndarray, ahead: bool = True) -> None:
        """Fill the C-contiguous float64 array ``out`` with the next ``out.size`` draws; ``ahead=False`` when the
        cores are busy with the caller's own chunks (a third thread would only slow them down)."""
        flat = out.reshape(-1)
        done = 0
        while done < flat.size:
            if self._pos == self._head.size:
                self._head = self._pending.result() if self._pending is not None else self._draw()
                self._pos = 0
                self._pending = _background_pool().submit(self._draw) if self._ahead and ahead else None
            take = min(flat.size - done, self._head.size - self._pos)
            flat[done: done + take] = self._head[self._pos: self._pos + take]
            done += take
            self._pos += take
