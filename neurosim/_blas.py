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
"""

from __future__ import annotations

import os
import platform
import sys

PINNED_KERNEL = "Haswell"
_X86 = ("x86_64", "amd64", "x64")


def pin_blas_kernel() -> None:
    """Set ``OPENBLAS_CORETYPE`` (if unset) when numpy has not been imported yet, on x86-64 only."""
    if "numpy" in sys.modules or platform.machine().lower() not in _X86:
        return
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
