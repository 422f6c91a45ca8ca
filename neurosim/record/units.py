"""Numbers in the units people read: SI prefixes (2.31 nJ, 6.9 mW), durations (3.2 d, 1.4 y), bytes (27.8 kB)."""

from __future__ import annotations

import math

_PREFIXES = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"),
             (1e-12, "p"), (1e-15, "f"), (1e-18, "a")]
_DURATIONS = [(365.25 * 86400.0, "y"), (86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms"),
              (1e-6, "us"), (1e-9, "ns")]


def si(value: float | None, unit: str, digits: int = 3) -> str:
    """``value`` with an SI prefix: ``si(2.3e-9, "J") == "2.30 nJ"``; ``"-"`` for None or NaN, ``"0 J"`` for 0."""
    if value is None or value != value:
        return "-"
    if math.isinf(value):
        return ("" if value > 0 else "-") + "inf"
    if value == 0:
        return f"0 {unit}"
    size = abs(value)
    for factor, prefix in _PREFIXES:
        if size >= factor * 0.9995:
            return f"{_fixed(value / factor, digits)} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


def _fixed(x: float, digits: int) -> str:
    """``digits`` significant digits, trailing zeros kept (2.30, 23.0, 230)."""
    if x == 0:
        return "0"
    x = float(f"{x:.{digits}g}")  # round first: 0.9997 to 3 digits is 1.00, not 1.000
    places = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{places}f}"


def duration(seconds: float | None) -> str:
    """A duration in the largest unit it fills: ``duration(3 * 86400) == "3.00 d"``; ``"inf"`` for never."""
    if seconds is None or seconds != seconds:
        return "-"
    if math.isinf(seconds):
        return "inf"
    for factor, unit in _DURATIONS:
        if abs(seconds) >= factor:
            return f"{_fixed(seconds / factor, 3)} {unit}"
    return f"{seconds:.3g} s"


def data_size(n_bytes: float | None) -> str:
    """Bytes with decimal prefixes: ``data_size(27832) == "27.8 kB"``."""
    return "-" if n_bytes is None else si(float(n_bytes), "B")


__all__ = ["si", "duration", "data_size"]
