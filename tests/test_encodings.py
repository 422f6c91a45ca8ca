"""Weight encodings (neurosim.mapping.encodings): exact round trips, footprints, cell changes, linearity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurosim import MappingError
from neurosim.mapping import ENCODINGS, EncodingLayout, get_encoding

MAX_CODES = (1, 3, 7, 127)  # ternary, 3-, 4- and 8-bit weights
LEVELS = (2, 3, 4, 8, 16)
ALL_COMBOS = list(itertools.product(sorted(ENCODINGS), MAX_CODES, LEVELS))


def _fits(name: str, max_code: int, levels: int) -> bool:
    try:
        ENCODINGS[name].layout(max_code, levels)
    except MappingError:
        return False
    return True


# combinations whose layout raises MappingError are skipped here; test_layout_raises_exactly_when_cells_too_few
# pins down which ones those are
COMBOS = [c for c in ALL_COMBOS if _fits(*c)]
COMBO_IDS = [f"{n}-max{m}-L{lv}" for n, m, lv in COMBOS]


def _reference(name: str, shape: tuple[int, ...], levels: int) -> np.ndarray | None:
    """The reference cells' level broadcast to ``shape`` for encodings with a reference column, else None."""
    enc = ENCODINGS[name]
    if enc.layout(1, max(levels, 3)).reference_columns == 0:
        return None
    return np.full(shape, enc.reference_level(levels), dtype=np.float64)


def _all_codes(max_code: int) -> np.ndarray:
    return np.arange(-max_code, max_code + 1, dtype=np.int64)


def _min_digits(value: int, base: int) -> int:
    """Fewest base-``base`` digits that can hold ``value`` (independent of the package's helper)."""
    n = 1
    while base ** n - 1 < value:
        n += 1
    return n


# ------------------------------------------------------------------------------------------------ registry
def test_registry_holds_the_three_documented_encodings():
    assert set(ENCODINGS) == {"differential_pair", "reference_column", "bit_slice"}
    for name, enc in ENCODINGS.items():
        assert enc.name == name
        assert get_encoding(name) is enc


def test_get_encoding_unknown_name_lists_the_registered_ones():
    with pytest.raises(MappingError) as info:
        get_encoding("nope")
    msg = str(info.value)
    assert "'nope'" in msg
    for name in ENCODINGS:
        assert name in msg


def test_the_combination_grid_is_not_empty_for_any_encoding():
    for name in ENCODINGS:
        assert sum(1 for c in COMBOS if c[0] == name) >= 5, name


# ------------------------------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("name,max_code,levels", ALL_COMBOS,
                         ids=[f"{n}-max{m}-L{lv}" for n, m, lv in ALL_COMBOS])
def test_layout_raises_exactly_when_cells_too_few(name, max_code, levels):
    """Only reference_column has a limit: one cell must hold ref +/- max_code, i.e. 2 * max_code + 1 levels."""
    enc = ENCODINGS[name]
    if name == "reference_column" and levels < 2 * max_code + 1:
        with pytest.raises(MappingError) as info:
            enc.layout(max_code, levels)
        msg = str(info.value)
        assert f"{2 * max_code + 1} levels" in msg
        assert f"{levels}-level" in msg
        with pytest.raises(MappingError):  # encode checks the layout too
            enc.encode(np.zeros(3, dtype=np.int64), max_code, levels)
    else:
        assert isinstance(enc.layout(max_code, levels), EncodingLayout)


def test_reference_column_on_binary_cells_names_the_levels_needed():
    with pytest.raises(MappingError) as info:
        get_encoding("reference_column").layout(1, 2)
    msg = str(info.value)
    assert "reference_column" in msg
    assert "2-level" in msg
    assert "at least 3 levels" in msg


@pytest.mark.parametrize("name,max_code,levels", COMBOS, ids=COMBO_IDS)
def test_layout_footprint(name, max_code, levels):
    lay = ENCODINGS[name].layout(max_code, levels)
    assert lay.cells_per_weight == lay.slices * lay.cells_per_slice
    assert lay.base == levels
    if name == "differential_pair":
        assert (lay.cells_per_slice, lay.reference_columns, lay.offset) == (2, 0, 0)
        assert lay.slices == _min_digits(max_code, levels)
        assert lay.cells_per_weight == 2 * _min_digits(max_code, levels)
    elif name == "bit_slice":
        assert (lay.cells_per_slice, lay.reference_columns, lay.offset) == (1, 0, max_code)
        assert lay.slices == _min_digits(2 * max_code, levels)
        assert lay.cells_per_weight == _min_digits(2 * max_code, levels)
    else:
        assert (lay.slices, lay.cells_per_slice, lay.reference_columns, lay.offset) == (1, 1, 1, 0)
        assert lay.cells_per_weight == 1


@pytest.mark.parametrize("name,max_code,levels,cells", [
    ("differential_pair", 1, 2, 2),    # ternary on binary cells: a plus and a minus cell
    ("differential_pair", 7, 2, 6),    # 4-bit magnitude 0..7: 3 binary digits, twice
    ("differential_pair", 7, 8, 2),
    ("differential_pair", 127, 16, 4),
    ("bit_slice", 1, 2, 2),            # 0..2 offset binary: 2 bits
    ("bit_slice", 7, 2, 4),            # 0..14: 4 bits
    ("bit_slice", 7, 16, 1),
    ("bit_slice", 127, 4, 4),          # 0..254: 4 base-4 digits
    ("reference_column", 1, 3, 1),
    ("reference_column", 7, 16, 1),
])
def test_cells_per_weight_known_values(name, max_code, levels, cells):
    assert ENCODINGS[name].layout(max_code, levels).cells_per_weight == cells


# ------------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("name,max_code,levels", COMBOS, ids=COMBO_IDS)
def test_decode_inverts_encode_for_every_code(name, max_code, levels):
    """decode(encode(codes)) == codes for every code in range, with the cells given as levels (float64, as the
    chip's memory reads them)."""
    enc = ENCODINGS[name]
    lay = enc.layout(max_code, levels)
    codes = _all_codes(max_code)
    cells = enc.encode(codes, max_code, levels)
    assert cells.dtype == np.uint8
    assert cells.shape == codes.shape + (lay.slices, lay.cells_per_slice)
    assert cells.min() >= 0 and cells.max() <= levels - 1
    decoded = enc.decode(cells.astype(np.float64), _reference(name, codes.shape, levels), max_code, levels)
    assert decoded.shape == codes.shape
    np.testing.assert_array_equal(decoded, codes)
    # distinct codes have distinct cell patterns (the encoding is injective)
    assert len({c.tobytes() for c in cells}) == codes.size


@pytest.mark.parametrize("name,max_code,levels", COMBOS, ids=COMBO_IDS)
def test_decode_inverts_encode_on_its_own_uint8_output(name, max_code, levels):
    """decode is documented as 'the exact inverse of encode': it must accept encode's uint8 array as it is
    (a differential pair subtracting uint8 cells would wrap -1 around to 255)."""
    enc = ENCODINGS[name]
    codes = _all_codes(max_code)
    cells = enc.encode(codes, max_code, levels)
    assert cells.dtype == np.uint8
    decoded = enc.decode(cells, _reference(name, codes.shape, levels), max_code, levels)
    np.testing.assert_array_equal(decoded, codes)
    values = enc.slice_values(cells, _reference(name, codes.shape, levels), levels)
    assert values.min() >= -enc.layout(max_code, levels).slice_max  # no wrap-around in the slice values either


@pytest.mark.parametrize("name,max_code,levels", COMBOS, ids=COMBO_IDS)
def test_round_trip_keeps_array_shape(name, max_code, levels):
    enc = ENCODINGS[name]
    lay = enc.layout(max_code, levels)
    rng = np.random.default_rng(max_code * 100 + levels)
    codes = rng.integers(-max_code, max_code + 1, size=(5, 3, 4))
    cells = enc.encode(codes, max_code, levels)
    assert cells.shape == (5, 3, 4, lay.slices, lay.cells_per_slice)
    assert cells.min() >= 0 and cells.max() <= levels - 1
    np.testing.assert_array_equal(
        enc.decode(cells.astype(np.float64), _reference(name, codes.shape, levels), max_code, levels), codes)


@pytest.mark.parametrize("name,max_code,levels", COMBOS, ids=COMBO_IDS)
def test_slice_values_stay_within_slice_max(name, max_code, levels):
    """slice_max bounds every slice's analog value (the converters' guaranteed ranges rely on it)."""
    enc = ENCODINGS[name]
    lay = enc.layout(max_code, levels)
    codes = _all_codes(max_code)
    values = enc.slice_values(enc.encode(codes, max_code, levels).astype(np.float64),
                              _reference(name, codes.shape, levels), levels)
    assert values.shape == codes.shape + (lay.slices,)
    assert np.abs(values).max() <= lay.slice_max


@pytest.mark.parametrize("name,max_code,levels", COMBOS, ids=COMBO_IDS)
def test_decode_is_the_shift_add_of_slice_values(name, max_code, levels):
    """decode == sum_s base**s * slice_values[..., s] - offset, on encoded and on arbitrary (noisy) cell levels,
    and slice_values is affine in the cells (linear for encodings without a reference)."""
    enc = ENCODINGS[name]
    lay = enc.layout(max_code, levels)
    codes = _all_codes(max_code)
    ref = _reference(name, codes.shape, levels)
    exact = enc.encode(codes, max_code, levels).astype(np.float64)
    rng = np.random.default_rng(levels + 7 * max_code)
    noisy = np.clip(exact + rng.normal(0.0, 0.3, exact.shape), 0, levels - 1)
    noisy_ref = None if ref is None else ref + rng.normal(0.0, 0.3, ref.shape)
    powers = float(lay.base) ** np.arange(lay.slices)
    for cells, r in ((exact, ref), (noisy, noisy_ref)):
        values = enc.slice_values(cells, r, levels)
        manual = sum(powers[s] * values[..., s] for s in range(lay.slices)) - lay.offset
        np.testing.assert_allclose(enc.decode(cells, r, max_code, levels), manual, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(
        sum(powers[s] * enc.slice_values(exact, ref, levels)[..., s] for s in range(lay.slices)) - lay.offset,
        codes)
    # additivity of the cell part: values(a + b) = values(a) + values(b) - values(0) (the reference term)
    zero = np.zeros_like(exact)
    zref = None if ref is None else np.zeros_like(ref)
    a, b = exact, noisy
    np.testing.assert_allclose(enc.slice_values(a + b, zref, levels),
                               enc.slice_values(a, zref, levels) + enc.slice_values(b, zref, levels)
                               - enc.slice_values(zero, zref, levels), rtol=0, atol=1e-12)


def test_reference_column_decoding_needs_the_reference():
    enc = get_encoding("reference_column")
    cells = enc.encode(np.array([-1, 0, 1]), 1, 4)
    with pytest.raises(MappingError):
        enc.decode(cells, None, 1, 4)


def test_reference_level_is_the_middle_level():
    enc = get_encoding("reference_column")
    assert [enc.reference_level(lv) for lv in (3, 4, 8, 16)] == [1, 1, 3, 7]
    # encode stores ref + w
    np.testing.assert_array_equal(enc.encode(np.array([-3, 0, 3]), 3, 8)[..., 0, 0], [0, 3, 6])


# ---------------------------------------------------------------------------------------- cell changes
def _cells_changed(name: str, a: int, b: int, max_code: int = 1, levels: int = 2) -> int:
    enc = ENCODINGS[name]
    ca = enc.encode(np.array([a]), max_code, levels)
    cb = enc.encode(np.array([b]), max_code, levels)
    return int(np.count_nonzero(ca != cb))


@pytest.mark.parametrize("a,b,changed", [
    (1, -1, 2), (-1, 1, 2),
    (1, 0, 1), (0, 1, 1),
    (0, -1, 1), (-1, 0, 1),
    (1, 1, 0), (0, 0, 0), (-1, -1, 0),
])
def test_differential_pair_cells_changed_on_binary_cells(a, b, changed):
    assert _cells_changed("differential_pair", a, b) == changed


def test_differential_pair_ternary_levels_are_the_documented_ones():
    enc = get_encoding("differential_pair")
    cells = enc.encode(np.array([1, -1, 0]), 1, 2)[:, 0, :]
    np.testing.assert_array_equal(cells, [[1, 0], [0, 1], [0, 0]])


def test_differential_pair_zero_is_all_cells_low():
    """Zero weights cost no programming from the initial all-0 state, at any precision."""
    for max_code, levels in itertools.product(MAX_CODES, LEVELS):
        cells = get_encoding("differential_pair").encode(np.array([0]), max_code, levels)
        assert not cells.any()
