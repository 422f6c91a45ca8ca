"""Slow numpy twins of ``_lut_kernels.py`` (used by the tests, and as the executor's integer path under test).

Vectorised numpy with integer gathers, sums, comparisons and bit operations only: no multiplication, no division,
no float, so that a checking array type (tests/test_lut.py) can follow the data through them.
"""

from __future__ import annotations

import numpy as np

#: gathered products held at once (int64 elements, 32 MiB): the twin sums the gather in chunks of vectors
CHUNK_ELEMENTS = 1 << 22


def lut_accumulate_numpy(indices, row_ptr, nz_col, nz_code, table, bias, out):
    """Twin of :func:`neurosim.chip._lut_kernels.lut_accumulate`: the dense code matrix rebuilt from the sparse
    rows (zero codes point at the table's zero column), one gather of every product, the skipped ones (index 0 or
    code 0) masked out, a sum over the rows."""
    n_vectors, fan_in = indices.shape
    fan_out = out.shape[1]
    per_row = np.diff(row_ptr)
    zero_column = (table.shape[1] - 1) >> 1  # the column of code 0: codes run from -max to +max
    columns = np.full_like(nz_code, zero_column, shape=(fan_in, fan_out))
    columns[np.repeat(np.arange(fan_in), per_row), nz_col] = nz_code
    chunk = max(1, CHUNK_ELEMENTS // max(1, fan_in * fan_out))
    for start in range(0, n_vectors, chunk):
        block = indices[start: start + chunk][:, :, None]
        products = table[block, columns[None, :, :]]
        taken = (block != 0) & (columns != zero_column)[None, :, :]
        out[start: start + chunk] = np.where(taken, products, 0).sum(axis=1) + bias
    return int(np.where(indices != 0, per_row, 0).sum())


def lut_quantize_numpy(sums, thresholds, depth, out):
    """Twin of :func:`neurosim.chip._lut_kernels.lut_quantize`: the same ``depth`` probes, on every value at once."""
    pos = np.zeros_like(out)
    for level in range(depth - 1, -1, -1):
        probe = pos | (1 << level)
        pos = np.where(thresholds[probe - 1] <= sums, probe, pos)
    out[...] = pos
