"""Same seed, same numbers on any machine: the BLAS kernel family is pinned (neurosim._blas)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from neurosim._blas import PINNED_KERNEL, blas_kernel

x86 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64", "x64"), reason="x86-64 only")


@x86
def test_the_test_process_uses_the_pinned_kernel():
    if os.environ.get("OPENBLAS_CORETYPE", PINNED_KERNEL) != PINNED_KERNEL:
        pytest.skip("OPENBLAS_CORETYPE set by the user")
    assert blas_kernel().lower() == PINNED_KERNEL.lower()


@x86
def test_importing_neurosim_first_pins_the_kernel_in_a_fresh_process():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    code = "import neurosim, numpy; from neurosim._blas import blas_kernel; print(blas_kernel())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().lower() == PINNED_KERNEL.lower()
