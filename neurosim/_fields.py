"""Declared values: one rule per value (type, unit, bounds, choices, documentation), checked and described in one
place.

Hardware-profile keys (:mod:`neurosim.profiles.schema`) and trainer hyper-parameters
(:mod:`neurosim.training.params`) are declared with these rules, so validation, error messages, ``--help`` tables
and typed command-line parsing all read one source of truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("float", "int", "bool", "choice", "str")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Rule:
    """What one value must be.

    Attributes
    ----------
    kind : {"float", "int", "bool", "choice", "str"}
    doc : str
        What the value means, in words.
    unit : str, optional
        The unit the value is given in (shown to users; profile keys convert it to SI, see the profile schema).
    lo, hi : float, optional
        Bounds of a number (``None``: unbounded on that side).
    lo_open, hi_open : bool
        Whether a bound is excluded (``(0, 1]``).
    choices : tuple of str, optional
        The allowed strings of a ``choice``.
    """

    kind: str
    doc: str
    unit: str | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"rule kind must be one of {KINDS} (got {self.kind!r})")
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice rule needs choices")

    # ----------------------------------------------------------------------------------------------- describe
    def describe(self) -> str:
        """The constraint in words, e.g. ``"a finite number in (0, 1]"`` or ``"one of 'adam', 'momentum'"``."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "str":
            return "a string"
        if self.kind == "bool":
            return "true or false"
        what = "an integer" if self.kind == "int" else "a finite number"
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None and math.isfinite(hi):
            left, right = ("(" if self.lo_open else "["), (")" if self.hi_open else "]")
            return f"{what} in {left}{lo:g}, {hi:g}{right}"
        if lo is not None:
            return f"{what} {'>' if self.lo_open else '>='} {lo:g}"
        if hi is not None:
            return f"{what} {'<' if self.hi_open else '<='} {hi:g}"
        return what

    # -------------------------------------------------------------------------------------------------- check
    def check(self, value: Any) -> tuple[Any, str | None]:
        """Validate ``value``; returns ``(value as a plain Python int/float/bool/str, None)`` or ``(None, reason)``.

        ``True`` is never a number and ``1`` never a boolean; an integer rule refuses floats (``3.0`` included),
        a number rule accepts integers.
        """
        kind = self.kind
        if kind in ("str", "choice"):
            if not isinstance(value, str):
                return None, f"must be {self.describe()}, not {type(value).__name__}"
            if kind == "choice" and value not in self.choices:
                return None, f"must be {self.describe()}"
            return value, None
        if kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                return None, f"must be {self.describe()}, not {type(value).__name__}"
            return bool(value), None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            return None, f"must be {self.describe()}, not {type(value).__name__}"
        if kind == "int" and not isinstance(value, (int, np.integer)):
            return None, f"must be {self.describe()}, not a float"
        try:
            number = int(value) if kind == "int" else float(value)
        except OverflowError:  # an integer beyond any float: no finite number
            return None, f"must be {self.describe()}"
        if isinstance(number, float) and not math.isfinite(number):
            return None, f"must be {self.describe()}"
        # bounds on the value as given: an integer just past a bound must not round into range as a float
        exact = int(value) if isinstance(value, (int, np.integer)) else number
        if self.lo is not None and (exact < self.lo or (self.lo_open and exact == self.lo)):
            return None, f"must be {self.describe()}"
        if self.hi is not None and (exact > self.hi or (self.hi_open and exact == self.hi)):
            return None, f"must be {self.describe()}"
        return number, None

    def parse(self, text: str) -> Any:
        """A value from command-line text (``"0.01"``, ``"64"``, ``"true"``, ``"adam"``), checked.

        Raises
        ------
        ValueError
            With the reason, when the text is not a valid value.
        """
        value: Any = text
        if self.kind == "int":
            try:
                value = int(text.strip())
            except ValueError:
                raise ValueError(f"must be {self.describe()}") from None  # the caller shows the text
        elif self.kind == "float":
            try:
                value = float(text.strip())
            except ValueError:
                raise ValueError(f"must be {self.describe()}") from None  # the caller shows the text
        elif self.kind == "bool":
            low = text.strip().lower()
            if low not in _TRUE + _FALSE:
                raise ValueError(f"must be {self.describe()}")
            value = low in _TRUE
        checked, problem = self.check(value)
        if problem is not None:
            raise ValueError(problem)
        return checked

    def as_metadata(self, **extra: Any) -> dict[str, Any]:
        """The rule as a dataclass field's metadata (the rule itself under ``"rule"``, its parts by name)."""
        return {"rule": self, "kind": self.kind, "doc": self.doc, "unit": self.unit, "lo": self.lo, "hi": self.hi,
                "lo_open": self.lo_open, "hi_open": self.hi_open, "choices": self.choices, **extra}


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
