"""Every harmoniser: the sklearn-like contract, what it computes, its saved state, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtransfer.errors import ConfigError, DataError
from medtransfer.harmonize import (
    HARMONIZERS,
    HarmonizerChain,
    choose_harmonizer,
    foreground_fraction,
    parse_harmonize,
)
from medtransfer.params import ParameterError

WBC = Path("/work/shared/data/wbc")


def _colour(n: int, seed: int, tint: tuple[float, float, float]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(40, 220, (n, 24, 24, 1))
    pixels = np.clip(base * np.asarray(tint) + rng.normal(0, 8, (n, 24, 24, 3)), 0, 255)
    return list(pixels.astype(np.uint8))


def _grey(n: int, seed: int, gain: float, offset: float) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(100, 30, (n, 24, 24)) * gain + offset, 0, 255)
    return list(pixels.astype(np.uint8))


def _wbc(folder: str, pattern: str, n: int) -> list[np.ndarray]:
    paths = sorted((WBC / folder).glob(pattern))[:: 40][:n]
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


@pytest.mark.parametrize("name", list(HARMONIZERS))
def test_contract_state_round_trip_and_input_untouched(name):
    source, target = _colour(4, 0, (1.0, 0.7, 0.9)), _colour(4, 1, (0.8, 0.8, 1.0))
    if name == "macenko":
        source, target = _wbc("pbc", "*/*.jpg", 4), _wbc("bccd", "*/*.png", 4)
    harmonizer = HARMONIZERS.get(name)()
    assert harmonizer.fit(source, target) is harmonizer
    image = source[0].copy()
    out = harmonizer.transform(image)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(image, source[0])
    saved = json.loads(json.dumps(harmonizer.get_state()))
    rebuilt = HARMONIZERS.get(name).from_state(saved)
    np.testing.assert_array_equal(rebuilt.transform(image), out)


def _lab_means(images):
    from medtransfer.harmonize.colour import _lab_mean_std

    return np.mean([_lab_mean_std(i)[0] for i in images], axis=0)


def test_reinhard_gives_each_image_the_targets_lab_statistics():
    source, target = _colour(6, 0, (1.0, 0.6, 0.8)), _colour(6, 1, (0.7, 0.8, 1.0))
    harmonizer = HARMONIZERS.get("reinhard")().fit(source, target)
    moved = [harmonizer.transform(i) for i in source]
    before = np.abs(_lab_means(source) - harmonizer.target_means_).max()
    after = np.abs(_lab_means(moved) - harmonizer.target_means_).max()
    assert after < 0.2 * before and after < 3


@pytest.mark.slow
def test_macenko_brings_pbc_stain_towards_bccd():
    pbc, bccd = _wbc("pbc", "*/*.jpg", 6), _wbc("bccd", "*/*.png", 6)
    harmonizer = HARMONIZERS.get("macenko")().fit(pbc, bccd)
    assert harmonizer.stain_matrix_.shape == (3, 2)
    moved = [harmonizer.transform(i) for i in pbc]
    stains = lambda images: HARMONIZERS.get("macenko")().fit(images, images).stain_matrix_  # noqa: E731
    gap = lambda images: np.abs(stains(images) - harmonizer.stain_matrix_).sum()  # noqa: E731
    assert gap(moved) < 0.5 * gap(pbc)


def test_histogram_matching_matches_the_target_distribution():
    source, target = _grey(5, 0, 0.5, 20), _grey(5, 1, 1.5, 10)
    harmonizer = HARMONIZERS.get("histogram")().fit(source, target)
    moved = np.concatenate([harmonizer.transform(i).ravel() for i in source])
    reference = np.concatenate([i.ravel() for i in target])
    quantiles = np.linspace(5, 95, 10)
    gap = np.abs(np.percentile(moved, quantiles) - np.percentile(reference, quantiles)).max()
    assert gap < 6
    assert np.abs(np.percentile(np.concatenate(source), 50) - np.percentile(reference, 50)) > 30


def test_zscore_and_percentile_give_the_target_scale():
    source, target = _grey(5, 0, 0.5, 20), _grey(5, 1, 1.5, 10)
    zscore = HARMONIZERS.get("zscore")().fit(source, target)
    out = zscore.transform(source[0]).astype(float)
    assert abs(out.mean() - zscore.target_mean_[0]) < 3
    assert abs(out.std() - zscore.target_std_[0]) < 3
    clip = HARMONIZERS.get("percentile")(low=2, high=98).fit(source, target)
    low, high = np.percentile(clip.transform(source[0]), [2, 98])
    assert abs(low - clip.target_low_[0]) < 2 and abs(high - clip.target_high_[0]) < 2


def test_framing_zooms_loose_pbc_frames_to_the_tight_bccd_framing():
    pbc, bccd = _wbc("pbc", "*/*.jpg", 8), _wbc("bccd", "*/*.png", 8)
    framing = HARMONIZERS.get("framing")().fit(pbc, bccd)
    assert framing.dark_object_ == 1.0  # stained cells on bright glass
    sides = [framing.crop_side(i) for i in pbc]
    assert 0.3 < np.median(sides) < 0.7  # the cell is ~1/3 of a PBC frame
    assert np.median([framing.crop_side(i) for i in bccd]) > 0.9
    share = lambda images: np.median([foreground_fraction(i, True) for i in images])  # noqa: E731
    zoomed = [framing.transform(i) for i in pbc]
    assert abs(share(zoomed) - share(bccd)) < 0.5 * abs(share(pbc) - share(bccd))
    assert zoomed[0].shape == pbc[0].shape


def test_framing_uses_a_given_fraction():
    pbc = _wbc("pbc", "*/*.jpg", 3)
    framing = parse_harmonize("framing=0.5").fit(pbc, pbc)
    assert float(framing.steps[0].reference_fraction_) == 0.5


def test_chain_fits_steps_in_order_and_round_trips():
    pbc, bccd = _wbc("pbc", "*/*.jpg", 4), _wbc("bccd", "*/*.png", 4)
    chain = parse_harmonize("framing+reinhard").fit(pbc, bccd)
    state = json.loads(json.dumps(chain.get_state()))
    rebuilt = HarmonizerChain.from_state(state)
    assert rebuilt.spec == "framing+reinhard" and rebuilt.fingerprint() == chain.fingerprint()
    np.testing.assert_array_equal(rebuilt(pbc[0]), chain(pbc[0]))
    other = parse_harmonize("reinhard").fit(pbc, bccd)
    assert other.fingerprint() != chain.fingerprint()


def test_auto_rule_from_image_statistics():
    pbc, bccd = _wbc("pbc", "*/*.jpg", 8), _wbc("bccd", "*/*.png", 8)
    assert choose_harmonizer(pbc, bccd) == "framing+reinhard"
    assert choose_harmonizer(bccd, bccd) == "reinhard"
    grey = _grey(4, 0, 1.0, 0)
    assert choose_harmonizer(grey, grey) == "zscore"
    assert choose_harmonizer([np.stack([g] * 3, -1) for g in grey], grey) == "zscore"


def test_grey_images_with_a_colour_method_are_refused():
    grey = _grey(3, 0, 1.0, 0)
    with pytest.raises(DataError, match=r"normalises colour but got a greyscale image.*histogram"):
        HARMONIZERS.get("reinhard")().fit(grey, grey)


def test_a_target_with_one_image_is_refused():
    with pytest.raises(DataError, match=r"the target has 1 image.*at least 2"):
        HARMONIZERS.get("zscore")().fit(_grey(3, 0, 1, 0), _grey(1, 1, 1, 0))


def test_an_all_black_image_is_refused():
    black = np.zeros((16, 16, 3), dtype=np.uint8)
    with pytest.raises(DataError, match=r"blank \(every pixel is 0\)"):
        HARMONIZERS.get("histogram")().fit(_colour(3, 0, (1, 1, 1)), [black, black])


def test_macenko_refuses_an_image_without_stain():
    pbc, bccd = _wbc("pbc", "*/*.jpg", 3), _wbc("bccd", "*/*.png", 3)
    harmonizer = HARMONIZERS.get("macenko")().fit(pbc, bccd)
    glass = np.zeros((16, 16, 3), dtype=np.uint8) + np.array([236, 230, 239], dtype=np.uint8)
    glass[0, 0] = (230, 225, 240)
    with pytest.raises(DataError, match="cannot unmix an image: too few stained pixels"):
        harmonizer.transform(glass)


def test_fitted_channels_must_match():
    harmonizer = HARMONIZERS.get("histogram")().fit(_grey(3, 0, 1, 0), _grey(3, 1, 1, 0))
    with pytest.raises(DataError, match="fitted on 1-channel images but got a 3-channel"):
        harmonizer.transform(_colour(1, 0, (1, 0.5, 0.5))[0])


def test_specs_are_checked():
    with pytest.raises(ConfigError, match="Did you mean 'reinhard'"):
        parse_harmonize("reinhart")
    with pytest.raises(ParameterError, match=r"^parse_harmonize\(harmonize='framing\+reinhard="
                       r"0.3'\): harmoniser 'reinhard' takes no value; use 'reinhard' alone$"):
        parse_harmonize("framing+reinhard=0.3")
    with pytest.raises(ParameterError, match=r"^parse_harmonize\(harmonize='framing=big'\): 'big' "
                       r"in 'framing=big' is not a number; e.g. framing=0.4$"):
        parse_harmonize("framing=big")
    with pytest.raises(ParameterError, match=r"^parse_harmonize\(harmonize='auto'\): is resolved "
                       r"from the images; call choose_harmonizer"):
        parse_harmonize("auto")
    with pytest.raises(DataError, match=r"expected the share of the frame.*\(0, 1\]"):
        parse_harmonize("framing=2").fit(_grey(2, 0, 1, 0), _grey(2, 1, 1, 0))
    assert parse_harmonize("none") is None
