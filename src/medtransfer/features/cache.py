"""Content-addressed on-disk cache of extracted features, one row per input.

A row's key is the sha256 of (backbone name, weights sha256, preprocessing, the input's own
bytes), so adding one image to a folder recomputes only that image, and any change of
weights or preprocessing misses the cache instead of returning stale rows. Rows are small
safetensors files written atomically (temp file + ``os.replace``) that carry the sha256 of
their data: a truncated or corrupt entry is deleted and recomputed, never read as valid.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from medtransfer.artifacts import sha256_file, write_bytes
from medtransfer.errors import DataError

CACHE_FORMAT = 1


def user_cache_dir() -> Path:
    """The user's medtransfer cache: ``$MEDTRANSFER_CACHE`` or ``~/.cache/medtransfer``."""
    env = os.environ.get("MEDTRANSFER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medtransfer"


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file's bytes, read in chunks."""
    try:
        return sha256_file(path)
    except FileNotFoundError:
        raise DataError(f"input file {str(path)!r} does not exist; check the path") from None
    except IsADirectoryError:
        raise DataError(f"input {str(path)!r} is a folder, expected an image file") from None


def input_digest(item: Path | str | np.ndarray) -> str:
    """Identify one input by its content: file bytes, or array dtype, shape and bytes."""
    if isinstance(item, np.ndarray):
        digest = hashlib.sha256(f"array:{item.dtype.str}:{item.shape}:".encode())
        digest.update(np.ascontiguousarray(item).tobytes())
        return digest.hexdigest()
    return file_sha256(Path(item))


def preprocessing_key(**settings: object) -> str:
    """The sha256 of everything besides the input that decides a feature row."""
    payload = json.dumps({"cache_format": CACHE_FORMAT, **settings}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class FeatureCache:
    """Feature rows on disk under ``root/features/<preprocessing key>/``.

    Parameters
    ----------
    root : Path
        Cache root, e.g. :func:`user_cache_dir`.
    key : str
        Preprocessing key from :func:`preprocessing_key`.
    feature_dim : int
        Length of every row; a stored row of another length is treated as corrupt.
    """

    def __init__(self, root: Path, key: str, feature_dim: int) -> None:
        self.directory = Path(root) / "features" / key[:32]
        self.key = key
        self.feature_dim = feature_dim

    def path(self, digest: str) -> Path:
        """Where the row of the input with content digest ``digest`` lives."""
        row_key = hashlib.sha256(f"{self.key}:{digest}".encode()).hexdigest()
        return self.directory / row_key[:2] / f"{row_key}.safetensors"

    def get(self, digest: str) -> np.ndarray | None:
        """The cached row, or None when absent or invalid (an invalid file is removed)."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        row = self._decode(data)
        if row is None:
            path.unlink(missing_ok=True)
        return row

    def put(self, digest: str, row: np.ndarray) -> None:
        """Store one row atomically."""
        row = np.ascontiguousarray(row, dtype=np.float32)
        checksum = hashlib.sha256(row.tobytes()).hexdigest()
        data = save_tensors({"features": row}, metadata={"sha256": checksum})
        write_bytes(self.path(digest), data)

    def get_many(self, digests: list[str]) -> Mapping[str, np.ndarray]:
        """Rows found for the distinct digests in ``digests``."""
        found = {}
        for digest in dict.fromkeys(digests):
            row = self.get(digest)
            if row is not None:
                found[digest] = row
        return found

    def _decode(self, data: bytes) -> np.ndarray | None:
        try:
            row = load_tensors(data)["features"]
            metadata = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
        except (SafetensorError, KeyError, ValueError):
            return None
        checksum = metadata.get("__metadata__", {}).get("sha256")
        valid = (
            row.dtype == np.float32
            and row.shape == (self.feature_dim,)
            and checksum == hashlib.sha256(row.tobytes()).hexdigest()
        )
        return row if valid else None
