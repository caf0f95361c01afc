"""The data files shipped inside the package, found with importlib.resources and checksummed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from medtransfer.artifacts import sha256_file
from medtransfer.errors import ConfigError, DataError

# sha256 of each vendored file, as published in files/README.md; checked once per process.
SHA256 = {
    "heart_disease_uci.csv": "574f2fa2b43012fa25fca4fcdb36bd7c6bccdd0af4242f6c0e4c8633c5a072ae",
    "pneumoniamnist.npz": "f36c2b3e34de9d60c5c734118bc6daff281eaf76b67a57d26ad958da948274b0",
    "iwpc_warfarin.csv": "1a20e70cc0fa00f59874fa23b1f2d1b76dcde03bf6fd9840b0c5347e085a3814",
}
_verified: set[Path] = set()


def files_path(name: str) -> Path:
    """Path of a bundled data file, its sha256 verified (once per process).

    Parameters
    ----------
    name : str
        File name in ``medtransfer/datasets/files`` (see :data:`SHA256`).

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        If ``name`` is not a bundled file.
    DataError
        If the file is missing from the installation or its content changed.
    """
    if name not in SHA256:
        raise ConfigError(
            f"no bundled data file {name!r}; bundled files: {', '.join(sorted(SHA256))}"
        )
    path = Path(str(files("medtransfer.datasets") / "files" / name))
    if not path.is_file():
        raise DataError(f"{path}: bundled file missing; reinstall medtransfer")
    if path not in _verified:
        verify_sha256(path, SHA256[name])
        _verified.add(path)
    return path


def verify_sha256(path: Path, expected: str) -> None:
    """Raise a DataError unless the file's sha256 is ``expected``."""
    found = sha256_file(path)
    if found != expected:
        raise DataError(
            f"{path}: sha256 {found} does not match the published {expected}; "
            "the file was modified or damaged, reinstall medtransfer"
        )
