"""``wbc``: white-blood-cell types from the PBC lab (Barcelona) to the BCCD lab.

Source: a seeded subsample of 300 PBC images per class (1,500 of 10,298; a new draw per
seed). Target: all 341 BCCD cells, classes matched case-insensitively. k target cells *per
class* are labelled, but never more than half of a class (BCCD has 2 basophils and 20
monocytes), so every class stays in every test set: basophil gets 1 labelled cell at any
k > 0, monocyte 5 at k = 5 and 10 at k = 20. Every other target cell is the test set, seen
unlabelled by the methods. Features: frozen EfficientNet-Lite0 at 64 px, of harmonised pixels
with ``harmonize`` (the chain fitted per seed on that seed's source and the BCCD images).
Metrics: balanced accuracy (headline) and macro one-vs-rest AUROC over the classes in the
test set.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from medtransfer.bench.core import Split, Unit
from medtransfer.bench.images import (
    IMAGE_SIZE,
    ImageSuite,
    check_harmonize,
    stacked_split,
    unit_features,
)
from medtransfer.data.domain import Domain
from medtransfer.data.sampling import per_class_subset
from medtransfer.datasets.wbc import wbc_folders, wbc_pair

SOURCE_PER_CLASS = 300
# At most this share of a target class is labelled; the rest stays for testing.
MAX_LABELLED_SHARE = 0.5


@cache
def _domains(data: Path) -> tuple[Domain, Domain]:
    return wbc_pair(data)


@lru_cache(maxsize=2)  # units run seed-major: a seed's k's reuse its features
def _features(
    data: Path, seed: int, per_class: int, image_size: int, harmonize: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    source, target = _domains(data)
    chosen = source.subset(per_class_subset(source, per_class, seed))
    Xs, Xt, harmonizer = unit_features(chosen, target, image_size, harmonize, seed)
    return Xs, chosen.labels, Xt, harmonizer


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
    harmonize : str
        A ``--harmonize`` spec (``none``, ``auto``, ``framing+reinhard``...).
    """

    name = "wbc"
    metrics = ("balanced_accuracy", "auroc")
    default_k = (0, 5, 20)

    def __init__(self, data: Path | None, image_size: int = IMAGE_SIZE,
                 source_per_class: int = SOURCE_PER_CLASS, harmonize: str = "none") -> None:
        wbc_folders(data)  # a missing folder is reported before any work
        self.data = Path(data).resolve()
        self.image_size = image_size
        self.source_per_class = source_per_class
        self.harmonize = check_harmonize(harmonize)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(_domains(self.data)[0].class_names)

    def pairs(self) -> list[tuple[str, str]]:
        return [("pbc", "bccd")]

    def split(self, unit: Unit) -> Split:
        Xs, ys, Xt, harmonizer = _features(self.data, unit.seed, self.source_per_class,
                                           self.image_size, self.harmonize)
        target = _domains(self.data)[1]
        labelled = per_class_subset(target, unit.k, unit.seed, max_share=MAX_LABELLED_SHARE)
        return stacked_split(Xs, ys, Xt, target.labels, labelled, harmonizer)
