"""The exceptions medtransfer raises on bad input.

Every message names the file, column or value at fault, says what was expected and how to
fix it. The CLI prints such an error as one line on stderr and exits with code 2; any other
exception is a bug.
"""

from __future__ import annotations


class MedTransferError(Exception):
    """Base class of every error caused by user input or configuration."""


class DataError(MedTransferError, ValueError):
    """A file, folder, column or value cannot be used (a ValueError, as scikit-learn expects)."""


class ConfigError(MedTransferError, ValueError):
    """An option, name or combination of options is invalid."""


class ArtifactError(MedTransferError):
    """A saved run or cache entry is missing, tampered with or would be overwritten."""


class OutOfMemoryError(DataError, MemoryError):
    """A method needs more memory than is available at this number of rows and features."""
