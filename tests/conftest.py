"""Shared test setup.

``neurosim`` is imported before any test module imports numpy, so that its BLAS kernel pin takes effect
(:mod:`neurosim._blas`): the pinned numbers in these tests then hold on every x86-64 machine.
"""

import neurosim  # noqa: F401  (first: pins OpenBLAS's kernel family before numpy loads)
