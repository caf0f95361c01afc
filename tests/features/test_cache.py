"""The content-addressed feature cache: no model work on a hit, never a corrupt read."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from PIL import Image

import medtransfer.features.extract as extract_module
from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.features.cache import cache_info, input_digest, parse_size, prune_cache
from medtransfer.features.store import INDEX_FILE, TOUCH_S

SIZE = 32


@pytest.fixture
def forwarded(monkeypatch):
    """Counts the images the (eager) model really processes."""
    counts = []
    real = extract_module.create_backbone

    def counting(*args, **kwargs):
        backbone = real(*args, **kwargs)
        backbone.register_forward_hook(lambda module, inputs, output: counts.append(len(output)))
        return backbone

    monkeypatch.setattr(extract_module, "create_backbone", counting)
    return counts


def _domain(images: np.ndarray | list) -> Domain:
    return Domain(
        "imgs", "image", inputs=images, ids=np.array([f"i{k}" for k in range(len(images))])
    )


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 20, 20, 3), dtype=np.uint8)


def _extract(domain: Domain, cache_dir, **options) -> np.ndarray:
    options = {"image_size": SIZE, "engine": "torch", **options}
    return extract_module.extract_features(domain, cache_dir=cache_dir, progress=False, **options)


def _shards(cache_dir) -> list:
    return sorted(cache_dir.glob("stores/*/shards/*.arrow"))


def _age_shards(cache_dir, seconds: float) -> None:
    """Move every shard's last use ``seconds`` into the past."""
    for index in cache_dir.glob(f"stores/*/{INDEX_FILE}"):
        with sqlite3.connect(index) as db:
            db.execute("UPDATE shards SET last_used = last_used - ?", (seconds,))
        db.close()


def test_a_repeated_hit_writes_nothing_and_an_old_use_is_refreshed(tmp_path):
    domain = _domain(_images(3, seed=6))
    _extract(domain, tmp_path)
    index = next(tmp_path.glob(f"stores/*/{INDEX_FILE}"))

    def last_used() -> float:
        with sqlite3.connect(index) as db:
            value = db.execute("SELECT last_used FROM shards").fetchone()[0]
        db.close()
        return value

    written = last_used()
    _extract(domain, tmp_path)
    assert last_used() == written
    _age_shards(tmp_path, 2 * TOUCH_S)
    _extract(domain, tmp_path)
    assert last_used() > written


def test_second_run_does_no_model_work(tmp_path, forwarded, monkeypatch):
    domain = _domain(_images(5, seed=0))
    first = _extract(domain, tmp_path, batch_size=2)
    assert forwarded == [2, 2, 1] and len(_shards(tmp_path)) == 3  # one shard per batch

    def unavailable(*args, **kwargs):
        raise AssertionError("the model was built although every row is cached")

    monkeypatch.setattr(extract_module, "create_backbone", unavailable)
    np.testing.assert_array_equal(_extract(domain, tmp_path), first)


def test_adding_one_image_computes_only_that_one(tmp_path, forwarded):
    images = _images(4, seed=1)
    _extract(_domain(images[:3]), tmp_path)
    features = _extract(_domain(images), tmp_path)
    assert forwarded == [3, 1]
    # Rows computed in other batches may differ in the last bits (oneDNN kernels).
    fresh = _extract(_domain(images), tmp_path, cache=False)
    np.testing.assert_allclose(features, fresh, rtol=1e-3, atol=1e-5)


def test_key_follows_content_not_name_and_settings(tmp_path, forwarded):
    images = _images(2, seed=2)
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path, image in zip(paths, images, strict=True):
        Image.fromarray(image).save(path)
    _extract(_domain(paths), tmp_path / "c")
    paths[1].rename(tmp_path / "renamed.png")
    _extract(_domain([paths[0], tmp_path / "renamed.png"]), tmp_path / "c")
    assert forwarded == [2]
    Image.fromarray(images[0][::-1].copy()).save(paths[0])  # same name, new content
    _extract(_domain(paths[:1]), tmp_path / "c")
    _extract(_domain(paths[:1]), tmp_path / "c", image_size=48)
    assert forwarded == [2, 1, 1]


def test_truncated_shard_is_recomputed_not_read(tmp_path, forwarded):
    domain = _domain(_images(2, seed=3))
    reference = _extract(domain, tmp_path, batch_size=1)
    shard = _shards(tmp_path)[0]
    shard.write_bytes(shard.read_bytes()[:-100])  # as if the disk lost the shard's end
    np.testing.assert_allclose(_extract(domain, tmp_path), reference, rtol=1e-3, atol=1e-5)
    assert forwarded == [1, 1, 1]
    assert len(_shards(tmp_path)) == 2


def test_prune_evicts_least_recently_used_and_legacy_rows(tmp_path, forwarded):
    old, new = _domain(_images(2, seed=4)), _domain(_images(2, seed=5))
    _extract(old, tmp_path)
    _extract(new, tmp_path)
    _age_shards(tmp_path, 2 * TOUCH_S)  # a use within TOUCH_S of the last is not recorded
    _extract(old, tmp_path)  # a hit: old is now the most recently used
    legacy = tmp_path / "features" / "ab" / "cd" / "row.safetensors"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"x" * 10)
    info = cache_info(tmp_path)
    assert info["rows"] == 4 and info["legacy_bytes"] == 10
    one_shard = info["bytes"] // 2
    result = prune_cache(tmp_path, max_bytes=one_shard)
    assert result["evicted_shards"] == 1 and not legacy.exists()
    forwarded.clear()
    _extract(old, tmp_path)
    _extract(new, tmp_path)
    assert forwarded == [2]  # only the least recently used shard (new) was evicted


def test_sizes_parse_and_bad_sizes_are_refused():
    assert parse_size("20G") == 20 * 1024**3 and parse_size("1.5K") == 1536
    assert parse_size("100") == 100
    with pytest.raises(ConfigError, match="is not a size"):
        parse_size("lots")


def test_array_digest_depends_on_shape_and_bytes():
    flat = np.zeros((4, 4), dtype=np.uint8)
    assert input_digest(flat) != input_digest(flat.reshape(2, 8))
    assert input_digest(flat) == input_digest(flat.copy())
    assert input_digest(flat) != input_digest(flat + 1)
