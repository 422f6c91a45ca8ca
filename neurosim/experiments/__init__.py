"""Experiments and their results: run records (JSON, versioned) that plots and reports read."""

from .record import SCHEMA_VERSION, EpochRecord, RunRecord, load_record

__all__ = ["RunRecord", "EpochRecord", "load_record", "SCHEMA_VERSION"]
