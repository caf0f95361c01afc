"""``pneumonia-shift``: PneumoniaMNIST train -> its test split under acquisition shifts.

Source: a class-stratified, seeded subsample of 1,000 of the 2,428 bundled training images
(500 per class; a new draw per seed). Targets: the 468 test images under each of three
MedMNIST-C corruptions (Gaussian noise, lowered contrast, Gaussian blur) at severities 2 and
4 — six targets, each a fixed, deterministic copy (corruption seed 0). k target images are
labelled (stratified by class, seeded); every other target image is the test set, seen
unlabelled by the methods. Features: frozen EfficientNet-Lite0 at 64 px.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from medtransfer.bench.core import Split, Unit
from medtransfer.bench.images import IMAGE_SIZE, ImageSuite, frozen_features, stacked_split
from medtransfer.data.acquisition import shift_images
from medtransfer.data.domain import Domain
from medtransfer.data.sampling import choose_labelled, per_class_subset
from medtransfer.datasets.pneumonia import PNEUMONIA_CLASSES, pneumonia

SOURCE = "pneumonia/train"
SHIFTS = ("gaussian_noise", "contrast_down", "gaussian_blur")
LEVELS = (2, 4)
SOURCE_N = 1000
SHIFT_SEED = 0


@cache
def _source(seed: int, image_size: int, source_n: int) -> tuple[np.ndarray, np.ndarray]:
    train = pneumonia("train")
    chosen = train.subset(per_class_subset(train, source_n // len(PNEUMONIA_CLASSES), seed))
    return frozen_features(chosen, image_size), chosen.labels


@cache
def shifted_test(target: str) -> Domain:
    """The test split under ``target`` (``"<corruption>-<severity>"``), deterministic."""
    corruption, severity = target.rsplit("-", 1)
    return shift_images(pneumonia("test"), corruption, int(severity), seed=SHIFT_SEED)


@cache
def _target(target: str, image_size: int) -> tuple[np.ndarray, Domain]:
    domain = shifted_test(target)
    return frozen_features(domain, image_size), domain


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
    """

    name = "pneumonia-shift"
    metrics = ("auroc", "balanced_accuracy")
    default_k = (0, 10, 40)
    class_names = PNEUMONIA_CLASSES

    def __init__(self, image_size: int = IMAGE_SIZE, source_n: int = SOURCE_N,
                 shifts: tuple[str, ...] = SHIFTS, levels: tuple[int, ...] = LEVELS) -> None:
        self.image_size = image_size
        self.source_n = source_n
        self.shifts = shifts
        self.levels = levels

    def pairs(self) -> list[tuple[str, str]]:
        return [(SOURCE, f"{s}-{level}") for s in self.shifts for level in self.levels]

    def split(self, unit: Unit) -> Split:
        Xs, ys = _source(unit.seed, self.image_size, self.source_n)
        Xt, target = _target(unit.target, self.image_size)
        labelled = choose_labelled(target, unit.k, random_state=unit.seed)
        return stacked_split(Xs, ys, Xt, target.labels, labelled)
