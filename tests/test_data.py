"""neurosim.data: scikit-learn sets, the IDX reader, MNIST directories and the default MNIST location."""

from __future__ import annotations

import dataclasses
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim import DataError, NeurosimError
from neurosim.data import DATASETS, Dataset, load_dataset, read_idx
from neurosim.data import datasets as datasets_module

REAL_MNIST = Path("/work/shared/data/mnist")

# name -> (n_samples, input_shape, n_classes) of scikit-learn's bundled copies
SKLEARN = {
    "iris": (150, (4,), 3),
    "digits": (1797, (8, 8, 1), 10),
    "wine": (178, (13,), 3),
    "breast_cancer": (569, (30,), 2),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_mnist_pair(directory: Path, prefix: str, images: np.ndarray, labels: np.ndarray, *, gz: bool = True):
    ext = ".gz" if gz else ""
    write_idx(directory / f"{prefix}-images-idx3-ubyte{ext}", images)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte{ext}", labels)


def synthetic(n: int, seed: int, shape=(2, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


# ------------------------------------------------------------------------------------------- scikit-learn sets
def test_datasets_names():
    assert DATASETS == ("iris", "digits", "wine", "breast_cancer", "mnist")


@pytest.mark.parametrize("name", list(SKLEARN))
def test_sklearn_set_shapes_dtypes_range_and_classes(name):
    n, input_shape, n_classes = SKLEARN[name]
    d = load_dataset(name)
    assert isinstance(d, Dataset)
    assert (d.name, d.input_shape, d.n_classes) == (name, input_shape, n_classes)
    n_test = len(d.y_test)
    assert n_test + len(d.y_train) == n
    assert n_test == int(np.ceil(0.25 * n))  # scikit-learn rounds the test share up
    assert d.x_train.shape == (n - n_test, *input_shape) and d.x_test.shape == (n_test, *input_shape)
    assert d.x_train.dtype == d.x_test.dtype == np.float64
    assert d.y_train.dtype == d.y_test.dtype == np.int64
    for x in (d.x_train, d.x_test):
        assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0
    for y in (d.y_train, d.y_test):
        assert set(np.unique(y)) == set(range(n_classes))  # stratified: every class in both splits
    assert d.describe() == f"{name}: {n - n_test} train / {n_test} test, input {input_shape}, {n_classes} classes"


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_tabular_features_are_scaled_with_training_min_and_max(name):
    d = load_dataset(name, seed=3)
    np.testing.assert_array_equal(d.x_train.min(axis=0), 0.0)  # no constant features in these sets
    np.testing.assert_array_equal(d.x_train.max(axis=0), 1.0)
    # test features use the training scale: they are not each stretched to exactly [0, 1] themselves
    assert not (np.all(d.x_test.min(axis=0) == 0.0) and np.all(d.x_test.max(axis=0) == 1.0))


def test_tabular_test_data_is_clipped_to_training_range():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    raw = load_wine()
    x_train, x_test, _, _ = train_test_split(raw.data, raw.target, test_size=0.25, random_state=0,
                                             stratify=raw.target)
    lo, hi = x_train.min(axis=0), x_train.max(axis=0)
    assert ((x_test < lo) | (x_test > hi)).any()  # the clip, not luck, keeps this split's test set in [0, 1]
    d = load_dataset("wine", seed=0)
    np.testing.assert_array_equal(d.x_test, np.clip((x_test - lo) / (hi - lo), 0.0, 1.0))
    np.testing.assert_array_equal(d.x_train, (x_train - lo) / (hi - lo))


def test_constant_training_feature_maps_to_zero():
    x_train, x_test = datasets_module._minmax_from_train(np.array([[0.0, 5.0], [10.0, 5.0]]),
                                                         np.array([[-5.0, 5.0], [20.0, 7.0]]))
    np.testing.assert_array_equal(x_train, [[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(x_test, [[0.0, 0.0], [1.0, 1.0]])


def test_digits_are_images_scaled_by_16():
    d = load_dataset("digits")
    assert d.x_train.shape[1:] == (8, 8, 1)
    levels = d.x_train * 16
    np.testing.assert_array_equal(levels, np.round(levels))  # pixel values 0..16, divided by 16, not min-max
    assert d.x_train.max() == 1.0 and d.x_train.min() == 0.0


@pytest.mark.parametrize("name", list(SKLEARN))
def test_same_seed_gives_bit_identical_arrays(name):
    a, b = load_dataset(name, seed=7), load_dataset(name, seed=7)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes()


@pytest.mark.parametrize("name", list(SKLEARN))
def test_different_seed_gives_different_split(name):
    a, b = load_dataset(name, seed=0), load_dataset(name, seed=1)
    assert a.x_test.shape == b.x_test.shape
    assert not np.array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_train, b.y_train)


@pytest.mark.parametrize("name", list(SKLEARN))
def test_split_is_stratified(name):
    d = load_dataset(name, seed=5)
    y_all = np.concatenate([d.y_train, d.y_test])
    for k in range(d.n_classes):
        total, in_test = np.sum(y_all == k), np.sum(d.y_test == k)
        assert 0 < in_test < total
        assert abs(in_test - 0.25 * total) <= 1.0  # class shares preserved to within one sample


def test_arrays_are_read_only_and_dataset_is_frozen():
    d = load_dataset("iris")
    for field in ("x_train", "y_train", "x_test", "y_test"):
        arr = getattr(d, field)
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "other"


def test_dataset_does_not_freeze_the_callers_arrays():
    x = np.zeros((4, 2))
    d = Dataset("t", x, np.zeros(4, np.int64), x[:1], np.zeros(1, np.int64), (2,), 1)
    assert not d.x_train.flags.writeable and x.flags.writeable


def test_dataset_rejects_inconsistent_shapes():
    with pytest.raises(DataError, match=r"x_train has shape \(4, 2\) and y_train \(3,\)"):
        Dataset("t", np.zeros((4, 2)), np.zeros(3), np.zeros((1, 2)), np.zeros(1), (2,), 1)


@pytest.mark.parametrize("seed", [-1, 2 ** 32, 1.5, "0", True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(DataError, match=r"seed must be an int in \[0, 2\*\*32 - 1\]"):
        load_dataset("iris", seed=seed)


def test_bad_spec_lists_valid_names():
    with pytest.raises(DataError) as info:
        load_dataset("cifar10")
    msg = str(info.value)
    assert "'cifar10'" in msg and "mnist:PATH" in msg
    for name in DATASETS:
        assert name in msg
    assert isinstance(info.value, NeurosimError) and isinstance(info.value, ValueError)
    with pytest.raises(DataError, match="must be a str"):
        load_dataset(None)
    with pytest.raises(DataError, match="empty path"):
        load_dataset("mnist:")


# ------------------------------------------------------------------------------------------- IDX reader
@pytest.mark.parametrize("filename", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_read_idx_round_trip_plain_and_gz(tmp_path, filename):
    images, labels = synthetic(5, 0, shape=(3, 4))
    got = read_idx(write_idx(tmp_path / filename, images))
    assert got.dtype == np.uint8 and got.shape == (5, 3, 4) and not got.flags.writeable
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / f"l{filename}", labels)), labels)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=4), seed=st.integers(0, 2 ** 32 - 1),
       gz=st.booleans())
def test_read_idx_round_trips_any_shape(tmp_path_factory, shape, seed, gz):
    array = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    path = write_idx(tmp_path_factory.mktemp("idx") / ("x.gz" if gz else "x"), array)
    got = read_idx(path)
    assert got.shape == tuple(shape) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, array)


def test_read_idx_detects_gzip_by_content(tmp_path):
    path = tmp_path / "compressed-without-suffix"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))))
    np.testing.assert_array_equal(read_idx(str(path)), [[0, 1, 2], [3, 4, 5]])


def test_read_idx_missing_file(tmp_path):
    path = tmp_path / "nope.gz"
    with pytest.raises(DataError, match=rf"{path}: IDX file not found"):
        read_idx(path)


@pytest.mark.parametrize("payload, pattern", [
    (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", r"not an IDX file: magic number 0x12340801"),
    (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00" * 4, r"unsupported IDX element type 0x0d \(float32\)"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", r"unsupported IDX element type 0x07 \(unknown\)"),
    (b"\x00\x00\x08\x00", r"declares 0 dimensions"),
    (b"\x00\x00", r"truncated IDX header: 2 bytes"),
    (b"\x00\x00\x08\x03" + struct.pack(">2I", 2, 2), r"truncated IDX header: 3 dimensions need 16 header bytes"),
    (b"\x00\x00\x08\x02" + struct.pack(">2I", 2, 3) + b"\x00" * 5,
     r"truncated IDX data: shape \(2, 3\) needs 6 data bytes, the file has 5"),
    (b"\x00\x00\x08\x02" + struct.pack(">2I", 2, 3) + b"\x00" * 8,
     r"2 trailing bytes after the 6 data bytes that shape \(2, 3\) declares"),
], ids=["bad-magic", "float32", "unknown-type", "zero-dims", "short-magic", "short-header", "truncated",
        "trailing"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_read_idx_errors_name_the_file(tmp_path, payload, pattern, gz):
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(DataError, match=pattern) as info:
        read_idx(path)
    assert str(info.value).startswith(f"{path}: ")


def test_read_idx_truncated_gzip_stream(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 50), np.uint8)))[:-12])
    with pytest.raises(DataError, match=rf"{path}: truncated gzip stream"):
        read_idx(path)


def test_read_idx_directory_is_an_error(tmp_path):
    with pytest.raises(DataError, match=rf"{tmp_path}: cannot read IDX file"):
        read_idx(tmp_path)


# ------------------------------------------------------------------------------------------- MNIST directories
def test_mnist_t10k_only_gives_fixed_8000_2000_split(tmp_path):
    images, labels = synthetic(10_000, 1)
    write_mnist_pair(tmp_path, "t10k", images, labels)
    d = load_dataset(f"mnist:{tmp_path}")
    assert (d.name, d.input_shape, d.n_classes) == (f"mnist:{tmp_path}", (2, 3, 1), 10)
    assert d.x_train.shape == (8000, 2, 3, 1) and d.x_test.shape == (2000, 2, 3, 1)
    assert d.x_train.dtype == np.float64 and d.y_train.dtype == np.int64
    # first 8,000 train, last 2,000 test, in file order, scaled by 255
    np.testing.assert_array_equal(d.x_train[..., 0], images[:8000] / 255.0)
    np.testing.assert_array_equal(d.x_test[..., 0], images[8000:] / 255.0)
    np.testing.assert_array_equal(d.y_train, labels[:8000])
    np.testing.assert_array_equal(d.y_test, labels[8000:])
    assert load_dataset(f"mnist:{tmp_path}", seed=9).x_test.tobytes() == d.x_test.tobytes()  # seed ignored


def test_mnist_uses_training_files_when_present(tmp_path):
    train_x, train_y = synthetic(30, 2)
    test_x, test_y = synthetic(12, 3)
    write_mnist_pair(tmp_path, "train", train_x, train_y, gz=False)  # plain and gz files mix freely
    write_mnist_pair(tmp_path, "t10k", test_x, test_y, gz=True)
    d = load_dataset(f"mnist:{tmp_path}")
    assert d.x_train.shape == (30, 2, 3, 1) and d.x_test.shape == (12, 2, 3, 1)
    np.testing.assert_array_equal(d.x_train[..., 0] * 255, train_x)
    np.testing.assert_array_equal(d.y_test, test_y)
    assert d.x_train.max() <= 1.0 and d.x_train.min() >= 0.0


def test_mnist_count_mismatch_names_both_files_and_counts(tmp_path):
    images, labels = synthetic(10_000, 4)
    write_mnist_pair(tmp_path, "t10k", images, labels[:9_999])
    with pytest.raises(DataError) as info:
        load_dataset(f"mnist:{tmp_path}")
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte.gz has 10000 images" in msg
    assert "t10k-labels-idx1-ubyte.gz has 9999 labels" in msg


def test_mnist_labels_must_be_digits(tmp_path):
    images, labels = synthetic(10_000, 5)
    labels[123] = 10
    write_mnist_pair(tmp_path, "t10k", images, labels)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: MNIST labels must be in 0..9, label 123 is 10"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_t10k_only_needs_exactly_10000_images(tmp_path):
    write_mnist_pair(tmp_path, "t10k", *synthetic(9_000, 6))
    with pytest.raises(DataError, match=r"needs exactly 10000 t10k images .* got 9000"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_missing_or_half_present_files(tmp_path):
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\[.gz\] not found"):
        load_dataset(f"mnist:{tmp_path}")
    write_mnist_pair(tmp_path, "t10k", *synthetic(10_000, 7))
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", synthetic(5, 8)[0])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\[.gz\] not found"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_train_and_test_image_sizes_must_agree(tmp_path):
    write_mnist_pair(tmp_path, "train", *synthetic(5, 9, shape=(2, 3)))
    write_mnist_pair(tmp_path, "t10k", *synthetic(5, 9, shape=(3, 2)))
    with pytest.raises(DataError, match=r"training images are \(2, 3\) pixels, test images \(3, 2\)"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_wrong_dimensions(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((10, 784), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(10, np.uint8))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: MNIST images must have 3 dimensions"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_nonexistent_directory_is_named():
    with pytest.raises(DataError, match=r"MNIST directory not found: /nonexistent"):
        load_dataset("mnist:/nonexistent")


def test_real_mnist_test_set():
    if not (REAL_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found at {REAL_MNIST}")
    d = load_dataset(f"mnist:{REAL_MNIST}")
    assert d.input_shape == (28, 28, 1) and d.n_classes == 10
    assert d.x_train.shape == (8000, 28, 28, 1) and d.x_test.shape == (2000, 28, 28, 1)
    assert d.y_train.shape == (8000,) and d.y_test.shape == (2000,)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0 and d.x_test.max() <= 1.0
    assert set(np.unique(d.y_train)) == set(np.unique(d.y_test)) == set(range(10))
    assert d.describe() == f"mnist:{REAL_MNIST}: 8000 train / 2000 test, input (28, 28, 1), 10 classes"


# ------------------------------------------------------------------------------------------- default MNIST location
@pytest.fixture
def tiny_mnist():
    """Write a t10k-only MNIST directory at a path; returns the writer."""
    def make(directory: Path) -> Path:
        directory.mkdir(parents=True)
        write_mnist_pair(directory, "t10k", *synthetic(10_000, 10, shape=(1, 1)))
        return directory
    return make


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Work in an empty folder with no env variable and the repository-root fallback pointing into tmp_path."""
    monkeypatch.delenv("NEUROSIM_MNIST_DIR", raising=False)
    monkeypatch.setattr(datasets_module, "_repository_root", lambda: tmp_path / "elsewhere" / "repo")
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return tmp_path


def test_default_mnist_from_env_variable_first(isolated, tiny_mnist, monkeypatch):
    env_dir = tiny_mnist(isolated / "env_mnist")
    tiny_mnist(isolated / "a" / "b" / "shared" / "data" / "mnist")  # ../shared from cwd: lower priority
    monkeypatch.setenv("NEUROSIM_MNIST_DIR", str(env_dir))
    assert datasets_module._default_mnist_dir() == env_dir
    assert load_dataset("mnist").x_train.shape == (8000, 1, 1, 1)


def test_default_mnist_missing_env_dir_falls_through(isolated, tiny_mnist, monkeypatch):
    sibling = tiny_mnist(isolated / "a" / "b" / "shared" / "data" / "mnist")
    monkeypatch.setenv("NEUROSIM_MNIST_DIR", str(isolated / "not-there"))
    assert datasets_module._default_mnist_dir() == sibling


def test_default_mnist_walks_up_from_cwd(isolated, tiny_mnist):
    found = tiny_mnist(isolated / "shared" / "data" / "mnist")
    assert datasets_module._default_mnist_dir() == found


def test_default_mnist_repository_fallback(isolated, tiny_mnist, monkeypatch):
    monkeypatch.chdir("/")  # nothing found from the working directory (assumes no /shared/data/mnist)
    if Path("/shared/data/mnist").is_dir():
        pytest.skip("/shared/data/mnist exists on this machine")
    beside_repo = tiny_mnist(isolated / "elsewhere" / "shared" / "data" / "mnist")  # <repo root>/../shared/...
    assert datasets_module._default_mnist_dir() == beside_repo


def test_default_mnist_not_found_says_where_it_looked(isolated):
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    msg = str(info.value)
    assert "no MNIST directory found ($NEUROSIM_MNIST_DIR is not set)" in msg
    assert str(isolated / "a" / "b" / "shared" / "data" / "mnist") in msg
    assert str(isolated / "shared" / "data" / "mnist") in msg  # walking up
    assert str(isolated / "elsewhere" / "shared" / "data" / "mnist") in msg  # beside the repository root
    assert "'mnist:PATH'" in msg


# ------------------------------------------------------------------------------- hardening (issue "Hardening")
def test_gzip_bomb_is_stopped_at_the_limit(tmp_path, monkeypatch):
    from neurosim.data import idx as idx_module

    monkeypatch.setattr(idx_module, "MAX_IDX_BYTES", 1000)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 10, 10), np.uint8))))  # 1016 bytes inflated
    with pytest.raises(DataError, match=rf"{path}: gzip stream inflates to more than 1000 bytes"):
        read_idx(path)
    plain = tmp_path / "plain"
    plain.write_bytes(idx_bytes(np.zeros((10, 10, 10), np.uint8)))
    with pytest.raises(DataError, match=rf"{plain}: IDX file larger than 1000 bytes"):
        read_idx(plain)


@pytest.mark.parametrize("kind", ["fifo", "symlink_loop", "nul", "long_name"])
def test_read_idx_of_paths_that_are_not_regular_files(tmp_path, kind):
    import os

    path = tmp_path / "x-idx1-ubyte"
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block for ever
    elif kind == "symlink_loop":
        path.symlink_to(path.name)
    elif kind == "nul":
        path = tmp_path / "a\x00b"
    else:
        path = tmp_path / ("x" * 300)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("spec", ["mnist:" + "x" * 300, "mnist:a\x00b", "mnist:~no_such_user_zz/mnist",
                                  "mnist:" + "x/" * 3000])
def test_mnist_paths_that_cannot_exist_are_data_errors(spec):
    """Names too long, NUL characters and unknown users used to raise OSError, ValueError and RuntimeError."""
    with pytest.raises(DataError) as info:
        load_dataset(spec)
    assert "MNIST directory" in str(info.value) or "cannot expand" in str(info.value)


def test_mnist_entry_that_is_a_directory_or_symlink_loop_is_named(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").mkdir()
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: cannot read MNIST file: is a directory"):
        load_dataset(f"mnist:{tmp_path}")
    (tmp_path / "t10k-images-idx3-ubyte").rmdir()
    (tmp_path / "t10k-images-idx3-ubyte").symlink_to("t10k-images-idx3-ubyte")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: cannot read MNIST file: too many levels of symbolic"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_files_without_images_or_pixels_are_refused(tmp_path):
    write_mnist_pair(tmp_path, "train", np.zeros((0, 2, 3), np.uint8), np.zeros(0, np.uint8))
    write_mnist_pair(tmp_path, "t10k", *synthetic(5, 1))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: holds no images"):
        load_dataset(f"mnist:{tmp_path}")
    write_mnist_pair(tmp_path, "train", np.zeros((5, 0, 3), np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: MNIST images of 0x3 pixels"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_pixel_limit_is_checked_before_the_float_copies(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets_module, "MAX_MNIST_PIXELS", 100)
    write_mnist_pair(tmp_path, "train", *synthetic(10, 1))
    write_mnist_pair(tmp_path, "t10k", *synthetic(10, 2))
    with pytest.raises(DataError, match=r"hold 120 pixels in all; at most 100"):
        load_dataset(f"mnist:{tmp_path}")


def test_huge_claimed_idx_dimensions_are_refused_without_allocating(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1) + b"\0" * 16)
    with pytest.raises(DataError, match=r"truncated IDX data: shape \(4294967295, 4294967295, 4294967295\)"):
        read_idx(path)


def test_validation_split_carves_from_training_data_only():
    from neurosim.data import validation_split

    data = load_dataset("iris")
    split = validation_split(data, 0.25, seed=3)
    assert len(split.x_train) + len(split.x_test) == len(data.x_train)
    assert len(split.x_test) == round(0.25 * len(data.x_train))
    both = np.concatenate([split.x_train, split.x_test])
    train_rows = {r.tobytes() for r in data.x_train}
    assert all(r.tobytes() in train_rows for r in both)  # nothing of the test part
    again = validation_split(data, 0.25, seed=3)
    np.testing.assert_array_equal(again.x_test, split.x_test)
    assert not np.array_equal(validation_split(data, 0.25, seed=4).y_test, split.y_test) or len(split.y_test) < 3
    for bad in (0, 1, 1.5, -0.1, True, "0.2"):
        with pytest.raises(DataError, match="validation fraction"):
            validation_split(data, bad)
