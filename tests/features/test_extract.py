"""Feature extraction from image Domains: channels, files, determinism, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError, DataError
from medtransfer.features.extract import extract_features

SIZE = 32  # images are tiny; the backbone sees them at 32 px to keep tests fast


def _images(n: int, channels: int | None = None, seed: int = 0) -> np.ndarray:
    shape = (n, 24, 24) if channels is None else (n, 24, 24, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _domain(inputs, name: str = "imgs") -> Domain:
    return Domain(name, "image", inputs=inputs, ids=np.array([f"i{k}" for k in range(len(inputs))]))


def _extract(domain: Domain, **options) -> np.ndarray:
    return extract_features(domain, image_size=SIZE, progress=False, cache=False, **options)


def test_grayscale_equals_rgb_with_equal_channels():
    gray = _images(3)
    features = _extract(_domain(gray))
    assert features.shape == (3, 1280) and features.dtype == np.float32
    assert np.isfinite(features).all()
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_array_equal(_extract(_domain(rgb)), features)
    np.testing.assert_array_equal(_extract(_domain(gray[..., None])), features)


def test_rgba_drops_alpha_and_colour_matters():
    rgb = _images(2, channels=3, seed=1)
    alpha = np.full((2, 24, 24, 1), 7, dtype=np.uint8)
    rgba_features = _extract(_domain(np.concatenate([rgb, alpha], axis=-1)))
    np.testing.assert_array_equal(rgba_features, _extract(_domain(rgb)))
    assert not np.allclose(rgba_features, _extract(_domain(rgb[..., ::-1].copy())))


def test_files_give_the_same_features_as_arrays(tmp_path):
    images = _images(3, channels=3, seed=2)
    paths = []
    for k, image in enumerate(images):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(image).save(paths[-1])
    np.testing.assert_array_equal(_extract(_domain(paths)), _extract(_domain(images)))


def test_sixteen_bit_png_is_rescaled(tmp_path):
    ramp = np.tile(np.arange(24, dtype=np.uint16) * 2000, (24, 1))
    Image.fromarray(ramp).save(tmp_path / "xray.png")
    eight = np.round(ramp / ramp.max() * 255).astype(np.uint8)
    from_file = _extract(_domain([tmp_path / "xray.png"]))
    np.testing.assert_allclose(from_file, _extract(_domain(eight[None])), atol=1e-5)


def test_deterministic_and_batch_size_invariant():
    domain = _domain(_images(5, channels=3, seed=3))
    first = _extract(domain, batch_size=5)
    np.testing.assert_array_equal(first, _extract(domain, batch_size=5))
    np.testing.assert_allclose(first, _extract(domain, batch_size=2), rtol=1e-4, atol=1e-5)
    assert not np.allclose(first[0], first[1])


def test_image_size_changes_the_features():
    domain = _domain(_images(1, channels=3, seed=4))
    assert not np.allclose(
        _extract(domain), extract_features(domain, image_size=64, progress=False, cache=False)
    )


def test_table_domain_is_refused():
    table = Domain("heart", "table", inputs=pd.DataFrame({"age": [1, 2]}), ids=np.array(["a", "b"]))
    with pytest.raises(
        ConfigError, match=r"domain 'heart' holds table data, not images.*TabularEncoder"
    ):
        extract_features(table)


def test_float_arrays_are_refused_with_a_fix():
    floats = np.zeros((2, 8, 8), dtype=np.float32)
    with pytest.raises(DataError, match=r"dtype float32 .* expected uint8.*astype\(np.uint8\)"):
        extract_features(_domain(floats))


def test_missing_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(DataError, match=r"input file .*gone.png' does not exist"):
        _extract(_domain([tmp_path / "gone.png"]))
    with pytest.raises(DataError, match=r"input .* is a folder, expected an image file"):
        _extract(_domain([tmp_path]))
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(DataError, match=r"notes.png: not a readable image"):
        _extract(_domain([tmp_path / "notes.png"]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, r"batch_size=0; expected a positive integer"),
        ({"image_size": 8}, r"image_size=8\): expected an integer from 16 to 1024"),
        ({"device": "gpu0"}, r"device 'gpu0' is not a torch device"),
    ],
)
def test_bad_settings_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        extract_features(_domain(_images(1)), **options)


def test_empty_domain_gives_an_empty_matrix():
    empty = Domain("none", "image", inputs=[], ids=np.array([], dtype=str))
    assert _extract(empty).shape == (0, 1280)


def test_progress_bar_goes_to_stderr_and_can_be_silenced(capfd):
    domain = _domain(_images(2, seed=5))
    extract_features(domain, image_size=SIZE, cache=False, progress=True)
    out, err = capfd.readouterr()
    assert out == "" and "features imgs (efficientnet_lite0, 32px)" in err
    extract_features(domain, image_size=SIZE, cache=False, progress=False)
    assert capfd.readouterr() == ("", "")


def test_worker_processes_give_the_same_features():
    domain = _domain(_images(4, channels=3, seed=6))
    np.testing.assert_array_equal(
        _extract(domain, num_workers=2, batch_size=2), _extract(domain, batch_size=2)
    )
