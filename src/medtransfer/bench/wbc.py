"""``wbc``: white-blood-cell types from the PBC lab (Barcelona) to the BCCD lab.

Source: a seeded subsample of 300 PBC images per class (1,500 of 10,298; a new draw per
seed). Target: all 341 BCCD cells, classes matched case-insensitively. k target cells *per
class* are labelled, but never more than half of a class (BCCD has 2 basophils and 20
monocytes), so every class stays in every test set: basophil gets 1 labelled cell at any
k > 0, monocyte 5 at k = 5 and 10 at k = 20. Every other target cell is the test set, seen
unlabelled by the methods. Features: frozen EfficientNet-Lite0 at 64 px. Metrics: balanced
accuracy (headline) and macro one-vs-rest AUROC over the classes in the test set.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from medtransfer.bench.core import Split, Unit
from medtransfer.bench.images import IMAGE_SIZE, ImageSuite, frozen_features, stacked_split
from medtransfer.data.domain import Domain
from medtransfer.data.sampling import per_class_subset
from medtransfer.datasets.wbc import wbc_folders, wbc_pair

SOURCE_PER_CLASS = 300
# At most this share of a target class is labelled; the rest stays for testing.
MAX_LABELLED_SHARE = 0.5


@cache
def _domains(data: Path) -> tuple[Domain, Domain]:
    return wbc_pair(data)


@cache
def _source(
    data: Path, seed: int, per_class: int, image_size: int
) -> tuple[np.ndarray, np.ndarray]:
    source = _domains(data)[0]
    chosen = source.subset(per_class_subset(source, per_class, seed))
    return frozen_features(chosen, image_size), chosen.labels


@cache
def _target(data: Path, image_size: int) -> np.ndarray:
    return frozen_features(_domains(data)[1], image_size)


class WbcSuite(ImageSuite):
    """Balanced accuracy and macro AUROC of white-cell typing, PBC -> BCCD.

    Parameters
    ----------
    data : Path or None
        Folder holding ``wbc/pbc/<class>/`` and ``wbc/bccd/<CLASS>/``; checked at once.
    image_size : int
        Side the images are resized to before the backbone.
    source_per_class : int
        Source images per class and seed.
    """

    name = "wbc"
    metrics = ("balanced_accuracy", "auroc")
    default_k = (0, 5, 20)

    def __init__(self, data: Path | None, image_size: int = IMAGE_SIZE,
                 source_per_class: int = SOURCE_PER_CLASS) -> None:
        wbc_folders(data)  # a missing folder is reported before any work
        self.data = Path(data).resolve()
        self.image_size = image_size
        self.source_per_class = source_per_class

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(_domains(self.data)[0].class_names)

    def pairs(self) -> list[tuple[str, str]]:
        return [("pbc", "bccd")]

    def split(self, unit: Unit) -> Split:
        Xs, ys = _source(self.data, unit.seed, self.source_per_class, self.image_size)
        target = _domains(self.data)[1]
        labelled = per_class_subset(target, unit.k, unit.seed, max_share=MAX_LABELLED_SHARE)
        return stacked_split(Xs, ys, _target(self.data, self.image_size), target.labels,
                             labelled)
