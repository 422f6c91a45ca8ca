"""numba kernels of integer-only lookup-table inference (private); numpy twins in ``_lut_twins.py``.

Both kernels take and return plain integer arrays and hold no float and no multiplication: the tests inspect their
typed IR to check it.
"""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True, nogil=True)
def lut_accumulate(indices, row_ptr, nz_col, nz_code, table, bias, out):
    """Integer sums of one layer by table lookups and integer additions only.

    ``out[n, j] = bias[j] + sum_i table[indices[n, i], code[i, j]]`` over the non-zero codes, held row by row
    (compressed sparse rows): the non-zero codes of row ``i`` are ``nz_col[p]`` (output column) and ``nz_code[p]``
    (table column, code + max code) for ``p`` in ``row_ptr[i]:row_ptr[i + 1]``. A zero index (a zero activation)
    and a zero code are skipped: no lookup, no addition. Returns the lookups done (each one an addition).
    """
    n_vectors, fan_in = indices.shape
    fan_out = out.shape[1]
    lookups = 0
    for n in range(n_vectors):
        for j in range(fan_out):
            out[n, j] = bias[j]  # the accumulator starts at the bias: a register load, not an addition
        for i in range(fan_in):
            k = indices[n, i]
            if k == 0:
                continue
            start, stop = row_ptr[i], row_ptr[i + 1]
            for p in range(start, stop):
                out[n, nz_col[p]] += table[k, nz_code[p]]
            lookups += stop - start
    return lookups


@nb.njit(cache=True, nogil=True)
def lut_quantize(sums, thresholds, depth, out):
    """Next-layer activation indices from integer sums: the number of ``thresholds`` (ascending, padded to
    ``2**depth - 1`` entries with values no sum reaches) that are ``<=`` each sum, found by a branchless binary
    search of exactly ``depth`` integer comparisons per value (ReLU, quantisation and the clip at the top level in
    one). ``sums`` and ``out`` have the same shape (any), ``out`` an unsigned integer type."""
    flat_s = sums.reshape(-1)
    flat_out = out.reshape(-1)
    top = 1 << (depth - 1) if depth > 0 else 0
    for e in range(flat_s.size):
        s = flat_s[e]
        pos = 0
        step = top
        while step > 0:
            # pos has no bit below `step` set yet, so `pos | step` is the probe and the index update in one
            if thresholds[(pos | step) - 1] <= s:
                pos |= step
            step >>= 1
        flat_out[e] = pos
