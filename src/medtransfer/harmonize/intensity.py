"""Intensity harmonisers, per channel (grey or colour): histogram matching, z-score, percentiles."""

from __future__ import annotations

import numpy as np

from medtransfer.harmonize.base import (
    Harmonizer,
    channels,
    check_channels,
    register_harmonizer,
    restore_shape,
)

LEVELS = 256


def _histograms(image: np.ndarray) -> np.ndarray:
    """Per-channel 256-bin histograms, shape (C, 256)."""
    pixels = channels(image).astype(np.int64)
    return np.stack([np.bincount(pixels[..., c].ravel(), minlength=LEVELS)
                     for c in range(pixels.shape[-1])]).astype(np.float64)


def _cdf(histograms: np.ndarray) -> np.ndarray:
    counts = np.cumsum(histograms, axis=-1)
    return counts / counts[..., -1:]


@register_harmonizer("histogram")
class HistogramMatching(Harmonizer):
    """Match each channel's histogram to the target's pooled histogram (CDF matching).

    The same mapping as ``skimage.exposure.match_histograms`` with a reference made of all
    target pixels, done on 256 levels in numpy.

    Attributes
    ----------
    target_cdf_ : ndarray of shape (C, 256)
        Cumulative distribution of the target's pixel values per channel.
    """

    state_names = ("target_cdf_",)

    def _fit(self, source, target):
        self.target_cdf_ = _cdf(sum(_histograms(image) for image in target))

    def _transform(self, image):
        check_channels(image, len(self.target_cdf_), self.name)
        own = _cdf(_histograms(image))
        pixels = channels(image).astype(np.int64)
        out = np.empty(pixels.shape)
        levels = np.arange(LEVELS, dtype=np.float64)
        for c, (cdf, reference) in enumerate(zip(own, self.target_cdf_, strict=True)):
            lookup = np.interp(cdf, reference, levels)
            out[..., c] = lookup[pixels[..., c]]
        return restore_shape(out, image)


def _mean_std(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = channels(image)
    return pixels.mean(axis=(0, 1)), pixels.std(axis=(0, 1))


@register_harmonizer("zscore")
class ZScore(Harmonizer):
    """Standardise each image per channel, then give it the target's typical mean and spread.

    Attributes
    ----------
    target_mean_, target_std_ : ndarray of shape (C,)
        Mean over target images of their per-image mean and standard deviation.
    """

    state_names = ("target_mean_", "target_std_")

    def _fit(self, source, target):
        stats = np.array([_mean_std(image) for image in target])
        self.target_mean_, self.target_std_ = stats[:, 0].mean(axis=0), stats[:, 1].mean(axis=0)

    def _transform(self, image):
        check_channels(image, len(self.target_mean_), self.name)
        mean, std = _mean_std(image)
        scaled = (channels(image) - mean) / np.maximum(std, 1e-6)
        return restore_shape(scaled * self.target_std_ + self.target_mean_, image)


@register_harmonizer("percentile")
class PercentileClip(Harmonizer):
    """Clip each image at its own low/high percentiles and map them to the target's.

    The usual robust intensity standardisation of MRI and X-ray: outliers (burnt-in text,
    metal, hot pixels) are clipped, and the remaining range is stretched linearly.

    Parameters
    ----------
    low, high : float
        Percentiles that are clipped (default 1 and 99).

    Attributes
    ----------
    target_low_, target_high_ : ndarray of shape (C,)
        Mean over target images of those percentiles, per channel.
    """

    state_names = ("target_low_", "target_high_")

    def __init__(self, low: float = 1.0, high: float = 99.0) -> None:
        self.low = low
        self.high = high

    def _percentiles(self, image: np.ndarray) -> np.ndarray:
        return np.percentile(channels(image), [self.low, self.high], axis=(0, 1))

    def _fit(self, source, target):
        bounds = np.mean([self._percentiles(image) for image in target], axis=0)
        self.target_low_, self.target_high_ = bounds

    def _transform(self, image):
        check_channels(image, len(self.target_low_), self.name)
        low, high = self._percentiles(image)
        unit = (np.clip(channels(image), low, high) - low) / np.maximum(high - low, 1e-6)
        return restore_shape(unit * (self.target_high_ - self.target_low_) + self.target_low_,
                             image)
