"""The exceptions medtransfer raises on bad input.

Every message names the file, column or value at fault, says what was expected and how to
fix it. The CLI prints such an error as one line on stderr and exits with code 2; any other
exception is a bug.
"""

from __future__ import annotations


class MedTransferError(Exception):
    """Base class of every error caused by user input or configuration."""


class DataError(MedTransferError):
    """A file, folder, column or value cannot be used as a domain."""


class ConfigError(MedTransferError):
    """An option, name or combination of options is invalid."""


class ArtifactError(MedTransferError):
    """A saved run or cache entry is missing, tampered with or would be overwritten."""
