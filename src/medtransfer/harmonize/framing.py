"""Framing normalisation: zoom each image so its object fills a comparable part of the frame.

Two labs may photograph the same cells at different magnification, or crop an organ loosely
or tightly. The object is found without labels: pixels on the far side of the image's
mid-level from its border (dark objects on a bright background in brightfield microscopy,
bright ones on a dark background in X-ray/CT). An image whose object covers less of the
frame than the reference is centre-cropped until it covers the reference fraction; an image
whose object already covers more is left as it is (padding would invent pixels).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from medtransfer.errors import DataError
from medtransfer.harmonize.base import Harmonizer, channels, register_harmonizer

_BORDER = 0.08


def _grey(image: np.ndarray) -> np.ndarray:
    return channels(image).mean(axis=-1)


def _border_is_bright(grey: np.ndarray) -> bool:
    h, w = grey.shape
    bh, bw = max(1, int(h * _BORDER)), max(1, int(w * _BORDER))
    ring = np.concatenate([grey[:bh].ravel(), grey[-bh:].ravel(),
                           grey[:, :bw].ravel(), grey[:, -bw:].ravel()])
    return bool(np.median(ring) > np.median(grey[bh:-bh, bw:-bw]))


def foreground_fraction(image: np.ndarray, dark_object: bool) -> float:
    """Share of the frame covered by the object (pixels past the image's mid-level)."""
    grey = _grey(image)
    low, high = np.percentile(grey, [1, 99])
    middle = low + 0.5 * (high - low)
    return float(np.mean(grey < middle) if dark_object else np.mean(grey > middle))


@register_harmonizer("framing")
class FramingNormalization(Harmonizer):
    """Centre-crop each image so its object fills the target's typical share of the frame.

    Parameters
    ----------
    fraction : float, optional
        The share of the frame (by area, in (0, 1]) the object should fill; by default the
        target images' median, estimated at fit.
    min_crop : float, default=0.25
        The smallest crop side, as a fraction of the image side (bounds the zoom at 4x).

    Attributes
    ----------
    reference_fraction_ : ndarray of shape ()
        The object share every image is brought up to.
    dark_object_ : ndarray of shape ()
        1.0 when objects are darker than their background (decided by most images).
    """

    state_names = ("reference_fraction_", "dark_object_")

    def __init__(self, fraction: float | None = None, min_crop: float = 0.25) -> None:
        self.fraction = fraction
        self.min_crop = min_crop

    def _fit(self, source, target):
        self._check_params()
        votes = [_border_is_bright(_grey(image)) for image in [*source, *target]]
        self.dark_object_ = np.asarray(float(np.mean(votes) >= 0.5))
        if self.fraction is not None:
            self.reference_fraction_ = np.asarray(float(self.fraction))
            return
        shares = [foreground_fraction(image, bool(self.dark_object_)) for image in target]
        self.reference_fraction_ = np.asarray(float(np.median(shares)))

    def _check_params(self) -> None:
        if self.fraction is not None and not 0 < float(self.fraction) <= 1:
            raise DataError(
                f"framing fraction={self.fraction!r}; expected the share of the frame the "
                "object fills, in (0, 1], e.g. framing=0.4"
            )
        if not 0 < float(self.min_crop) <= 1:
            raise DataError(f"framing min_crop={self.min_crop!r}; expected a value in (0, 1]")

    def crop_side(self, image: np.ndarray) -> float:
        """The side of the centre crop for ``image``, as a fraction of its side."""
        share = foreground_fraction(image, bool(self.dark_object_))
        side = np.sqrt(share / max(float(self.reference_fraction_), 1e-6))
        return float(np.clip(side, self.min_crop, 1.0))

    def _transform(self, image):
        return centre_zoom(image, self.crop_side(image))


def centre_zoom(image: np.ndarray, side: float) -> np.ndarray:
    """The centre crop of ``side`` (a fraction of each side) resized back to the full size."""
    if side >= 1.0:
        return image
    h, w = image.shape[:2]
    ch, cw = max(1, round(h * side)), max(1, round(w * side))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = Image.fromarray(image[top : top + ch, left : left + cw])
    return np.asarray(crop.resize((w, h), Image.Resampling.BICUBIC))
