"""Exceptions raised by neurosim.

Every error a user can cause derives from :class:`NeurosimError`, so a caller (and the CLI) can catch one type and
show the message without a traceback. Messages name the file, the key or parameter, the constraint and the value.
"""

from __future__ import annotations


class NeurosimError(Exception):
    """Base class of every error neurosim raises for bad input or an impossible request."""


class ProfileError(NeurosimError, ValueError):
    """A hardware profile is malformed: unknown or missing key, wrong type, value out of range.

    Parameters
    ----------
    message : str
        What is wrong, in words.
    file : str, optional
        The profile file (or a description such as ``"<rram_hfo2 + replace>"``).
    key : str, optional
        Dotted key path, e.g. ``"device.set_energy_pj"``.
    constraint : str, optional
        The rule that was broken, e.g. ``">= 0"``.
    value : object, optional
        The offending value.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 constraint: str | None = None, value: object = None):
        self.file = file
        self.key = key
        self.constraint = constraint
        self.value = value
        prefix = f"{file}: " if file else ""
        super().__init__(prefix + message)


class LedgerError(NeurosimError, ValueError):
    """Event counts cannot be read or priced (bad JSON, mismatched cell levels)."""


class WriteRequestError(NeurosimError, ValueError):
    """A write request given to the NVM is malformed (bad cell index, level out of range, shape mismatch)."""


class ModelError(NeurosimError, ValueError):
    """A model file or model definition is malformed (names the file, the key, the constraint and the value)."""


class MappingError(NeurosimError, ValueError):
    """A model does not fit onto the chip described by a profile."""


class DataError(NeurosimError, ValueError):
    """A data set file is missing or malformed."""


class ExecutorError(NeurosimError, ValueError):
    """An unknown executor, or a model or request an executor cannot run."""


class StudyError(NeurosimError, ValueError):
    """A study spec is malformed, its folder holds another study, or its store cannot be used."""


class OutputError(NeurosimError, ValueError):
    """An output path (a report, a record, a plot) that cannot be written: refused before any work."""
