"""Domains turned into training tensors: labelled rows, validation split, unlabelled target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress
from sklearn.model_selection import train_test_split

from medtransfer.data.classes import class_key
from medtransfer.data.domain import Domain
from medtransfer.errors import DataError
from medtransfer.features.backbones import BackboneConfig
from medtransfer.features.extract import ImageDataset, check_image_size, image_items


def image_tensor(
    domain: Domain, config: BackboneConfig, image_size: int, *, progress: bool = False
) -> torch.Tensor:
    """All images of ``domain`` as a float tensor (n, channels, size, size).

    Every image gets the backbone's channel count (grayscale is repeated to RGB, alpha is
    dropped), so folders mixing grayscale and colour files give one consistent tensor.

    Parameters
    ----------
    domain : Domain
        An image domain (file paths or a uint8 array).
    config : BackboneConfig
        Supplies channels, mean/std and the resampling filter.
    image_size : int
        Side of the square images.
    progress : bool
        Show a progress bar while reading.

    Returns
    -------
    Tensor of float32
    """
    check_image_size(image_size)
    dataset = ImageDataset(image_items(domain), config, image_size)
    if len(dataset) == 0:
        return torch.empty((0, config.in_chans, image_size, image_size))
    rows = []
    with Progress(console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(f"reading {domain.name}", total=len(dataset))
        for index in range(len(dataset)):
            rows.append(dataset[index])
            bar.advance(task)
    return torch.stack(rows)


@dataclass
class PreparedData:
    """Tensors for fine-tuning, split once with a seed.

    ``train_*`` and ``val_*`` come from the labelled samples only (source and labelled
    target); ``*_from_target`` flags the target rows; ``unlabelled`` holds the target images
    without a label.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    train_from_target: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    val_from_target: torch.Tensor
    unlabelled: torch.Tensor


def check_source(source: Domain) -> tuple[str, ...]:
    """The class names of a labelled classification source; DataError otherwise."""
    if source.class_names is None or source.labels is None or not source.labelled_mask.any():
        raise DataError(
            f"source domain {source.name!r} has no class labels; fine-tuning needs a labelled "
            "classification source (an image folder with one sub-folder per class)"
        )
    return source.class_names


def check_target_classes(source: Domain, target: Domain) -> None:
    """Target labels must be codes into the source's class list."""
    if target.labels is None or not target.labelled_mask.any() or target.class_names is None:
        return
    if [class_key(c) for c in target.class_names] != [class_key(c) for c in source.class_names]:
        raise DataError(
            f"target {target.name!r} has classes {list(target.class_names)} but source "
            f"{source.name!r} has {list(source.class_names)}; re-code the target first with "
            "medtransfer.data.classes.harmonize_classes(source, target)"
        )


def prepare_data(
    source: Domain,
    target: Domain | None,
    config: BackboneConfig,
    image_size: int,
    *,
    val_fraction: float,
    random_state: int,
    progress: bool,
) -> PreparedData:
    """Read both domains and split the labelled rows into train and validation."""
    check_source(source)
    source = source.subset(np.flatnonzero(source.labelled_mask))
    images = [image_tensor(source, config, image_size, progress=progress)]
    labels, flags = [source.labels.astype(np.int64)], [np.zeros(len(source), dtype=bool)]
    unlabelled = torch.empty((0, config.in_chans, image_size, image_size))
    if target is not None:
        check_target_classes(source, target)
        target_images = image_tensor(target, config, image_size, progress=progress)
        known = target.labelled_mask
        images.append(target_images[torch.from_numpy(known)])
        labels.append(target.labels[known].astype(np.int64) if known.any() else labels[0][:0])
        flags.append(np.ones(int(known.sum()), dtype=bool))
        unlabelled = target_images[torch.from_numpy(~known)]
    y, on_target = np.concatenate(labels), np.concatenate(flags)
    train, val = _split(y, on_target, val_fraction, random_state)
    stacked, from_target = torch.cat(images), torch.from_numpy(on_target)
    y_t = torch.from_numpy(y)
    return PreparedData(
        stacked[train], y_t[train], from_target[train], stacked[val], y_t[val],
        from_target[val], unlabelled,
    )


def _split(
    y: np.ndarray, on_target: np.ndarray, val_fraction: float, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation rows, stratified by domain and class (else by class) if possible,
    so the few labelled target images reach the validation split in proportion."""
    index = np.arange(len(y))
    if val_fraction <= 0:
        return index, index[:0]
    n_val = max(1, round(val_fraction * len(y)))
    stratify = None
    for strata in (y * 2 + on_target, y):
        _, counts = np.unique(strata, return_counts=True)
        if counts.min() >= 2 and n_val >= len(counts) and len(y) - n_val >= len(counts):
            stratify = strata
            break
    train, val = train_test_split(
        index, test_size=n_val, random_state=random_state, stratify=stratify
    )
    return np.sort(train), np.sort(val)
