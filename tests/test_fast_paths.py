"""The fast paths of issue 14 change run time, never numbers: row-chunk parallel inference equals one thread,
reused work arrays never leak between calls, incremental caches of held state equal a rebuild after any writes,
whole-layer requests that encode only changed weights equal a full encoding, and each new kernel equals its numpy
twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosim
from neurosim.chip import _kernels, _parallel, _twins
from neurosim.chip.contract import WriteRequest
from neurosim.chip.held import HeldState
from neurosim.encodings import get_encoding
from neurosim.memory import _kernels as mem_kernels
from neurosim.memory import _twins as mem_twins
from neurosim.nn import _kernels as nn_kernels
from neurosim.nn import _twins as nn_twins
from neurosim.nn.spec import model_from_spec

PROPS = settings(deadline=None, max_examples=25, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


def _chip(profile: str, spec: str = "64-48-10", seed: int = 0, **overrides) -> neurosim.Chip:
    p = neurosim.load_profile(profile)
    if overrides:
        p = p.replace({"name": f"{profile}_test", **overrides})
    return neurosim.Chip(p, model_from_spec(spec, (64,), 10, seed=seed), seed=seed)


# ----------------------------------------------------------------------------------- row-chunk parallelism
@pytest.mark.parametrize("profile,overrides", [
    ("ideal", {}),
    ("rram_hfo2", {"periphery.adc_bits": 4}),  # programming noise, faults, IR drop, read noise, narrow ADCs
    ("isaac_like", {}),  # bit-serial inputs, multi-level cells, several slices
    ("pcm", {}),
])
def test_parallel_chunks_give_the_numbers_of_one_thread(monkeypatch, profile, overrides):
    x = np.random.default_rng(3).random((1100, 64))
    runs = {}
    for threads in (1, 2, 3):
        monkeypatch.setenv("NEUROSIM_NUM_THREADS", str(threads))
        chip = _chip(profile, **overrides)
        chip.calibrate(x[:200])
        logits = chip.forward(x)
        runs[threads] = (logits, chip.ledger.to_dict())
        assert len(_parallel.chunks(len(x))) == min(threads, len(x) // _parallel.MIN_ROWS_PER_CHUNK)
    for threads in (2, 3):
        np.testing.assert_array_equal(runs[threads][0], runs[1][0])
        assert runs[threads][1] == runs[1][1]


def test_chunks_cover_every_row_once():
    for n in (0, 1, 255, 256, 511, 512, 1000, 4097):
        for threads in (1, 2, 3, 8):
            ranges = _parallel.chunks(n, threads)
            covered = np.concatenate([np.arange(lo, hi) for lo, hi in ranges]) if ranges else np.zeros(0)
            np.testing.assert_array_equal(covered, np.arange(n))
            assert len(ranges) == 1 or all(hi - lo >= _parallel.MIN_ROWS_PER_CHUNK - _parallel.ROW_ALIGN
                                           for lo, hi in ranges)
            assert all(lo % _parallel.ROW_ALIGN == 0 for lo, _ in ranges)


def test_row_chunks_of_a_product_give_the_whole_products_bits():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n, k, m = (int(v) for v in rng.integers((300, 5, 3), (3000, 300, 300)))
        a, b = rng.standard_normal((n, k + 7))[:, 3:3 + k], rng.standard_normal((k, m))  # strided, as tiles are
        whole = a @ b
        for threads in (2, 3):
            parts = np.vstack([a[lo:hi] @ b for lo, hi in _parallel.chunks(n, threads)])
            np.testing.assert_array_equal(parts, whole)


def test_a_chunk_error_reaches_the_caller():
    def work(i, lo, hi):
        if i == 1:
            raise ValueError("chunk 1 failed")
    with pytest.raises(ValueError, match="chunk 1"):
        _parallel.run_chunks(work, [(0, 300), (300, 600)])


# -------------------------------------------------------------------------------------- reused work arrays
@pytest.mark.parametrize("profile", ["ideal", "rram_hfo2"])
def test_work_arrays_never_leak_into_results(profile):
    x = np.random.default_rng(4).random((700, 64))
    chip, twin = _chip(profile), _chip(profile)
    first = chip.forward(x)
    kept = first.copy()
    small = chip.forward(x[:5])  # reuses the work arrays with another batch size
    again = chip.forward(x)
    np.testing.assert_array_equal(first, kept)  # a later call did not overwrite a returned array
    twin_first, twin_small, twin_again = twin.forward(x), twin.forward(x[:5]), twin.forward(x)
    np.testing.assert_array_equal(first, twin_first)
    np.testing.assert_array_equal(small, twin_small)
    np.testing.assert_array_equal(again, twin_again)


def test_ideal_chip_still_equals_the_reference_model_on_large_batches():
    chip = _chip("ideal")
    x = np.random.default_rng(5).random((1300, 64))
    np.testing.assert_array_equal(chip.predict(x, count=False), chip.model.predict(x))
    np.testing.assert_allclose(chip.forward(x, count=False), chip.model.forward(x), rtol=1e-9, atol=1e-9)


# -------------------------------------------------------------------------- incremental caches of held state
def _rebuilt(chip: neurosim.Chip) -> HeldState:
    return HeldState(chip.memory, chip.mapping, chip.registers)


def _assert_same_held(chip: neurosim.Chip) -> None:
    fresh = _rebuilt(chip)
    for i in chip.analog_layers():
        for a, b in zip(chip.held.slices(i), fresh.slices(i)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(chip.held.codes(i), fresh.codes(i))
        np.testing.assert_array_equal(chip.held.row_level_counts(i), fresh.row_level_counts(i))


@st.composite
def _write_sequences(draw):
    profile = draw(st.sampled_from(["rram_hfo2", "pcm", "isaac_like", "ideal"]))
    encoding = draw(st.sampled_from(["differential_pair", "bit_slice", "reference_column"]))
    endurance = draw(st.sampled_from([3, 10**6]))
    fail = draw(st.sampled_from(["last", "low", "high"]))
    steps = draw(st.lists(st.tuples(st.sampled_from(["whole", "updates", "drift", "age", "none"]),
                                    st.integers(0, 2**31)), min_size=1, max_size=6))
    return profile, encoding, endurance, fail, steps


@PROPS
@given(_write_sequences())
def test_incremental_caches_equal_a_rebuild_after_any_writes(case):
    profile, encoding, endurance, fail, steps = case
    p = neurosim.load_profile(profile)
    if encoding == "reference_column" and p.device.levels < 7:
        encoding = "bit_slice"
    overrides = {"name": "t", "crossbar.weight_encoding": encoding, "device.endurance_cycles": float(endurance),
                 "device.stuck_policy": fail, "crossbar.rows": 16, "crossbar.cols": 16, "periphery.columns_per_adc": 8,
                 "crossbar.cells_per_weight": get_encoding(encoding).layout(3, p.device.levels).cells_per_weight}
    chip = neurosim.Chip(p.replace(overrides), model_from_spec("20-12-5", (20,), 5, seed=1, weight_bits=3), seed=2)
    layers = chip.analog_layers()
    for kind, seed in steps:
        rng = np.random.default_rng(seed)
        _assert_same_held(chip)  # caches filled at this version, so the next step is the incremental one
        if kind == "whole":
            codes = {i: rng.integers(-3, 4, chip.model.layers[i].codes.shape) for i in layers}
            chip.apply(WriteRequest(codes=codes))
        elif kind == "updates":
            i = layers[int(rng.integers(len(layers)))]
            size = chip.model.layers[i].codes.size
            flat = rng.choice(size, int(rng.integers(1, size)), replace=False)
            chip.apply(WriteRequest(updates={i: (flat, rng.integers(-3, 4, flat.size))}))
        elif kind == "drift":
            chip.memory.digital_drift(0.05)
        elif kind == "age":
            chip.age(float(rng.integers(1, 10**6)))
    _assert_same_held(chip)


def test_a_request_naming_a_cell_twice_rebuilds_the_caches():
    chip = _chip("rram_hfo2")
    _assert_same_held(chip)
    cells = np.array([5, 9, 5], dtype=np.int64)
    chip.memory.program(cells, np.array([1, 1, 0], dtype=np.uint8))
    assert chip.memory.changes_at(chip.memory.version) is None
    _assert_same_held(chip)


# --------------------------------------------------------------------- whole-layer requests, changes only
@PROPS
@given(st.lists(st.integers(0, 2**31), min_size=2, max_size=6), st.sampled_from(["differential_pair", "bit_slice"]))
def test_whole_layer_requests_encode_like_a_full_encoding(seeds, encoding):
    profile = neurosim.load_profile("rram_hfo2").replace({
        "name": "t", "crossbar.weight_encoding": encoding,
        "crossbar.cells_per_weight": get_encoding(encoding).layout(7, 2).cells_per_weight})
    model = model_from_spec("30-20-4", (30,), 4, seed=0, weight_bits=4)
    chip = neurosim.Chip(profile, model, seed=0)
    encoder = chip._encoder
    for seed in seeds:
        rng = np.random.default_rng(seed)
        order = [2, 1] if seed % 2 else [1, 2]  # the request's layer order is kept
        codes = {i: rng.integers(-7, 8, model.layers[i].codes.shape) for i in order}
        if seed % 3 == 0:  # few changes: the usual case
            codes = {i: np.where(rng.random(c.shape) < 0.05, c, chip.stored_codes(i)) for i, c in codes.items()}
        cells, levels = encoder.encode(codes, {})
        want_cells, want_levels = [], []
        for i in order:
            lt = chip.mapping.tiling_of(i)
            lv = lt.encoding.encode(codes[i].reshape(lt.fan_in, lt.fan_out), lt.max_code, 2).reshape(-1)
            flat = lt.cell_index.reshape(-1)
            sort = np.argsort(flat, kind="stable")
            want_cells.append(flat[sort])
            want_levels.append(lv[sort])
        np.testing.assert_array_equal(cells, np.concatenate(want_cells))
        np.testing.assert_array_equal(levels, np.concatenate(want_levels))
        chip.apply(WriteRequest(codes=codes))


def test_a_request_of_several_sorted_layers_takes_the_fast_path_and_counts_like_one_by_one():
    a, b = _chip("rram_hfo2", seed=3), _chip("rram_hfo2", seed=3)
    rng = np.random.default_rng(0)
    codes = {i: rng.integers(-1, 2, a.model.layers[i].codes.shape) for i in (2, 1)}
    ra = a.apply(WriteRequest(codes=codes))
    assert a.memory.changes_at(a.memory.version) is not None  # no cell named twice: the candidates' path
    cells, levels = b._encoder.encode(codes, {})
    rb = b.memory.program(cells.copy(), levels.copy())
    assert (ra.written, ra.blocked, ra.requested) == (rb.written, rb.blocked, rb.requested)
    assert a.memory.state_digest() == b.memory.state_digest()


# ------------------------------------------------------------------------------------------- kernel twins
@settings(deadline=None, max_examples=60, derandomize=True, database=None)
@given(n=st.integers(0, 3000), dtype=st.sampled_from([np.float32, np.float64]), scale=st.floats(1e-6, 1e3),
       zeros=st.floats(0, 1), threshold=st.floats(0, 2))
def test_ternarize_kernel_equals_numpy_bit_for_bit(n, dtype, scale, zeros, threshold):
    rng = np.random.default_rng(n)
    w = (rng.standard_normal(n) * scale).astype(dtype)
    w[rng.random(n) < zeros] = 0
    got, want = np.empty(n, np.int8), np.empty(n, np.int8)
    got_mean, got_scale = nn_kernels.ternarize(w, threshold, got)
    want_mean, want_scale = nn_twins.ternarize_numpy(w, threshold, want)
    assert (got_mean, got_scale) == (want_mean, want_scale) or (np.isnan(got_mean) and np.isnan(want_mean))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n", [1, 7, 8, 127, 128, 129, 1000, 8192, 100_352, 1_000_003])
def test_pairwise_sum_is_numpys(n):
    w = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    assert nn_kernels._abs_pairwise_sum(w, 0, n) == np.abs(w.astype(np.float64)).sum()


def test_count_driven_matches_twin():
    rng = np.random.default_rng(0)
    drive = np.where(rng.random((50, 13)) < 0.4, 0.0, rng.random((50, 13)))
    got, want = np.full(13, 2, np.int64), np.full(13, 2, np.int64)
    _kernels.count_driven(drive, got)
    _twins.count_driven_numpy(drive, want)
    np.testing.assert_array_equal(got, want)


def test_scatter_scaled_and_effective_levels_at_match_twins():
    rng = np.random.default_rng(1)
    for _ in range(10):
        values = rng.standard_normal(300, dtype=np.float32)
        cells = rng.choice(2000, 300, replace=False)
        sigma = float(rng.uniform(0, 1))
        got, want = np.zeros(2000, np.float32), np.zeros(2000, np.float32)
        mem_kernels.scatter_scaled(got, cells, values, np.float32(sigma))
        mem_twins.scatter_scaled_numpy(want, cells, values, sigma)
        np.testing.assert_array_equal(got, want)
        stored = rng.integers(0, 4, 2000).astype(np.uint8)
        offsets, write_time = rng.normal(0, 0.3, 2000).astype(np.float32), rng.uniform(0, 5, 2000)
        got, want, every = np.empty(300), np.empty(300), np.empty(2000)
        mem_kernels.effective_levels_at(cells, stored, offsets, write_time, 9.0, 1.0, 0.05, 3, got)
        mem_twins.effective_levels_at_numpy(cells, stored, offsets, write_time, 9.0, 1.0, 0.05, 3, want)
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)  # numba's and numpy's pow: last bit apart
        # a few cells read alone give the bits the whole-memory read gives them (the held caches mix both)
        mem_kernels.effective_levels(stored, offsets, write_time, 9.0, 1.0, 0.05, 3, every)
        np.testing.assert_array_equal(got, every[cells])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("t", [1, 2, 50])
def test_adam_kernel_equals_the_numpy_update_bit_for_bit(dtype, t):
    from neurosim.training import _kernels as train_kernels
    from neurosim.training import _twins as train_twins

    rng = np.random.default_rng(t)
    param = rng.standard_normal(3001).astype(dtype)
    grad = rng.standard_normal(3001) * 10.0 ** rng.uniform(-6, 1, 3001)  # float64, as backprop gives it
    m, v = (rng.standard_normal(3001) * 0.01).astype(dtype), (rng.random(3001) * 1e-4).astype(dtype)
    f = np.dtype(dtype).type
    scalars = (f(0.9), f(1 - 0.9), f(0.999), f(0.001), f(1 - 0.9 ** t), f(1 - 0.999 ** t), f(3e-3), f(1e-8))
    # what sgd computed before the kernel, in numpy with Python floats
    g, m0, v0 = grad.astype(dtype), m.copy(), v.copy()
    m0 *= 0.9
    m0 += (1 - 0.9) * g
    v0 *= 0.999
    v0 += 0.001 * g * g
    want = (param - 3e-3 * (m0 / (1 - 0.9 ** t)) / (np.sqrt(v0 / (1 - 0.999 ** t)) + 1e-8)).astype(dtype)
    got_p, got_m, got_v = param.copy(), m.copy(), v.copy()
    train_kernels.adam_update(got_p, grad, got_m, got_v, *scalars)
    twin_p, twin_m, twin_v = param.copy(), m.copy(), v.copy()
    train_twins.adam_update_numpy(twin_p, grad, twin_m, twin_v, *scalars)
    for got, twin, ref in ((got_p, twin_p, want), (got_m, twin_m, m0), (got_v, twin_v, v0)):
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(twin, ref)


@st.composite
def _repeat_scenarios(draw):
    profile = draw(st.sampled_from(["rram_hfo2", "pcm", "isaac_like", "ideal", "sram"]))
    endurance = draw(st.sampled_from([1, 2, 5, 10**6]))
    fail = draw(st.sampled_from(["last", "low", "high"]))
    policy = draw(st.sampled_from(["skip_unchanged", "always"]))
    steps = draw(st.lists(st.tuples(st.sampled_from(["repeat", "repeat", "repeat", "other", "drift"]),
                                    st.integers(0, 2**31), st.floats(0, 1)), min_size=1, max_size=8))
    return profile, endurance, fail, policy, steps


@PROPS
@given(_repeat_scenarios())
def test_repeated_requests_of_one_cells_object_count_like_fresh_requests(case):
    """The memory's repeat path (same read-only cells object: only changed targets and stuck cells examined)
    gives what the full scan of a fresh copy gives: results, state, ledger."""
    profile, endurance, fail, policy, steps = case
    p = neurosim.load_profile(profile).replace({"name": "t", "device.endurance_cycles": float(endurance),
                                                "device.stuck_policy": fail, "write_policy.mode": policy})
    n = 500
    fast, slow = neurosim.NVMArray(n, p, seed=4), neurosim.NVMArray(n, p, seed=4)
    rng0 = np.random.default_rng(0)
    cells = np.sort(rng0.choice(n, 300, replace=False)).astype(np.int64)
    cells = np.concatenate([cells[150:], cells[:150]])  # two sorted runs, as a request of two layers
    cells.flags.writeable = False
    targets = rng0.integers(0, p.device.levels, cells.size).astype(np.uint8)
    for kind, seed, fraction in steps:
        rng = np.random.default_rng(seed)
        if kind == "repeat":
            change = rng.random(cells.size) < fraction
            targets = np.where(change, rng.integers(0, p.device.levels, cells.size), targets).astype(np.uint8)
            a, b = fast.program(cells, targets), slow.program(cells.copy(), targets.copy())
            assert (fast._repeat is not None) == (policy == "skip_unchanged")  # the path under test was taken
        elif kind == "other":  # another request in between: the next repeat must not trust what it kept
            other = rng.choice(n, 40, replace=False).astype(np.int64)
            levels = rng.integers(0, p.device.levels, 40).astype(np.uint8)
            a, b = fast.program(other, levels), slow.program(other.copy(), levels.copy())
        else:
            fast.digital_drift(0.1)
            slow.digital_drift(0.1)
            continue
        assert (a.requested, a.written, a.blocked, a.newly_failed) == (b.requested, b.written, b.blocked,
                                                                       b.newly_failed)
        np.testing.assert_array_equal(a.written_cells, b.written_cells)
        assert fast.state_digest() == slow.state_digest()
        assert fast.ledger.to_dict() == slow.ledger.to_dict()


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64, np.uint8])
def test_update_changed_matches_twin(dtype):
    rng = np.random.default_rng(2)
    for fraction in (0.0, 0.01, 0.5, 1.0):
        codes = rng.integers(0, 5, 1000).astype(dtype)
        last = np.where(rng.random(1000) < fraction, codes.astype(np.int32) + 1, codes.astype(np.int32))
        got_last, want_last = last.copy(), last.copy()
        got, want = np.full(1000, -1, np.int64), np.full(1000, -1, np.int64)
        n = _kernels.update_changed(codes, got_last, got)
        assert n == _twins.update_changed_numpy(codes, want_last, want)
        np.testing.assert_array_equal(got[:n], want[:n])
        np.testing.assert_array_equal(got_last, want_last)


@pytest.mark.parametrize("ahead", [True, False])
def test_prefetched_normals_hand_out_the_generators_own_sequence(ahead):
    sizes = np.random.default_rng(0).integers(0, 3000, 60)
    stream = _parallel.PrefetchedNormals(np.random.default_rng(7), block=1000)
    stream._ahead = ahead
    direct = np.random.default_rng(7)
    for size in sizes:
        out = np.empty((int(size), 1)) if size % 2 else np.empty(int(size))
        stream.fill(out, ahead=bool(size % 3))
        np.testing.assert_array_equal(out.reshape(-1), direct.standard_normal(int(size)))


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", "99999"])
def test_a_bad_thread_count_is_a_named_error(monkeypatch, value):
    from neurosim.errors import ExecutorError

    monkeypatch.setenv("NEUROSIM_NUM_THREADS", value)
    with pytest.raises(ExecutorError, match="NEUROSIM_NUM_THREADS.*" + repr(value).replace(".", r"\.")):
        _parallel.thread_count()
