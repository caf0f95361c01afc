"""Pretrained features of every image of a Domain: batched, cached, deterministic."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import Progress
from torch.utils.data import DataLoader, Dataset

from medtransfer.data.domain import Domain
from medtransfer.data.images import read_image
from medtransfer.errors import ConfigError, DataError
from medtransfer.features.backbones import (
    Backbone,
    BackboneConfig,
    backbone_config,
    create_backbone,
    weights_fingerprint,
)
from medtransfer.features.cache import (
    FeatureCache,
    input_digest,
    preprocessing_key,
    user_cache_dir,
)
from medtransfer.features.device import resolve_device

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 1024  # a larger side costs gigabytes per batch and no backbone needs it
_RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
ImageItem = Path | str | np.ndarray


def _to_pil(item: ImageItem) -> Image.Image:
    if not isinstance(item, np.ndarray):
        # data.images.read_image owns file decoding (DICOM, 16-bit, EXIF) and returns uint8.
        item = read_image(Path(item))
    if item.ndim == 3 and item.shape[-1] == 1:
        item = item[..., 0]
    return Image.fromarray(np.ascontiguousarray(item))


class ImageDataset(Dataset):
    """Images prepared for one backbone: channels, size, then mean/std normalisation."""

    def __init__(self, items: Sequence[ImageItem], config: BackboneConfig, size: int) -> None:
        self.items = items
        self.size = size
        self.mode = "L" if config.in_chans == 1 else "RGB"
        self.mean = torch.tensor(config.mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(config.std, dtype=torch.float32).view(-1, 1, 1)
        self.resample = _RESAMPLING.get(config.interpolation, Image.Resampling.BICUBIC)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        # Grayscale becomes 3 equal channels and RGBA loses alpha, via PIL's convert.
        image = _to_pil(self.items[index]).convert(self.mode)
        image = image.resize((self.size, self.size), self.resample)
        pixels = torch.from_numpy(np.array(image, dtype=np.float32) / 255.0)
        pixels = pixels.unsqueeze(0) if pixels.ndim == 2 else pixels.permute(2, 0, 1)
        return (pixels - self.mean) / self.std


def image_items(domain: Domain) -> Sequence[ImageItem]:
    """The images of an image domain (paths or arrays); ConfigError for a table."""
    if domain.kind != "image":
        raise ConfigError(
            f"domain {domain.name!r} holds {domain.kind} data, not images; tables are encoded "
            "with TabularEncoder (or featurize_pair), not a backbone"
        )
    inputs = domain.inputs
    if not isinstance(inputs, np.ndarray):
        return list(inputs)
    if (
        inputs.dtype != np.uint8
        or inputs.ndim not in (3, 4)
        or (inputs.ndim == 4 and inputs.shape[-1] not in (1, 3, 4))
    ):
        raise DataError(
            f"domain {domain.name!r}: image array has dtype {inputs.dtype} and shape "
            f"{inputs.shape}; expected uint8 of shape (n, H, W) or (n, H, W, C) with C in "
            "1, 3, 4. Convert with np.clip(x * 255, 0, 255).astype(np.uint8) for [0, 1] floats"
        )
    return list(inputs)


def _check_settings(batch_size: int, image_size: int | None) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r}; expected a positive integer such as 64")
    if image_size is not None:
        check_image_size(image_size)


def check_image_size(image_size: int, name: str = "image_size") -> None:
    """Raise ConfigError unless ``image_size`` is an integer in MIN_IMAGE_SIZE..MAX_IMAGE_SIZE."""
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, int)
        or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE
    ):
        raise ConfigError(
            f"{name}={image_size!r}; expected an integer from {MIN_IMAGE_SIZE} to "
            f"{MAX_IMAGE_SIZE} (64 is quick on a CPU, 224 is the ImageNet size)"
        )


def _run_model(
    backbone: Backbone,
    dataset: ImageDataset,
    *,
    batch_size: int,
    num_workers: int,
    progress: bool,
    label: str,
) -> np.ndarray:
    device = next(backbone.parameters()).device
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    rows = []
    with Progress(console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(label, total=len(dataset))
        with torch.inference_mode():
            for batch in loader:
                rows.append(backbone(batch.to(device)).float().cpu().numpy())
                bar.advance(task, len(batch))
    return np.concatenate(rows).astype(np.float32, copy=False)


def _feature_cache(
    config: BackboneConfig, weights_sha: str, size: int, cache_dir: str | Path | None
) -> FeatureCache:
    key = preprocessing_key(
        backbone=config.name,
        weights_sha256=weights_sha,
        size=size,
        mean=config.mean,
        std=config.std,
        in_chans=config.in_chans,
        interpolation=config.interpolation,
    )
    root = Path(cache_dir) if cache_dir is not None else user_cache_dir()
    return FeatureCache(root, key, config.feature_dim)


def extract_features(
    domain: Domain,
    backbone: str = "efficientnet_lite0",
    *,
    weights: str | Path | None = None,
    image_size: int | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    num_workers: int = 0,
    cache: bool = True,
) -> np.ndarray:
    """Pooled backbone features of every image in an image Domain.

    Rows already in the cache are read back without running the model; only new inputs
    are computed, so a second run over the same files does no model work.

    Parameters
    ----------
    domain : Domain
        An image domain: file paths or a uint8 array (n, H, W[, C]).
    backbone : str
        Registered backbone name or ``timm:<architecture>``.
    weights : str, Path or None
        Default weights, a ``.safetensors`` file, or ``"random"``.
    image_size : int or None
        Side the images are resized to; None for the backbone's input size.
    batch_size, num_workers : int
        DataLoader settings.
    device : str or None
        Torch device; None picks CUDA when available.
    cache_dir : str, Path or None
        Cache root; None for ``$MEDTRANSFER_CACHE`` or ``~/.cache/medtransfer``.
    progress : bool
        Show a progress bar on stderr.
    cache : bool
        Read and write the feature cache.

    Returns
    -------
    ndarray of float32, shape (n, feature_dim)
    """
    _check_settings(batch_size, image_size)
    items = image_items(domain)
    config = backbone_config(backbone)
    target_device = resolve_device(device)
    _, weights_sha = weights_fingerprint(config, weights)
    size = image_size or config.input_size
    digests = [input_digest(item) for item in items]
    store = _feature_cache(config, weights_sha, size, cache_dir)
    found = dict(store.get_many(digests)) if cache else {}
    todo = {d: i for i, d in enumerate(digests) if d not in found}
    if todo:
        model = create_backbone(backbone, weights=weights, device=target_device)
        dataset = ImageDataset([items[i] for i in todo.values()], config, size)
        label = f"features {domain.name} ({config.name}, {size}px)"
        computed = _run_model(
            model,
            dataset,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=progress,
            label=label,
        )
        for digest, row in zip(todo, computed, strict=True):
            found[digest] = row
            if cache:
                store.put(digest, row)
    if not digests:
        return np.empty((0, config.feature_dim), dtype=np.float32)
    return np.stack([found[d] for d in digests]).astype(np.float32, copy=False)
