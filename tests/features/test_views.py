"""Seeded source augmentation and test-time views."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.data.domain import Domain
from medtransfer.features.extract import extract_features
from medtransfer.features.featurize import augmented_features, featurize_pair
from medtransfer.features.views import Flip, SourceAugmentation
from medtransfer.params import ParameterError
from medtransfer.runs.pipeline import TransferPipeline


def _colour(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)


def _domain(n: int, seed: int, name: str, labels: bool = True) -> Domain:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    pixels = np.clip(rng.normal(90, 20, (n, 20, 20)) + 80 * y[:, None, None] * (
        np.arange(20)[None, :, None] % 4 < 2), 0, 255).astype(np.uint8)
    return Domain(name, "image", inputs=pixels, labels=y if labels else None,
                  class_names=("a", "b"), ids=np.array([f"{name}{k}" for k in range(n)]))


def test_augmentation_is_seeded_by_content_copy_and_seed():
    image = _colour(0)
    kept = image.copy()
    first = SourceAugmentation(1, seed=0)(image)
    np.testing.assert_array_equal(image, kept)
    np.testing.assert_array_equal(SourceAugmentation(1, seed=0)(image.copy()), first)
    assert first.dtype == np.uint8 and first.shape[2] == 3
    assert not np.array_equal(SourceAugmentation(2, seed=0)(image), first)
    assert not np.array_equal(SourceAugmentation(1, seed=1)(image), first)
    assert SourceAugmentation(1).fingerprint() != SourceAugmentation(2).fingerprint()


def test_grey_images_keep_their_orientation():
    grey = np.tile(np.arange(0, 240, 10, dtype=np.uint8), (24, 1))  # left dark, right bright
    out = SourceAugmentation(1, strength=0.0)(grey)
    np.testing.assert_array_equal(out, grey)
    for copy in range(1, 6):
        moved = SourceAugmentation(copy)(grey).astype(float)
        assert moved[:, -4:].mean() > moved[:, :4].mean()


def test_tta_is_the_mean_over_the_mirror_views(tmp_path):
    source, target = _domain(3, 0, "s"), _domain(2, 1, "t")
    options = {"image_size": 32, "cache_dir": tmp_path, "progress": False, "device": "cpu",
               "weights": "random"}
    _, Xt, spec = featurize_pair(source, target, tta=True, **options)
    assert spec["tta"] == ["identity", "hflip", "vflip"]
    views = [extract_features(target, transform=view, transform_key=None if view is None
                              else view.fingerprint(), **options)
             for view in (None, Flip("hflip"), Flip("vflip"))]
    np.testing.assert_allclose(Xt, np.mean(views, axis=0), rtol=1e-5, atol=1e-6)
    plain = featurize_pair(source, target, **options)[1]
    assert not np.allclose(Xt, plain)


def test_augmented_copies_are_extra_source_rows(tmp_path):
    source, target = _domain(8, 0, "s"), _domain(6, 1, "t", labels=False)
    options = {"cache_dir": tmp_path, "progress": False, "device": "cpu"}
    _, _, spec = featurize_pair(source, target, image_size=32, weights="random", **options)
    copies = augmented_features(source, spec, 2, seed=0, **options)
    assert len(copies) == 2 and copies[0].shape == (8, 1280)
    assert not np.allclose(copies[0], copies[1])
    with pytest.raises(ParameterError, match=r"^augmented_features\(augment=-1\): expected an "
                       r"integer >= 0; a number of augmented copies, e.g. 2$"):
        augmented_features(source, spec, -1, seed=0)
    settings = {"method": "source_only", "classifier": "logreg", "image_size": 32,
                "weights": "random", "baselines": False, "progress": False,
                "cache_dir": tmp_path, "device": "cpu"}
    augmented = TransferPipeline(augment=2, **settings).fit(source, target)
    plain = TransferPipeline(**settings).fit(source, target)
    assert augmented.augment == 2 and augmented.predict(target).shape == (6,)
    assert not np.allclose(augmented.predict_proba(target), plain.predict_proba(target))
