"""MedMNIST-style ``.npz`` archives: ``{train,val,test}_images`` and ``..._labels``."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.data.domain import Domain
from medtransfer.data.images import MIN_SIDE
from medtransfer.data.labels import check_task
from medtransfer.errors import DataError

SPLITS = ("train", "val", "test")
CLASS_NAMES_KEY = "class_names"
MAX_CLASSES = 1000  # a larger code is a corrupt label, not a class (names are built per code)


def load_npz(
    path: Path,
    *,
    split: str | None = None,
    name: str | None = None,
    class_names: Sequence[str] | None = None,
    task: str = "classification",
) -> Domain:
    """Load a MedMNIST-style archive as an image Domain.

    Parameters
    ----------
    path : Path
        ``.npz`` holding ``<split>_images`` (uint8, (n, H, W) or (n, H, W, C)) and
        optionally ``<split>_labels`` (integer codes, shape (n,) or (n, 1)) for the splits
        train, val and test, and optionally a ``class_names`` string array.
    split : {"train", "val", "test"} or None
        The split to load; None concatenates every split present (in that order).
    name : str, optional
        Domain name; defaults to ``<stem>/<split>`` (or the stem).
    class_names : sequence of str, optional
        Names of the codes 0, 1, ...; default: the archive's ``class_names`` or "0", "1", ...
    task : {"classification", "regression"}
        Regression reads the labels as floats.

    Returns
    -------
    Domain
        Image domain whose inputs are the uint8 array; ids look like ``test/000123``, and
        ``metadata["split"]`` names each sample's split.
    """
    check_task(task, "load_npz")
    path = Path(path)
    arrays = _read(path)
    present = [s for s in SPLITS if f"{s}_images" in arrays]
    if not present:
        raise DataError(
            f"{path}: no train_images/val_images/test_images arrays (found "
            f"{', '.join(arrays) or 'none'}); save the images under those keys"
        )
    chosen = present if split is None else [_check_split(path, split, present)]
    images = np.concatenate([_images(path, arrays, s) for s in chosen])
    labels = _labels(path, arrays, chosen, task)
    ids = [f"{s}/{i:06d}" for s in chosen for i in range(len(arrays[f"{s}_images"]))]
    classes = None
    if labels is not None and task == "classification":
        classes = _class_names(path, arrays, class_names, present)
    return Domain(
        name=name or (path.stem if split is None else f"{path.stem}/{split}"),
        kind="image",
        inputs=images,
        ids=np.array(ids, dtype=object),
        labels=labels,
        class_names=classes,
        metadata=pd.DataFrame({"split": [i.split("/")[0] for i in ids]}),
        root=path.parent,
    )


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path")
    try:
        # allow_pickle=False: an .npz from a user must never run code when loaded.
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path}: not a readable .npz archive of plain arrays ({exc}); save it with "
            "numpy.savez and no object arrays"
        ) from None


def _check_split(path: Path, split: str, present: list[str]) -> str:
    if split not in present:
        raise DataError(
            f"{path}: no split {split!r}; available splits: {', '.join(present)} "
            "(or split=None for all of them)"
        )
    return split


def _images(path: Path, arrays: dict[str, np.ndarray], split: str) -> np.ndarray:
    images = arrays[f"{split}_images"]
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(
            f"{path}: {split}_images must be uint8 of shape (n, H, W) or (n, H, W, C), got "
            f"{images.dtype} {images.shape}; convert the images to 8-bit first"
        )
    if len(images) == 0 or min(images.shape[1:3]) < MIN_SIDE:
        raise DataError(
            f"{path}: {split}_images has shape {images.shape}; expected at least one image "
            f"of at least {MIN_SIDE}x{MIN_SIDE} pixels; drop the empty split or re-export it"
        )
    return images


def _labels(
    path: Path, arrays: dict[str, np.ndarray], splits: list[str], task: str
) -> np.ndarray | None:
    keys = [f"{s}_labels" for s in splits]
    if not any(k in arrays for k in keys):
        return None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataError(f"{path}: {missing[0]} is missing while other splits have labels")
    parts = []
    for key, split in zip(keys, splits, strict=True):
        labels = arrays[key].reshape(len(arrays[key]), -1)
        if labels.shape[1] != 1 or len(labels) != len(arrays[f"{split}_images"]):
            raise DataError(
                f"{path}: {key} must hold one label per image, got shape {arrays[key].shape} "
                f"for {len(arrays[f'{split}_images'])} images (multi-label is not supported)"
            )
        parts.append(labels[:, 0])
    labels = np.concatenate(parts)
    if task == "regression":
        return labels.astype(np.float64)
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < -1:
        raise DataError(
            f"{path}: class labels must be integer codes 0, 1, ... (-1 = unlabelled), got "
            f"{labels.dtype} with minimum {labels.min()}; use task='regression' for values"
        )
    if labels.max() >= MAX_CLASSES:
        raise DataError(
            f"{path}: class label {labels.max()} is not a class code: expected codes 0 to "
            f"{MAX_CLASSES - 1} (-1 = unlabelled); fix the labels or use task='regression'"
        )
    return labels.astype(np.int64)


def _class_names(
    path: Path,
    arrays: dict[str, np.ndarray],
    given: Sequence[str] | None,
    splits: list[str],
) -> tuple[str, ...]:
    # Counted over every split so that train and test of one archive share one class list.
    n_classes = 1 + max(int(arrays[k].max()) for s in splits if (k := f"{s}_labels") in arrays)
    if given is None and CLASS_NAMES_KEY in arrays:
        given = [str(n) for n in arrays[CLASS_NAMES_KEY].ravel()]
    if given is None:
        return tuple(str(i) for i in range(n_classes))
    if len(given) < n_classes:
        raise DataError(
            f"{path}: {len(given)} class names {list(given)} for label codes up to "
            f"{n_classes - 1}; give one name per code"
        )
    return tuple(str(n) for n in given)
