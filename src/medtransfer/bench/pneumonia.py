"""``pneumonia-shift``: PneumoniaMNIST train -> its test split under acquisition shifts.

Source: a class-stratified, seeded subsample of 1,000 of the 2,428 bundled training images
(500 per class; a new draw per seed). Targets: the 468 test images under each of three
MedMNIST-C corruptions (Gaussian noise, lowered contrast, Gaussian blur) at severities 2 and
4 — six targets, each a fixed, deterministic copy (corruption seed 0). k target images are
labelled (stratified by class, seeded); every other target image is the test set, seen
unlabelled by the methods. Features: frozen EfficientNet-Lite0 at 64 px, of harmonised pixels
with ``harmonize`` (the chain fitted per seed and target on that seed's source and the
target's images, so the source rows differ per target too).
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

from medtransfer.bench.core import Split, Unit
from medtransfer.bench.images import (
    IMAGE_SIZE,
    ImageSuite,
    check_harmonize,
    stacked_split,
    unit_features,
)
from medtransfer.data.acquisition import shift_images
from medtransfer.data.domain import Domain
from medtransfer.data.sampling import choose_labelled, per_class_subset
from medtransfer.datasets.pneumonia import PNEUMONIA_CLASSES, pneumonia

SOURCE = "pneumonia/train"
SHIFTS = ("gaussian_noise", "contrast_down", "gaussian_blur")
LEVELS = (2, 4)
SOURCE_N = 1000
SHIFT_SEED = 0


@lru_cache(maxsize=2)  # units run seed-major, then pair: a pair's k's reuse its features
def _features(
    seed: int, target: str, image_size: int, source_n: int, harmonize: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    train = pneumonia("train")
    chosen = train.subset(per_class_subset(train, source_n // len(PNEUMONIA_CLASSES), seed))
    Xs, Xt, harmonizer = unit_features(chosen, shifted_test(target), image_size, harmonize,
                                       seed)
    return Xs, chosen.labels, Xt, harmonizer


@cache
def shifted_test(target: str) -> Domain:
    """The test split under ``target`` (``"<corruption>-<severity>"``), deterministic."""
    corruption, severity = target.rsplit("-", 1)
    return shift_images(pneumonia("test"), corruption, int(severity), seed=SHIFT_SEED)


class PneumoniaShiftSuite(ImageSuite):
    """AUROC and balanced accuracy on acquisition-shifted PneumoniaMNIST test images.

    Parameters
    ----------
    image_size : int
        Side the images are resized to before the backbone.
    source_n : int
        Source images per seed (half per class).
    shifts, levels : tuple
        Corruptions (names in :data:`~medtransfer.data.acquisition.CORRUPTIONS`) and
        severities (1-5) crossed into the targets.
    harmonize : str
        A ``--harmonize`` spec (``none``, ``auto``, ``zscore``...).
    """

    name = "pneumonia-shift"
    metrics = ("auroc", "balanced_accuracy")
    default_k = (0, 10, 40)
    class_names = PNEUMONIA_CLASSES

    def __init__(self, image_size: int = IMAGE_SIZE, source_n: int = SOURCE_N,
                 shifts: tuple[str, ...] = SHIFTS, levels: tuple[int, ...] = LEVELS,
                 harmonize: str = "none") -> None:
        self.image_size = image_size
        self.source_n = source_n
        self.shifts = shifts
        self.levels = levels
        self.harmonize = check_harmonize(harmonize)

    def pairs(self) -> list[tuple[str, str]]:
        return [(SOURCE, f"{s}-{level}") for s in self.shifts for level in self.levels]

    def split(self, unit: Unit) -> Split:
        Xs, ys, Xt, harmonizer = _features(unit.seed, unit.target, self.image_size,
                                           self.source_n, self.harmonize)
        target = shifted_test(unit.target)
        labelled = choose_labelled(target, unit.k, random_state=unit.seed)
        return stacked_split(Xs, ys, Xt, target.labels, labelled, harmonizer)
