"""The sharded feature store: round trips, other keys refused, concurrent writers, leftovers."""

from __future__ import annotations

import multiprocessing
import os
import socket

import numpy as np
import pytest

from medtransfer.errors import ArtifactError
from medtransfer.features.store import SHARD_DIR, FeatureStore, remove_stale_temps

DIM = 3


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def test_rows_round_trip_by_digest(tmp_path):
    store = FeatureStore(tmp_path, DIM, "k")
    rows = _rows(3, 0)
    store.put_many(["a", "b", "c"], rows)
    found = store.get_many(["c", "a", "zz", "a"])
    assert sorted(found) == ["a", "c"] and len(store) == 3
    np.testing.assert_array_equal(found["c"], rows[2])
    assert store.contains(["b", "q"]) == {"b"}


def test_a_store_of_other_features_is_refused(tmp_path):
    FeatureStore(tmp_path, DIM, "k").close()
    with pytest.raises(ArtifactError, match="holds other features"):
        FeatureStore(tmp_path, DIM + 1, "k")
    with pytest.raises(ArtifactError, match="holds other features"):
        FeatureStore(tmp_path, DIM, "other")


def test_altered_shard_fails_its_checksum(tmp_path):
    store = FeatureStore(tmp_path, DIM, "k")
    store.put_many(["a"], _rows(1, 1))
    shard = next((tmp_path / SHARD_DIR).glob("*.arrow"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert FeatureStore(tmp_path, DIM, "k").get_many(["a"]) == {}
    assert not shard.exists()


def _write(directory, start: int) -> None:
    store = FeatureStore(directory, DIM, "k")
    for batch in range(5):
        first = start + 4 * batch
        store.put_many([f"d{k}" for k in range(first, first + 4)], _rows(4, first))


def test_concurrent_writers_lose_no_row(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write, args=(tmp_path, start)) for start in (0, 1000)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    store = FeatureStore(tmp_path, DIM, "k")
    digests = [f"d{k}" for start in (0, 1000) for k in range(start, start + 20)]
    found = store.get_many(digests)
    assert len(found) == 40 and len(store) == 40
    np.testing.assert_array_equal(found["d1004"], _rows(4, 1004)[0])


def test_dead_writers_temp_files_are_removed_live_ones_kept(tmp_path):
    FeatureStore(tmp_path, DIM, "k").close()
    host = socket.gethostname()
    process = multiprocessing.get_context("fork").Process(target=os.getpid)
    process.start()
    process.join()
    dead = tmp_path / SHARD_DIR / f".{process.pid}@{host}@x.arrow.tmp"
    live = tmp_path / SHARD_DIR / f".{os.getpid()}@{host}@y.arrow.tmp"
    foreign = tmp_path / SHARD_DIR / ".1@other-host@z.arrow.tmp"
    for path in (dead, live, foreign):
        path.write_bytes(b"partial")
    FeatureStore(tmp_path, DIM, "k").close()
    assert not dead.exists() and live.exists() and foreign.exists()
    os.utime(foreign, (0, 0))
    assert remove_stale_temps(tmp_path / SHARD_DIR) == [foreign]
