import itertools

import numpy as np
import pytest
from PIL import Image

from medtransfer.data.acquisition import CORRUPTIONS, SEVERITIES, shift_images
from medtransfer.data.domain import Domain
from medtransfer.datasets import pneumonia
from medtransfer.errors import ConfigError, DataError

NOISY = ("gaussian_noise", "speckle_noise", "impulse_noise", "shot_noise")


@pytest.fixture(scope="module")
def xrays() -> Domain:
    return pneumonia("test").subset(np.arange(0, 468, 12))  # 39 real chest X-rays


def _distance(shifted: Domain, clean: Domain) -> float:
    return float(np.abs(shifted.inputs.astype(float) - clean.inputs.astype(float)).mean())


def test_registry_holds_one_entry_per_corruption():
    assert sorted(CORRUPTIONS) == sorted(SEVERITIES) and len(CORRUPTIONS) == 13
    with pytest.raises(ConfigError, match=r"unknown corruption 'gausian_noise'.*Did you mean"):
        shift_images(pneumonia("val"), "gausian_noise")


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_distance_grows_with_severity(xrays, name):
    distances = [_distance(shift_images(xrays, name, s), xrays) for s in range(1, 6)]
    if name == "pixelate":
        # At 28 px, level 4 (14 px) divides the size exactly and aliases less than level 3
        # (16 px), so only the ends are ordered; every level still differs.
        assert distances[0] < distances[-1] and len(set(np.round(distances, 6))) == 5
    else:
        assert all(a < b for a, b in itertools.pairwise(distances)), distances
    shifted = shift_images(xrays, name, 3)
    assert shifted.inputs.dtype == np.uint8 and shifted.inputs.shape == xrays.inputs.shape
    assert np.array_equal(shifted.labels, xrays.labels) and list(shifted.ids) == list(xrays.ids)
    assert shifted.name == f"pneumonia/test/{name}-3"
    assert set(shifted.metadata["corruption"]) == {name}


def test_noise_std_follows_the_published_sigma(xrays):
    for severity, sigma in enumerate(SEVERITIES["gaussian_noise"], start=1):
        shifted = shift_images(xrays, "gaussian_noise", severity).inputs
        noise = (shifted.astype(float) - xrays.inputs) / 255.0
        mid = (xrays.inputs > 40) & (xrays.inputs < 215)  # away from clipping
        assert abs(noise[mid].std() - sigma) < 0.005


def test_directions_of_intensity_changes(xrays):
    mean = xrays.inputs.mean()
    assert shift_images(xrays, "brightness_up", 2).inputs.mean() > mean
    assert shift_images(xrays, "brightness_down", 2).inputs.mean() < mean
    assert shift_images(xrays, "contrast_down", 2).inputs.std() < xrays.inputs.std()
    assert shift_images(xrays, "gamma_up", 2).inputs.mean() < mean


@pytest.mark.parametrize("name", NOISY)
def test_same_seed_same_bytes(xrays, name):
    a = shift_images(xrays, name, 4, seed=7).inputs
    assert a.tobytes() == shift_images(xrays, name, 4, seed=7).inputs.tobytes()
    assert a.tobytes() != shift_images(xrays, name, 4, seed=8).inputs.tobytes()


def test_path_domains_are_read_and_match_arrays(tmp_path, xrays):
    paths = []
    for i, image in enumerate(xrays.inputs[:5]):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    on_disk = Domain("disk", "image", paths, np.array([str(i) for i in range(5)]))
    in_memory = Domain("mem", "image", xrays.inputs[:5], on_disk.ids)
    for name in ("jpeg", "shot_noise"):
        assert np.array_equal(
            shift_images(on_disk, name, 5).inputs, shift_images(in_memory, name, 5).inputs
        )


def test_rgb_and_channel_axis_images_work():
    rgb = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    one = rgb[..., :1]
    for images in (rgb, one):
        domain = Domain("c", "image", images, np.array(["a", "b", "c"]))
        for name in SEVERITIES:
            assert shift_images(domain, name, 5).inputs.shape == images.shape


def test_refusals(tmp_path, xrays):
    with pytest.raises(ConfigError, match="severity must be an integer from 1 to 5, got 6"):
        shift_images(xrays, "jpeg", 6)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "b.png")
    mixed = Domain("m", "image", [tmp_path / "a.png", tmp_path / "b.png"], np.array(["a", "b"]))
    with pytest.raises(DataError, match="images differ in shape"):
        shift_images(mixed, "jpeg")
    from medtransfer.datasets import heart_disease

    with pytest.raises(DataError, match="is a table; shift_images needs images"):
        shift_images(heart_disease("Hungary"), "jpeg")
