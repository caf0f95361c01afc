"""The content-addressed feature cache: no model work on a hit, never a corrupt read."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import medtransfer.features.extract as extract_module
from medtransfer.data.domain import Domain
from medtransfer.features.cache import FeatureCache, input_digest

SIZE = 32


@pytest.fixture
def forwarded(monkeypatch):
    """Counts the images the model really processes."""
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
    return extract_module.extract_features(
        domain, image_size=SIZE, cache_dir=cache_dir, progress=False, **options
    )


def _entries(cache_dir) -> list:
    return sorted(cache_dir.glob("features/*/*/*.safetensors"))


def test_second_run_does_no_model_work(tmp_path, forwarded, monkeypatch):
    domain = _domain(_images(4, seed=0))
    first = _extract(domain, tmp_path)
    assert sum(forwarded) == 4 and len(_entries(tmp_path)) == 4

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
    extract_module.extract_features(
        _domain(paths[:1]), image_size=48, cache_dir=tmp_path / "c", progress=False
    )
    assert forwarded == [2, 1, 1]


def test_truncated_entry_is_recomputed_not_read(tmp_path, forwarded):
    domain = _domain(_images(2, seed=3))
    reference = _extract(domain, tmp_path)
    entry = _entries(tmp_path)[0]
    entry.write_bytes(entry.read_bytes()[:-100])  # as if the writer was killed mid-write
    np.testing.assert_allclose(_extract(domain, tmp_path), reference, rtol=1e-3, atol=1e-5)
    assert forwarded == [2, 1]
    assert len(_entries(tmp_path)) == 2


def test_flipped_data_bytes_fail_the_checksum(tmp_path):
    store = FeatureCache(tmp_path, "k" * 64, feature_dim=4)
    store.put("d", np.arange(4, dtype=np.float32))
    path = store.path("d")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.get("d") is None
    assert not path.exists()


def test_wrong_length_row_is_invalid(tmp_path):
    FeatureCache(tmp_path, "k" * 64, feature_dim=3).put("d", np.ones(3, dtype=np.float32))
    assert FeatureCache(tmp_path, "k" * 64, feature_dim=4).get("d") is None


def test_leftover_temp_file_is_never_read(tmp_path):
    store = FeatureCache(tmp_path, "k" * 64, feature_dim=2)
    target = store.path("d")
    target.parent.mkdir(parents=True)
    (target.parent / f".{target.name}.abc123.tmp").write_bytes(b"partial")
    assert store.get("d") is None
    store.put("d", np.array([1.0, 2.0], dtype=np.float32))
    np.testing.assert_array_equal(store.get("d"), [1.0, 2.0])


def test_array_digest_depends_on_shape_and_bytes():
    flat = np.zeros((4, 4), dtype=np.uint8)
    assert input_digest(flat) != input_digest(flat.reshape(2, 8))
    assert input_digest(flat) == input_digest(flat.copy())
    assert input_digest(flat) != input_digest(flat + 1)
