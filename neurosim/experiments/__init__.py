"""Experiments: comparisons of trainers on one chip (and, next, studies over hardware what-ifs)."""

from .compare import CompareSpec, run_compare, write_outputs

__all__ = ["CompareSpec", "run_compare", "write_outputs"]
