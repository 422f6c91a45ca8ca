"""Online-adaptation scenarios: a model pre-trained on the host meets a shifted stream on the chip.

A scenario splits a data set into a host pre-training part, an on-chip stream and a test part, applies the same
input/label shift to the stream and the test part (the world changed after deployment), and says how the chip's
memory drifts while the stream runs:

- ``rotate`` / ``translate``: spatial transforms of image inputs (seeded per sample);
- ``background``: a brightness gradient added across the image;
- ``noise``: additive Gaussian noise;
- ``recluster``: classes relabelled by a fixed permutation (the task itself changed);
- ``mixed``: rotation + background + noise together;
- analog drift (Gaussian walk of stored conductances) and digital drift (random level flips) per stream sample.

Shifted inputs are clipped back to [0, 1], the range the chip's DACs are set for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .datasets import Dataset

SHIFTS = ("none", "rotate", "translate", "background", "noise", "recluster", "mixed")


@dataclass(frozen=True)
class Scenario:
    """An online-adaptation setting.

    Attributes
    ----------
    shift : str
        One of :data:`SHIFTS`.
    analog_drift : float
        Conductance random-walk step per stream sample, in level steps.
    digital_drift : float
        Probability per cell and stream sample of a random level flip.
    pretrain, stream, test : (int, int)
        Index ranges into the concatenation of the data set's train and test splits (train first).
    """

    shift: str = "none"
    analog_drift: float = 0.0
    digital_drift: float = 0.0
    pretrain: tuple[int, int] | None = None
    stream: tuple[int, int] | None = None
    test: tuple[int, int] | None = None
    strength: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shift not in SHIFTS:
            raise DataError(f"scenario shift must be one of {', '.join(SHIFTS)} (got {self.shift!r})")
        for name in ("analog_drift", "digital_drift", "strength"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise DataError(f"scenario {name} must be a finite number >= 0 (got {value!r})")
        if self.digital_drift > 1:
            raise DataError(f"scenario digital_drift is a probability in [0, 1] (got {self.digital_drift!r})")


@dataclass(frozen=True)
class OnlineData:
    """The three parts of a scenario, shift applied to ``stream`` and ``test``."""

    name: str
    pretrain: Dataset
    x_stream: np.ndarray
    y_stream: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scenario: Scenario


def _rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Nearest-neighbour rotation of one (H, W, C) image about its centre (zero fill)."""
    h, w = img.shape[:2]
    t = np.deg2rad(degrees)
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    src_y = np.rint(np.cos(t) * (yy - cy) - np.sin(t) * (xx - cx) + cy).astype(int)
    src_x = np.rint(np.sin(t) * (yy - cy) + np.cos(t) * (xx - cx) + cx).astype(int)
    ok = (src_y >= 0) & (src_y < h) & (src_x >= 0) & (src_x < w)
    out = np.zeros_like(img)
    out[ok] = img[src_y[ok], src_x[ok]]
    return out


def _translate(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape[:2]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = img[ys, xs]
    return out


def apply_shift(x: np.ndarray, y: np.ndarray, shift: str, rng: np.random.Generator,
                strength: float = 1.0, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Apply one of :data:`SHIFTS` to samples ``x`` (N, *shape) and labels ``y``; returns new arrays."""
    x = np.array(x, dtype=np.float64)
    y = np.array(y)
    images = x.ndim == 4
    if shift in ("rotate", "translate", "background", "mixed") and not images:
        raise DataError(f"shift {shift!r} needs image data (N, H, W, C); got samples of shape {x.shape[1:]}")
    if shift in ("rotate", "mixed"):
        angles = rng.uniform(15, 35, len(x)) * rng.choice([-1, 1], len(x)) * strength
        x = np.stack([_rotate(img, a) for img, a in zip(x, angles)]) if len(x) else x
    if shift == "translate":
        limit = max(1, int(round(3 * strength)))
        moves = rng.integers(-limit, limit + 1, (len(x), 2))
        x = np.stack([_translate(img, int(dy), int(dx)) for img, (dy, dx) in zip(x, moves)]) if len(x) else x
    if shift in ("background", "mixed"):
        h, w = x.shape[1:3]
        ramp = np.linspace(0.0, 0.5 * strength, w)[None, None, :, None] * np.ones((1, h, 1, 1))
        x = x + ramp
    if shift in ("noise", "mixed"):
        x = x + rng.normal(0.0, 0.2 * strength, x.shape)
    if shift == "recluster":
        classes = int(n_classes if n_classes is not None else y.max() + 1)
        permutation = np.roll(np.arange(classes), 1)  # every class gets its neighbour's label
        y = permutation[y]
    return np.clip(x, 0.0, 1.0), y


def online_scenario(data: Dataset, scenario: Scenario) -> OnlineData:
    """Split ``data`` (train then test, in order) into pre-training, stream and test parts and shift the latter.

    Default ranges: the first 40 % pre-train, the next 40 % stream, the last 20 % test (on the MNIST test set of
    10,000 images: 0-3,999, 4,000-7,999, 8,000-9,999).
    """
    x_all = np.concatenate([data.x_train, data.x_test])
    y_all = np.concatenate([data.y_train, data.y_test])
    n = len(x_all)
    parts = {"pretrain": scenario.pretrain or (0, int(0.4 * n)),
             "stream": scenario.stream or (int(0.4 * n), int(0.8 * n)),
             "test": scenario.test or (int(0.8 * n), n)}
    for name, (lo, hi) in parts.items():
        if not (0 <= lo < hi <= n):
            raise DataError(f"scenario {name} range must satisfy 0 <= start < end <= {n} (got {(lo, hi)})")
    rng = np.random.default_rng(scenario.seed)
    lo, hi = parts["pretrain"]
    pre = Dataset(name=f"{data.name}[{lo}:{hi}]", x_train=x_all[lo:hi], y_train=y_all[lo:hi],
                  x_test=x_all[parts["test"][0]: parts["test"][1]], y_test=y_all[parts["test"][0]: parts["test"][1]],
                  input_shape=data.input_shape, n_classes=data.n_classes)
    lo, hi = parts["stream"]
    xs, ys = apply_shift(x_all[lo:hi], y_all[lo:hi], scenario.shift, rng, scenario.strength, data.n_classes)
    lo, hi = parts["test"]
    xt, yt = apply_shift(x_all[lo:hi], y_all[lo:hi], scenario.shift, rng, scenario.strength, data.n_classes)
    return OnlineData(name=f"{data.name}/{scenario.shift}", pretrain=pre, x_stream=xs, y_stream=ys, x_test=xt,
                      y_test=yt, scenario=scenario)
