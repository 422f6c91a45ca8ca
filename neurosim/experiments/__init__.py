"""Experiments: comparisons of trainers on one chip, and studies over hardware what-ifs (specs, the SQLite
results store, point execution on a local pool or a Dask cluster, reports)."""

from .compare import CompareSpec, compare, run_compare, write_compare_outputs
from .spec import StudySpec, load_study_spec, study_spec_from_dict
from .sweep import SweepOutcome, run_study

__all__ = ["CompareSpec", "compare", "run_compare", "write_compare_outputs", "StudySpec", "load_study_spec",
           "study_spec_from_dict", "run_study", "SweepOutcome"]
