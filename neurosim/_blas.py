"""Same seed, same numbers on every x86-64 machine: pin OpenBLAS's kernel family before numpy loads it.

OpenBLAS (numpy's BLAS) picks its kernels by CPU at load time: an AVX-512 Intel machine gets the ``SkylakeX``
kernels, an AMD EPYC the ``Haswell`` ones, and the two sum in different orders, so a matrix product can differ in the
last bit. Training amplifies such bits: rounding an update to whole weight levels turns a last-bit difference into
a different write, and the runs diverge (measured: ``lowrank`` on digits, 87.56 % with SkylakeX kernels, 88.89 %
with Haswell ones, from the same seed). Pinning one kernel family, ``Haswell`` (AVX2, which every x86-64 server since
2013 has), makes runs bit-identical across machines and Dask workers.

The pin only works if it is set before numpy is first imported: :mod:`neurosim` does it on import when numpy is not
loaded yet (the ``neurosim`` command, a Dask worker, a script that imports neurosim first). A user's own
``OPENBLAS_CORETYPE`` is respected. :func:`blas_kernel` tells which family is in use, so that a run can record it.

Threads: BLAS runs single-threaded unless the user says otherwise (``OPENBLAS_NUM_THREADS``, ``GOTO_NUM_THREADS``
or ``OMP_NUM_THREADS``). A chip's matrix products are small (a tile's rows at a time, a training batch at a time):
two BLAS threads on such products ran an ``sgd`` epoch 1.1-3x *slower* than one on this project's 2-core machines
(more under load, when the threads wait on each other), and chip inference parallelises over samples itself
(:mod:`neurosim.chip._parallel`), where BLAS threads on top would oversubscribe the cores. Same numbers either way:
OpenBLAS splits a product by output blocks, never inside a sum.
"""

from __future__ import annotations

import os
import platform
import sys

PINNED_KERNEL = "Haswell"
_X86 = ("x86_64", "amd64", "x64")


_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def pin_blas_kernel() -> None:
    """Set ``OPENBLAS_CORETYPE`` (if unset) when numpy has not been imported yet, on x86-64 only, and BLAS to one
    thread unless the user chose a number (before numpy loads, by environment; after, through threadpoolctl)."""
    single = not any(os.environ.get(name) for name in _THREAD_VARIABLES)
    if "numpy" in sys.modules:
        if single:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
                return
            threadpool_limits(limits=1, user_api="blas")
        return
    if single:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    if platform.machine().lower() in _X86:
        os.environ.setdefault("OPENBLAS_CORETYPE", PINNED_KERNEL)


def blas_kernel() -> str:
    """The BLAS kernel family numpy uses (e.g. ``"Haswell"``), or ``"unknown"``."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        return "unknown"
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return str(pool.get("architecture") or "unknown")
    return "unknown"
