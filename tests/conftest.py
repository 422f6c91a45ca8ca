"""Shared test setup.

``neurosim`` is imported before any test module imports numpy, so that its BLAS kernel pin takes effect
(:mod:`neurosim._blas`): the pinned numbers in these tests then hold on every x86-64 machine.
"""

import contextlib
import io
from pathlib import Path

import pytest

import neurosim  # noqa: F401  (first: pins OpenBLAS's kernel family before numpy loads)

#: a 500-image MNIST sample shipped with the tests (data/mnist_sample/README.md): tests run in a fresh clone
MNIST_SAMPLE = f"mnist:{Path(__file__).parent / 'data' / 'mnist_sample'}"


@pytest.fixture(scope="session")
def main_job(tmp_path_factory):
    """README's main job, run once per test session: ``neurosim compare`` on the shipped defaults.

    Returns (what it printed on stdout, the folder holding its records, CSV and plots).
    """
    from neurosim.cli import main

    out_dir = tmp_path_factory.mktemp("main_job") / "neurosim_compare"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["compare", "--out", str(out_dir), "--quiet"])
    assert status == 0
    return printed.getvalue(), out_dir
