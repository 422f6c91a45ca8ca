"""Trainer hyper-parameters, declared once: type, bounds, unit, default and meaning in one place.

A trainer lists its hyper-parameters in ``hyper_parameters`` (built with :func:`real`, :func:`whole`,
:func:`flag`, :func:`one_of`). The same declaration validates constructor keywords, fills ``get_params()``, parses
``--param KEY=VALUE`` text to the declared type, writes the trainer's ``Parameters`` docstring section and the
``neurosim trainers show NAME`` table. The rules are the profile schema's (:class:`neurosim._fields.Rule`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._fields import Rule, shown
from ..errors import NeurosimError


class TrainingError(NeurosimError, ValueError):
    """A trainer was given bad hyper-parameters, or cannot train this model."""


@dataclass(frozen=True)
class HyperParameter:
    """One declared hyper-parameter: its default and the rule every value must follow."""

    default: Any
    rule: Rule

    @property
    def type_name(self) -> str:
        return {"float": "float", "int": "int", "bool": "bool", "choice": "str", "str": "str"}[self.rule.kind]


def real(default: float, doc: str, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
         hi_open: bool = False, unit: str | None = None) -> HyperParameter:
    """A real-valued hyper-parameter in ``[lo, hi]`` (open ends where asked)."""
    return HyperParameter(default, Rule("float", doc, unit=unit, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open))


def whole(default: int, doc: str, *, lo: int | None = None, hi: int | None = None,
          unit: str | None = None) -> HyperParameter:
    """An integer hyper-parameter in ``[lo, hi]``."""
    return HyperParameter(default, Rule("int", doc, unit=unit, lo=lo, hi=hi))


def flag(default: bool, doc: str) -> HyperParameter:
    """A true/false hyper-parameter."""
    return HyperParameter(default, Rule("bool", doc))


def one_of(default: str, doc: str, *choices: str) -> HyperParameter:
    """A hyper-parameter taking one of ``choices``."""
    return HyperParameter(default, Rule("choice", doc, choices=tuple(choices)))


def _unknown(trainer: str, key: Any, declared: Mapping[str, HyperParameter]) -> TrainingError:
    names = list(declared)
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return TrainingError(f"trainer {trainer!r} has no hyper-parameter {key!r}{hint} (it takes: "
                         f"{', '.join(names) or 'none'})")


def check_params(trainer: str, declared: Mapping[str, HyperParameter], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared hyper-parameter's value (given, else default), checked.

    Raises
    ------
    TrainingError
        Naming the trainer, the hyper-parameter, the constraint and the value (an unknown name gets the closest
        declared one).
    """
    for key in given:
        if key not in declared:
            raise _unknown(trainer, key, declared)
    values = {}
    for key, hp in declared.items():
        value = given.get(key, hp.default)
        checked, problem = hp.rule.check(value)
        if problem is not None:
            raise TrainingError(f"trainer {trainer!r}: hyper-parameter {key!r} {problem} (got {shown(value)})")
        values[key] = checked
    return values


def parse_param_text(trainer: str, declared: Mapping[str, HyperParameter], item: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(key, value of the declared type)``; raises :class:`TrainingError` naming the trainer,
    the key, the constraint and the text."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise TrainingError(f"--param takes KEY=VALUE (got {item!r})")
    if key not in declared:
        raise _unknown(trainer, key, declared)
    try:
        return key, declared[key].rule.parse(text)
    except ValueError as exc:
        raise TrainingError(f"trainer {trainer!r}: hyper-parameter {key!r} {exc} (got {text!r})") from None


def docstring_section(declared: Mapping[str, HyperParameter]) -> str:
    """A numpydoc ``Parameters`` section generated from the declarations."""
    if not declared:
        return ""
    lines = ["Parameters", "----------"]
    for key, hp in declared.items():
        unit = f", in {hp.rule.unit}" if hp.rule.unit else ""
        lines.append(f"{key} : {hp.type_name}, default {hp.default!r}")
        lines.append(f"    {hp.rule.doc} ({hp.rule.describe()}{unit}).")
    return "\n".join(lines)


def params_table(declared: Mapping[str, HyperParameter]) -> list[tuple[str, str, str, str, str]]:
    """Rows ``(name, type, default, constraint, meaning)`` for display."""
    return [(key, hp.type_name, repr(hp.default), hp.rule.describe() + (f", in {hp.rule.unit}" if hp.rule.unit else ""),
             hp.rule.doc) for key, hp in declared.items()]


__all__ = ["HyperParameter", "TrainingError", "real", "whole", "flag", "one_of", "check_params",
           "parse_param_text", "docstring_section", "params_table"]
