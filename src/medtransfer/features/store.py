"""A sharded columnar feature store: Arrow shards, one SQLite index by content digest.

Each write of a batch is one shard file (an Arrow IPC file of ``digest`` and ``features``
columns) written to a temp name, fsynced once and renamed into place, then listed in the
index (``index.sqlite``: digest -> shard and row; shard -> rows, bytes, last use) in one
transaction. Concurrent writers each write their own shards and SQLite serialises their
index commits, so two processes filling one store never corrupt it. A shard's sha256 is in
the index and checked the first time a process reads it: a truncated or altered shard is
dropped and its rows recomputed, never read as valid. Temp files of killed writers are
removed on the next open. :meth:`FeatureStore.evict` drops the least recently used shards.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from medtransfer.artifacts import write_bytes
from medtransfer.errors import ArtifactError

STORE_FORMAT = 1
STORE_FILE = "store.json"
INDEX_FILE = "index.sqlite"
SHARD_DIR = "shards"
STALE_TEMP_S = 3600.0
TOUCH_S = 600.0  # resolution of a shard's last use, which least-recently-used eviction reads
_SQL_CHUNK = 900  # below SQLite's default limit of host parameters per statement
_SCHEMA = """
CREATE TABLE IF NOT EXISTS shards (name TEXT PRIMARY KEY, rows INTEGER, bytes INTEGER,
                                   sha256 TEXT, last_used REAL);
CREATE TABLE IF NOT EXISTS rows (digest TEXT PRIMARY KEY, shard TEXT, position INTEGER);
CREATE INDEX IF NOT EXISTS rows_by_shard ON rows (shard);
"""


class FeatureStore:
    """Feature rows of fixed length, addressed by the content digest of their input.

    Parameters
    ----------
    directory : Path
        The store's folder (created on first use).
    feature_dim : int
        Length of every row.
    key : str
        What decides the rows besides the input (backbone, weights, preprocessing); a
        folder written under another key or length is refused, never mixed.
    """

    def __init__(self, directory: Path, feature_dim: int, key: str) -> None:
        self.directory = Path(directory)
        self.feature_dim = int(feature_dim)
        self.key = key
        self._verified: set[str] = set()
        self._check_or_create()
        self._db = sqlite3.connect(self.directory / INDEX_FILE, timeout=120.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        remove_stale_temps(self.directory / SHARD_DIR)

    def _check_or_create(self) -> None:
        described = {"format": STORE_FORMAT, "key": self.key, "feature_dim": self.feature_dim}
        path = self.directory / STORE_FILE
        if not path.exists():
            (self.directory / SHARD_DIR).mkdir(parents=True, exist_ok=True)
            write_bytes(path, json.dumps(described, indent=1).encode())
            return
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            found = None
        if found != described:
            raise ArtifactError(
                f"feature store {str(self.directory)!r} holds other features ({found}); "
                f"expected {described}. Write to a new folder or pass --force"
            )

    def close(self) -> None:
        """Close the index connection."""
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])

    def contains(self, digests: Sequence[str]) -> set[str]:
        """The digests of ``digests`` that have a row in the store."""
        return {d for d, _, _ in self._lookup(digests)}

    def get_many(self, digests: Sequence[str]) -> dict[str, np.ndarray]:
        """Rows found for the distinct ``digests`` (a corrupt shard's rows are dropped)."""
        by_shard: dict[str, list[tuple[str, int]]] = {}
        for digest, shard, position in self._lookup(digests):
            by_shard.setdefault(shard, []).append((digest, position))
        found: dict[str, np.ndarray] = {}
        for shard, wanted in by_shard.items():
            matrix = self._read_shard(shard)
            if matrix is None:
                continue
            positions = np.fromiter((p for _, p in wanted), dtype=np.int64, count=len(wanted))
            rows = matrix[positions]
            found.update(zip((d for d, _ in wanted), rows, strict=True))
        self._touch(list(by_shard))
        return found

    def _touch(self, shards: list[str]) -> None:
        """Mark shards as used now, unless they were within :data:`TOUCH_S` (as ``relatime``
        does): a repeated hit then writes nothing, and a read-only connection closes without
        a WAL checkpoint, two thirds of a cache hit's time."""
        now = time.time()
        stale = []
        for start in range(0, len(shards), _SQL_CHUNK):
            chunk = shards[start : start + _SQL_CHUNK]
            query = (f"SELECT name FROM shards WHERE last_used < ? AND name IN "
                     f"({','.join('?' * len(chunk))})")
            stale += [name for (name,) in self._db.execute(query, [now - TOUCH_S, *chunk])]
        if stale:
            with self._db:
                self._db.executemany("UPDATE shards SET last_used = ? WHERE name = ?",
                                     [(now, name) for name in stale])

    def put_many(self, digests: Sequence[str], rows: np.ndarray) -> None:
        """Store one batch of rows as one shard: one fsync, one index transaction."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.shape != (len(digests), self.feature_dim):
            raise ValueError(f"rows of shape {rows.shape} for {len(digests)} digests")
        if not len(digests):
            return
        data = _shard_bytes(list(digests), rows)
        name = f"{uuid.uuid4().hex}.arrow"
        _write_durably(self.directory / SHARD_DIR, name, data)
        with self._db:
            self._db.execute("INSERT INTO shards VALUES (?, ?, ?, ?, ?)",
                             (name, len(digests), len(data), hashlib.sha256(data).hexdigest(),
                              time.time()))
            self._db.executemany("INSERT OR IGNORE INTO rows VALUES (?, ?, ?)",
                                 [(d, name, i) for i, d in enumerate(digests)])
        self._verified.add(name)

    def size_bytes(self) -> int:
        """Bytes of all shards listed in the index."""
        return int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM shards").fetchone()[0])

    def shard_usage(self) -> list[tuple[float, int, str]]:
        """``(last_used, bytes, name)`` of every shard, least recently used first."""
        query = "SELECT last_used, bytes, name FROM shards ORDER BY last_used"
        return [tuple(r) for r in self._db.execute(query)]

    def drop_shards(self, names: Iterable[str]) -> None:
        """Remove shards and their index rows (eviction, or a shard found corrupt)."""
        names = list(names)
        with self._db:
            self._db.executemany("DELETE FROM rows WHERE shard = ?", [(n,) for n in names])
            self._db.executemany("DELETE FROM shards WHERE name = ?", [(n,) for n in names])
        for name in names:
            (self.directory / SHARD_DIR / name).unlink(missing_ok=True)
            self._verified.discard(name)

    def _lookup(self, digests: Sequence[str]) -> list[tuple[str, str, int]]:
        distinct = list(dict.fromkeys(digests))
        hits = []
        for start in range(0, len(distinct), _SQL_CHUNK):
            chunk = distinct[start : start + _SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT digest, shard, position FROM rows WHERE digest IN ({marks})"
            hits.extend(self._db.execute(query, chunk))
        return hits

    def _read_shard(self, name: str) -> np.ndarray | None:
        path = self.directory / SHARD_DIR / name
        try:
            data = path.read_bytes()
            if name not in self._verified:
                expected = self._db.execute("SELECT sha256 FROM shards WHERE name = ?",
                                            (name,)).fetchone()
                if expected is None or hashlib.sha256(data).hexdigest() != expected[0]:
                    raise ValueError("checksum")
            table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
            flat = table.column("features").combine_chunks().flatten().to_numpy()
            matrix = flat.reshape(len(table), self.feature_dim)
        except (OSError, ValueError, pa.ArrowException):
            self.drop_shards([name])
            return None
        self._verified.add(name)
        return matrix


def _shard_bytes(digests: list[str], rows: np.ndarray) -> bytes:
    features = pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), rows.shape[1])
    table = pa.table({"digest": pa.array(digests, pa.string()), "features": features})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _write_durably(folder: Path, name: str, data: bytes) -> None:
    # The temp name carries the writer's pid and host, so a later open can tell a dead
    # writer's leftover from a live concurrent writer's file in progress.
    temp = folder / f".{os.getpid()}@{socket.gethostname()}@{name}.tmp"
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, folder / name)
    finally:
        temp.unlink(missing_ok=True)


def remove_stale_temps(folder: Path, max_age_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete temp files of writers that died: their process is gone, or they are old.

    A temp file of another host's writer is kept until it is ``max_age_s`` old.
    """
    removed = []
    now = time.time()
    for path in folder.glob(".*.tmp"):
        try:
            old = now - path.stat().st_mtime > max_age_s
        except FileNotFoundError:
            continue
        if old or not _writer_alive(path.name):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _writer_alive(temp_name: str) -> bool:
    pid, host, *_ = [*temp_name[1:].split("@", 2), "", ""]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
