"""Summaries of repeated runs (seeds): the mean with its 95 % confidence interval.

Modelling choice (it changes the numbers shown): the interval is Student's t interval of the mean,
``mean +- t(0.975, n - 1) * s / sqrt(n)`` with ``s`` the sample standard deviation; it assumes the seeds' results
are independent draws of a roughly normal quantity. One seed gives the value with no interval (NaN bounds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` finite values with the bounds of its confidence interval (NaN when ``n < 2``)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN with fewer than two values)."""
        return (self.high - self.low) / 2

    def format(self, scale: float = 1.0, spec: str = ".3g") -> str:
        """``"mean +- half"`` (``"mean"`` alone for one value; ``"-"`` for none), values multiplied by ``scale``."""
        if self.n == 0:
            return "-"
        if math.isinf(self.mean):
            return "inf" if self.mean > 0 else "-inf"
        if self.n < 2:
            return format(self.mean * scale, spec)
        return f"{format(self.mean * scale, spec)} +- {format(self.half_width * scale, spec)}"


def t_quantile(p: float, dof: int) -> float:
    """Student's t quantile (scipy, imported here only)."""
    from scipy.stats import t

    return float(t.ppf(p, dof))


def mean_ci(values: Iterable[float | None], confidence: float = CONFIDENCE) -> Summary:
    """Mean and Student-t confidence interval of the finite values among ``values`` (None and NaN are skipped).

    Parameters
    ----------
    values : iterable of float or None
    confidence : float
        Two-sided coverage of the interval (0.95: a 95 % interval).
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(finite)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, 0)
    mean = math.fsum(finite) / n
    if n < 2:
        return Summary(mean, math.nan, math.nan, 1)
    var = math.fsum((v - mean) ** 2 for v in finite) / (n - 1)
    half = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(var / n)
    return Summary(mean, mean - half, mean + half, n)


__all__ = ["Summary", "mean_ci", "t_quantile", "CONFIDENCE"]
