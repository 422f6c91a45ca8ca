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


#: Tests measured at a second or more on 2 cores (``python -m pytest --durations=80``): ``-m "not slow"`` leaves
#: them out and runs the rest in under a minute. Substrings of node ids, so that one slow parameter of a
#: parametrised test is marked without its fast siblings.
SLOW = (
    "test_sweep.py::", "test_compare.py::", "test_pinned_behaviour.py::", "test_examples.py::test_bench_compare",
    "test_examples.py::test_chip_designer", "test_host_training.py::test_training_with_quantised_activations",
    "test_lowrank.py::test_learns_digits", "test_lowrank.py::test_unbiased_estimate",
    "test_lowrank.py::test_works_on_a_small_conv_model", "test_memory_properties.py::test_accounting_invariants",
    "test_memory_properties.py::test_same_seed_same_requests", "test_packaging.py::",
    "test_plots_study.py::test_heatmaps_need", "test_plots_study.py::test_study_writes_one_file",
    "test_plots_study.py::test_too_many_lines", "test_readme.py::test_console_examples",
    "test_readme.py::test_main_job_table", "test_repricing.py::test_every_trainer_reprices_exactly[nvm_sgd]",
    "test_spiking.py::test_brian2_and_its_twin", "test_study_store.py::test_store_operation_sequences",
    "[nvm_sgd", "[lowrank", "test_profile_fuzz.py::test_random_invalid_mutation",
)


def pytest_collection_modifyitems(items):
    for item in items:
        if any(part in item.nodeid for part in SLOW):
            item.add_marker(pytest.mark.slow)
