"""Data sets for on-chip training: scikit-learn's bundled sets and MNIST from IDX files.

Every set comes back as a :class:`Dataset` with inputs scaled to [0, 1], the range the chip's input DACs are
calibrated for:

- *Images* are divided by their format's full scale: MNIST by 255, scikit-learn's ``digits`` by 16.
- *Tabular features* are min-max scaled with the **training** split's per-feature minimum and maximum, then clipped
  to [0, 1], so test data never leaves the calibrated range and no test statistics leak into training. A feature
  that is constant in the training split maps to 0.

Splits:

- scikit-learn sets: stratified, 25 % test, seeded (same seed, bit-identical arrays).
- MNIST: the official ``train-*`` / ``t10k-*`` files when the training files are present; otherwise the project's
  fixed benchmark split of the 10,000-image test set: first 8,000 to train, last 2,000 to test, not shuffled.

Limits: an IDX file holds at most 2**30 bytes (:data:`~neurosim.data.idx.MAX_IDX_BYTES`, checked before reading or
inflating) and an MNIST folder at most :data:`MAX_MNIST_PIXELS` pixels in all, checked before the float64 copies are
made; every file must hold at least one image of at least 1x1 pixels.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .idx import path_problem, read_idx

_SKLEARN_SETS = ("iris", "digits", "wine", "breast_cancer")
DATASETS: tuple[str, ...] = (*_SKLEARN_SETS, "mnist")

_TEST_FRACTION = 0.25
_MAX_SEED = 2 ** 32 - 1  # scikit-learn's random_state range
_MNIST_ENV = "NEUROSIM_MNIST_DIR"
_MNIST_CLASSES = 10
_T10K_ONLY_TOTAL, _T10K_ONLY_TRAIN = 10_000, 8_000
#: most MNIST pixels loaded (train and test): 2**28, 2 GiB as float64 (MNIST has 5.5e7)
MAX_MNIST_PIXELS = 2 ** 28


@dataclass(frozen=True, eq=False)  # eq=False: comparing array fields with == is ambiguous
class Dataset:
    """A data set split into training and test parts, inputs scaled to [0, 1].

    The arrays are read-only views (``flags.writeable`` is False), so one loaded set can be shared by several
    simulations without one of them altering the data another sees.

    Attributes
    ----------
    name : str
        The spec it was loaded from, e.g. ``"iris"`` or ``"mnist:/data/mnist"``.
    x_train, x_test : ndarray of float64
        Inputs, shape ``(N, *input_shape)``.
    y_train, y_test : ndarray of int64
        Class labels in ``0 .. n_classes - 1``, shape ``(N,)``.
    input_shape : tuple of int
        Shape of one input: ``(height, width, 1)`` for images, ``(n_features,)`` for tabular sets.
    n_classes : int
        Number of classes.
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    input_shape: tuple[int, ...]
    n_classes: int

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        for part in ("train", "test"):
            x = _frozen(getattr(self, f"x_{part}"), np.float64)
            y = _frozen(getattr(self, f"y_{part}"), np.int64)
            if x.shape[1:] != self.input_shape or y.shape != x.shape[:1]:
                raise DataError(f"data set {self.name!r}: x_{part} has shape {x.shape} and y_{part} {y.shape}; "
                                f"with input_shape {self.input_shape} they must be (N, *input_shape) and (N,)")
            object.__setattr__(self, f"x_{part}", x)
            object.__setattr__(self, f"y_{part}", y)

    def describe(self) -> str:
        """One-line summary, e.g. ``"iris: 112 train / 38 test, input (4,), 3 classes"``."""
        return (f"{self.name}: {len(self.y_train)} train / {len(self.y_test)} test, "
                f"input {self.input_shape}, {self.n_classes} classes")


def validation_split(data: Dataset, fraction: float = 0.25, seed: int = 0) -> Dataset:
    """A data set for choosing hyper-parameters: a random ``fraction`` of ``data``'s *training* part becomes its test
    part (the validation images), the rest its training part; ``data``'s own test part is left out entirely.

    Raises
    ------
    DataError
        For a fraction outside (0, 1) or a training part too small to split.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise DataError(f"validation fraction must be a number in (0, 1) (got {fraction!r})")
    n = len(data.x_train)
    k = int(round(fraction * n))
    if k < 1 or k >= n:
        raise DataError(f"data set {data.name!r}: {n} training samples cannot be split {fraction:g} for validation")
    order = np.random.default_rng([seed, 0x7A1]).permutation(n)
    keep, held = np.sort(order[k:]), np.sort(order[:k])
    return Dataset(name=f"{data.name}[validation {fraction:g}, seed {seed}]", x_train=data.x_train[keep],
                   y_train=data.y_train[keep], x_test=data.x_train[held], y_test=data.y_train[held],
                   input_shape=data.input_shape, n_classes=data.n_classes)


def _frozen(array, dtype) -> np.ndarray:
    # A read-only *view*: the flag does not reach the caller's own array if none had to be copied.
    out = np.ascontiguousarray(array, dtype=dtype).view()
    out.flags.writeable = False
    return out


def load_dataset(spec: str, *, seed: int = 0) -> Dataset:
    """Load a data set, split and scaled to [0, 1] (see the module docstring for the rules).

    Parameters
    ----------
    spec : str
        ``"iris"``, ``"digits"``, ``"wine"``, ``"breast_cancer"`` (scikit-learn's bundled copies, no download),
        ``"mnist"`` (IDX files in the default location, see below) or ``"mnist:PATH"`` (a directory of MNIST IDX
        files, plain or ``.gz``).
    seed : int, default 0
        Seed of the stratified split of the scikit-learn sets, in ``[0, 2**32 - 1]``. MNIST splits are fixed and
        ignore it.

    Returns
    -------
    Dataset
        Read-only arrays; ``input_shape`` is ``(28, 28, 1)`` for MNIST, ``(8, 8, 1)`` for digits and
        ``(n_features,)`` for the tabular sets.

    Raises
    ------
    DataError
        Unknown spec (listing the valid names), bad seed, MNIST directory or files missing or malformed.

    Notes
    -----
    ``"mnist"`` uses the first existing directory of: ``$NEUROSIM_MNIST_DIR``; ``../shared/data/mnist`` relative
    to the working directory; ``shared/data/mnist`` in the working directory or any parent; and
    ``../shared/data/mnist`` next to the repository root of this package.
    """
    if not isinstance(spec, str):
        raise DataError(f"data set spec must be a str, got {type(spec).__name__} {_shown(spec)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= _MAX_SEED:
        raise DataError(f"load_dataset: seed must be an int in [0, 2**32 - 1], got {seed!r}")
    if spec in _SKLEARN_SETS:
        return _load_sklearn(spec, int(seed))
    if spec == "mnist":
        return _load_mnist(_default_mnist_dir(), name=spec)
    if spec.startswith("mnist:"):
        directory = spec.split(":", 1)[1]
        if not directory:
            raise DataError("data set spec 'mnist:' has an empty path; give 'mnist:PATH' or just 'mnist'")
        try:
            folder = Path(directory).expanduser()
        except RuntimeError as exc:  # '~nosuchuser/...': no home directory to expand to
            raise DataError(f"data set spec {_shown(spec)}: cannot expand the path: {exc}") from None
        return _load_mnist(folder, name=spec)
    raise DataError(f"unknown data set {_shown(spec)}; valid names are: {', '.join(DATASETS)} "
                    "(or 'mnist:PATH' for a directory of MNIST IDX files)")


def _shown(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------- scikit-learn sets
def _load_sklearn(name: str, seed: int) -> Dataset:
    # Imported here: scikit-learn takes about a second to import and only these sets need it.
    from sklearn import datasets as skd
    from sklearn.model_selection import train_test_split

    bunch = getattr(skd, f"load_{name}")()
    y = np.asarray(bunch.target, dtype=np.int64)
    if name == "digits":
        x = np.asarray(bunch.images, dtype=np.float64)[..., np.newaxis] / 16.0  # pixel values are 0..16
    else:
        x = np.asarray(bunch.data, dtype=np.float64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=_TEST_FRACTION, random_state=seed,
                                                        stratify=y)
    if name != "digits":
        x_train, x_test = _minmax_from_train(x_train, x_test)
    return Dataset(name=name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   input_shape=x.shape[1:], n_classes=len(bunch.target_names))


def _minmax_from_train(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = x_train.min(axis=0), x_train.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)  # a constant training feature maps to 0 instead of dividing by 0
    return (np.clip((x_train - lo) / span, 0.0, 1.0),  # clip only absorbs rounding here
            np.clip((x_test - lo) / span, 0.0, 1.0))


# ------------------------------------------------------------------------------------------- MNIST
def _repository_root() -> Path:
    return Path(__file__).resolve().parents[2]  # neurosim/data/datasets.py -> the checkout (or site-packages)


def _mnist_candidates() -> list[Path]:
    candidates = []
    env = os.environ.get(_MNIST_ENV)
    if env:
        candidates.append(Path(env).expanduser())
    cwd = Path.cwd()
    candidates.append(cwd.parent / "shared" / "data" / "mnist")
    candidates.extend(p / "shared" / "data" / "mnist" for p in (cwd, *cwd.parents))
    candidates.append(_repository_root().parent / "shared" / "data" / "mnist")
    return candidates


def _is_dir(path: Path) -> bool:
    # (Path.is_dir raises for a name too long or a NUL character; a candidate that cannot exist is not a directory)
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _default_mnist_dir() -> Path:
    candidates = _mnist_candidates()
    for path in candidates:
        if _is_dir(path):
            return path
    env_note = "" if os.environ.get(_MNIST_ENV) else f" (${_MNIST_ENV} is not set)"
    looked = "; ".join(dict.fromkeys(str(p) for p in candidates))  # walking up can repeat a directory
    raise DataError(f"no MNIST directory found{env_note}; looked in: {looked}. Pass 'mnist:PATH' naming a "
                    f"directory of MNIST IDX files, or set {_MNIST_ENV}")


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):  # the plain file wins if both are there
        problem = path_problem(candidate)
        if problem is None:
            return candidate
        if problem != "not found":  # a directory, a pipe or a symlink loop by that name: say so, not "not found"
            raise DataError(f"{candidate}: cannot read MNIST file: {problem}")
    return None


def _read_pair(directory: Path, prefix: str, *, required: bool) -> tuple[np.ndarray, np.ndarray] | None:
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    found = [_find_file(directory, s) for s in stems]
    if found == [None, None] and not required:
        return None
    for stem, path in zip(stems, found):
        if path is None:
            raise DataError(f"{directory}: MNIST file {stem}[.gz] not found"
                            + ("" if required else f" (needed with its partner {prefix}-* file)"))
    images_path, labels_path = found
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: MNIST images must have 3 dimensions (count, rows, columns), "
                        f"got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: MNIST labels must have 1 dimension (count), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"MNIST image and label counts differ: {images_path} has {len(images)} images, "
                        f"{labels_path} has {len(labels)} labels")
    if len(images) == 0:
        raise DataError(f"{images_path}: holds no images; an MNIST file needs at least one")
    if 0 in images.shape[1:]:
        raise DataError(f"{images_path}: MNIST images of {images.shape[1]}x{images.shape[2]} pixels; both sizes "
                        "must be >= 1")
    if labels.size and labels.max() >= _MNIST_CLASSES:
        bad = int(np.argmax(labels >= _MNIST_CLASSES))
        raise DataError(f"{labels_path}: MNIST labels must be in 0..{_MNIST_CLASSES - 1}, "
                        f"label {bad} is {int(labels[bad])}")
    return images, labels


def _load_mnist(directory: Path, *, name: str) -> Dataset:
    problem = path_problem(directory)
    if problem == "not found":
        raise DataError(f"MNIST directory not found: {directory}")
    if problem is None:
        raise DataError(f"MNIST directory not found: {directory} (it is not a directory)")
    if problem != "is a directory":
        raise DataError(f"MNIST directory {_shown(str(directory), 300)}: {problem}")
    train = _read_pair(directory, "train", required=False)
    test = _read_pair(directory, "t10k", required=True)
    pixels = sum(pair[0].size for pair in (train, test) if pair is not None)
    if pixels > MAX_MNIST_PIXELS:  # the float64 copies below take 8 bytes a pixel
        raise DataError(f"{directory}: MNIST files hold {pixels} pixels in all; at most {MAX_MNIST_PIXELS} (2**28, "
                        f"{MAX_MNIST_PIXELS * 8 // 2**30} GiB as float64)")
    if train is not None:
        (x_train, y_train), (x_test, y_test) = train, test
        if x_train.shape[1:] != x_test.shape[1:]:
            raise DataError(f"{directory}: MNIST training images are {x_train.shape[1:]} pixels, test images "
                            f"{x_test.shape[1:]}; they must agree")
    else:
        images, labels = test
        if len(images) != _T10K_ONLY_TOTAL:
            raise DataError(f"{directory}: without training files the benchmark split needs exactly "
                            f"{_T10K_ONLY_TOTAL} t10k images (first {_T10K_ONLY_TRAIN} train, the rest test), "
                            f"got {len(images)}")
        x_train, y_train = images[:_T10K_ONLY_TRAIN], labels[:_T10K_ONLY_TRAIN]
        x_test, y_test = images[_T10K_ONLY_TRAIN:], labels[_T10K_ONLY_TRAIN:]

    def scaled(images: np.ndarray) -> np.ndarray:
        return images[..., np.newaxis].astype(np.float64) / 255.0

    return Dataset(name=name, x_train=scaled(x_train), y_train=y_train, x_test=scaled(x_test), y_test=y_test,
                   input_shape=(*x_test.shape[1:], 1), n_classes=_MNIST_CLASSES)
