"""Harmonised features: the spec carries the fitted state, the cache key includes it."""

from __future__ import annotations

import numpy as np

from medtransfer.data.domain import Domain
from medtransfer.features.featurize import featurize, featurize_pair


def _images(n: int, seed: int, name: str, gain: float) -> Domain:
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(110, 40, (n, 20, 20)) * gain, 0, 255).astype(np.uint8)
    return Domain(name, "image", inputs=pixels, ids=np.array([f"{name}{k}" for k in range(n)]))


def test_harmonised_pair_replays_and_misses_the_plain_cache(tmp_path):
    source, target = _images(3, 0, "src", 0.6), _images(3, 1, "tgt", 1.4)
    pixels = source.inputs.copy()
    options = {"image_size": 32, "cache_dir": tmp_path, "progress": False, "device": "cpu",
               "weights": "random"}
    Xs, Xt, spec = featurize_pair(source, target, harmonize="zscore", **options)
    plain_s, _, plain_spec = featurize_pair(source, target, **options)
    assert "harmonizer" not in plain_spec and spec["harmonizer"]["spec"] == "zscore"
    assert not np.allclose(Xs, plain_s)
    np.testing.assert_array_equal(source.inputs, pixels)  # the user's array is unchanged
    replay = {k: v for k, v in options.items() if k in ("cache_dir", "progress", "device")}
    np.testing.assert_allclose(featurize(source, spec, **replay), Xs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(featurize(target, spec, cache_dir=tmp_path / "fresh",
                                         progress=False, device="cpu"), Xt, rtol=1e-4, atol=1e-5)
