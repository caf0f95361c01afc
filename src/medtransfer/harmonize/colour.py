"""Colour and stain harmonisers for RGB images: Reinhard (LAB statistics) and Macenko (stains).

Both wrap torchstain's numpy normalisers (the same code as HistomicsTK/StainTools) with a
reference learned from many target images instead of one hand-picked slide.
"""

from __future__ import annotations

import warnings

import numpy as np

from medtransfer.errors import DataError
from medtransfer.harmonize.base import Harmonizer, register_harmonizer

# Macenko's stain matrix is estimated from a pixel pool; this bounds its memory and time
_MAX_POOL_PIXELS = 1_000_000


def _lab_mean_std(image: np.ndarray) -> np.ndarray:
    from torchstain.numpy.utils.rgb2lab import rgb2lab
    from torchstain.numpy.utils.split import lab_split

    # lab_split gives the L*a*b* scale that torchstain's normalize standardises in
    lab = np.stack(lab_split(rgb2lab(image.astype(np.float32) / 255)), axis=-1).reshape(-1, 3)
    return np.stack([lab.mean(axis=0), lab.std(axis=0)])


@register_harmonizer("reinhard")
class ReinhardNormalization(Harmonizer):
    """Reinhard colour transfer: each image's LAB mean/std set to the target's (Reinhard 2001).

    Attributes
    ----------
    target_means_, target_stds_ : ndarray of shape (3,)
        Mean over target images of their per-image LAB means and standard deviations
        (L in [0, 100], a and b centred on 0).
    """

    colour_only = True
    state_names = ("target_means_", "target_stds_")

    def _fit(self, source, target):
        stats = np.array([_lab_mean_std(image) for image in target])
        self.target_means_ = stats[:, 0].mean(axis=0)
        self.target_stds_ = stats[:, 1].mean(axis=0)

    def _transform(self, image):
        from torchstain.numpy.normalizers import NumpyReinhardNormalizer

        normalizer = NumpyReinhardNormalizer()
        normalizer.target_means = self.target_means_
        normalizer.target_stds = self.target_stds_
        return normalizer.normalize(image)


def _pixel_pool(images: list[np.ndarray]) -> np.ndarray:
    """All pixels of ``images`` as an (N, 1, 3) image, evenly thinned to a bounded size."""
    pool = np.concatenate([image.reshape(-1, 3) for image in images])
    step = max(1, len(pool) // _MAX_POOL_PIXELS)
    return pool[::step][:, None, :]


@register_harmonizer("macenko")
class MacenkoNormalization(Harmonizer):
    """Macenko stain normalisation: unmix two stains, rescale to the target's (Macenko 2009).

    Made for H&E; it also fits other two-stain brightfield preparations such as
    May-Grünwald-Giemsa blood smears.

    Parameters
    ----------
    background : float, default=240
        Transmitted light intensity Io (the brightness of empty glass).
    alpha : float, default=1
        Percentile of the stain angles taken as the extreme stain vectors.
    beta : float, default=0.15
        Optical density below which a pixel is background.

    Attributes
    ----------
    stain_matrix_ : ndarray of shape (3, 2)
        The target's stain vectors in optical density space.
    max_concentrations_ : ndarray of shape (2,)
        99th percentile of the target's stain concentrations.
    """

    colour_only = True
    state_names = ("stain_matrix_", "max_concentrations_")

    def __init__(self, background: float = 240.0, alpha: float = 1.0, beta: float = 0.15) -> None:
        self.background = background
        self.alpha = alpha
        self.beta = beta

    def _normalizer(self):
        from torchstain.numpy.normalizers import NumpyMacenkoNormalizer

        return NumpyMacenkoNormalizer()

    def _fit(self, source, target):
        normalizer = self._normalizer()
        self._run(normalizer.fit, _pixel_pool(target), "the target's pixels")
        self.stain_matrix_ = np.asarray(normalizer.HERef, dtype=float)
        self.max_concentrations_ = np.asarray(normalizer.maxCRef, dtype=float)

    def _transform(self, image):
        normalizer = self._normalizer()
        normalizer.HERef, normalizer.maxCRef = self.stain_matrix_, self.max_concentrations_
        return self._run(normalizer.normalize, image, "an image", stains=False)[0]

    def _run(self, step, pixels: np.ndarray, what: str, **options):
        try:
            with warnings.catch_warnings(), np.errstate(
                divide="raise", invalid="raise", over="ignore", under="ignore"
            ):
                # an empty pixel set warns before it fails; the failure is reported below
                warnings.simplefilter("ignore", RuntimeWarning)
                return step(pixels, Io=self.background, alpha=self.alpha, beta=self.beta,
                            **options)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError, IndexError):
            raise DataError(
                f"Macenko stain normalisation cannot unmix {what}: too few stained pixels "
                f"(optical density above beta={self.beta}); it needs brightfield stained "
                "images. Use --harmonize reinhard or histogram instead"
            ) from None
