"""Content-addressed on-disk cache of extracted features: keys, digests, size and eviction.

A row is found by the sha256 of its input's own bytes inside the store of its preprocessing
key (backbone name, weights sha256, preprocessing), so adding one image to a folder
recomputes only that image, and any change of weights or preprocessing misses the cache
instead of returning stale rows. The rows live in sharded stores
(:class:`~medtransfer.features.store.FeatureStore`) under ``<cache>/stores/<key>/``; the
cache as a whole keeps under a size limit by evicting the least recently used shards.
Per-row safetensors files of earlier versions (``<cache>/features/``) are never read;
:func:`prune_cache` deletes them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from medtransfer.artifacts import sha256_file
from medtransfer.errors import ConfigError, DataError
from medtransfer.features.store import FeatureStore

CACHE_FORMAT = 2
STORES_DIR = "stores"
LEGACY_DIR = "features"
DEFAULT_LIMIT = 20 * 1024**3
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def user_cache_dir() -> Path:
    """The user's medtransfer cache: ``$MEDTRANSFER_CACHE`` or ``~/.cache/medtransfer``."""
    env = os.environ.get("MEDTRANSFER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medtransfer"


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file's bytes, read in chunks."""
    try:
        stat = path.stat()
        return _memoised_sha256(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
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


@functools.lru_cache(maxsize=65536)
def _memoised_sha256(path: str, mtime_ns: int, size: int) -> str:
    # A file is hashed once per process while its mtime and size stay the same.
    return sha256_file(Path(path))


def feature_store(root: Path, key: str, feature_dim: int) -> FeatureStore:
    """The cache's store of rows computed under preprocessing ``key``."""
    return FeatureStore(Path(root) / STORES_DIR / key[:32], feature_dim, key)


def parse_size(text: str) -> int:
    """Bytes in ``"500M"``, ``"20G"``, ``"1.5T"`` or a plain number of bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if match is None:
        raise ConfigError(f"size {text!r} is not a size; use e.g. 500M, 20G or 1.5T")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def cache_limit() -> int:
    """The cache's size limit: ``$MEDTRANSFER_CACHE_LIMIT`` (e.g. ``50G``) or 20 GiB."""
    text = os.environ.get("MEDTRANSFER_CACHE_LIMIT")
    return parse_size(text) if text else DEFAULT_LIMIT


def _stores(root: Path) -> list[FeatureStore]:
    stores = []
    for described in sorted((Path(root) / STORES_DIR).glob("*/store.json")):
        try:
            meta = json.loads(described.read_text())
            stores.append(FeatureStore(described.parent, meta["feature_dim"], meta["key"]))
        except (OSError, ValueError, KeyError):
            continue
    return stores


def _legacy_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (Path(root) / LEGACY_DIR).rglob("*") if p.is_file())


def cache_info(root: Path | None = None) -> dict:
    """Stores, rows, shards and bytes of the cache (and of legacy per-row files)."""
    root = Path(root) if root is not None else user_cache_dir()
    stores = _stores(root)
    try:
        summary = [{"key": s.key[:12], "rows": len(s), "shards": len(s.shard_usage()),
                    "bytes": s.size_bytes()} for s in stores]
    finally:
        for store in stores:
            store.close()
    return {"root": str(root), "stores": summary, "bytes": sum(s["bytes"] for s in summary),
            "rows": sum(s["rows"] for s in summary), "limit_bytes": cache_limit(),
            "legacy_bytes": _legacy_bytes(root)}


def prune_cache(root: Path | None = None, max_bytes: int | None = None) -> dict:
    """Evict least recently used shards until the cache holds at most ``max_bytes``.

    Shards of every store compete by last use; legacy per-row files are deleted.

    Returns
    -------
    dict
        ``{"evicted_shards", "freed_bytes", "bytes"}``.
    """
    root = Path(root) if root is not None else user_cache_dir()
    limit = cache_limit() if max_bytes is None else int(max_bytes)
    freed = _legacy_bytes(root)
    shutil.rmtree(Path(root) / LEGACY_DIR, ignore_errors=True)
    stores = _stores(root)
    try:
        usage = sorted(((used, size, name, store) for store in stores
                        for used, size, name in store.shard_usage()), key=lambda u: u[:3])
        total = sum(u[1] for u in usage)
        evicted: dict[int, list[str]] = {}
        for _, size, name, store in usage:
            if total <= limit:
                break
            evicted.setdefault(id(store), []).append(name)
            total, freed = total - size, freed + size
        for store in stores:
            store.drop_shards(evicted.get(id(store), []))
    finally:
        for store in stores:
            store.close()
    return {"evicted_shards": sum(map(len, evicted.values())), "freed_bytes": freed,
            "bytes": total}
