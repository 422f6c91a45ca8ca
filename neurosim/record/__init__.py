"""Records of what a simulation did: training runs and inference reports, as versioned JSON of event counts.

Records sit below the chip and the trainers: they are plain data (metadata, per-epoch and per-checkpoint ledger
counts, the embedded pricing profile) and price themselves when asked, so plots, tables and CSV read records only
and a saved record can be re-priced exactly (:meth:`RunRecord.reprice`).
"""

from ._files import RecordError, json_safe, profile_entry, profile_of
from .inference import InferenceReport
from .run import SCHEMA_VERSION, Checkpoint, EpochRecord, RunRecord, load_record
from .table import CSV_COLUMNS, format_table, summary_rows

__all__ = ["RunRecord", "EpochRecord", "Checkpoint", "InferenceReport", "RecordError", "load_record",
           "SCHEMA_VERSION", "CSV_COLUMNS", "format_table", "summary_rows", "profile_entry", "profile_of",
           "json_safe"]
