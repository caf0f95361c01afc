"""Pretrained features of every image of a Domain: batched, cached, deterministic."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import Progress
from torch.utils.data import DataLoader, Dataset

from medtransfer.data.domain import Domain
from medtransfer.data.images import read_image
from medtransfer.errors import ArtifactError, ConfigError, DataError
from medtransfer.features.backbones import (
    BackboneConfig,
    backbone_config,
    create_backbone,
    weights_fingerprint,
)
from medtransfer.features.cache import (
    cache_limit,
    feature_store,
    input_digest,
    preprocessing_key,
    prune_cache,
    user_cache_dir,
)
from medtransfer.features.device import resolve_device
from medtransfer.features.engine import available_cpus, resolve_engine
from medtransfer.features.onnx_backbone import OnnxBackbone
from medtransfer.params import Interval, check_value

MIN_IMAGE_SIZE = 16
AUTO_WORKERS_FROM = 512  # below this, starting decoder processes costs more than it saves
MAX_IMAGE_SIZE = 1024  # a larger side costs gigabytes per batch and no backbone needs it
IMAGE_SIZE = Interval(int, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE,
                      hint="64 is quick on a CPU, 224 is the ImageNet size")
_RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
ImageItem = Path | str | np.ndarray
# a per-image change of the native uint8 pixels before resizing (harmonisation, augmentation)
PixelTransform = Callable[[np.ndarray], np.ndarray]
Batch = TypeVar("Batch")


def _to_pil(item: ImageItem) -> Image.Image:
    if not isinstance(item, np.ndarray):
        # data.images.read_image owns file decoding (DICOM, 16-bit, EXIF) and returns uint8.
        item = read_image(Path(item))
    if item.ndim == 3 and item.shape[-1] == 1:
        item = item[..., 0]
    return Image.fromarray(np.ascontiguousarray(item))


def native_pixels(item: ImageItem) -> np.ndarray:
    """One image as uint8 (H, W) grey or (H, W, 3) colour (alpha dropped); a new array."""
    image = _to_pil(item)
    return np.array(image if image.mode in ("L", "RGB") else image.convert("RGB"))


def _item_name(item: ImageItem) -> str:
    return "an image array" if isinstance(item, np.ndarray) else f"image {str(item)!r}"


class ImageDataset(Dataset):
    """Images prepared for one backbone: [pixel transform,] channels, size, mean/std.

    ``transform`` receives a copy of the native pixels (:func:`native_pixels`), so a user's
    array or file is never changed.
    """

    def __init__(
        self,
        items: Sequence[ImageItem],
        config: BackboneConfig,
        size: int,
        transform: PixelTransform | None = None,
    ) -> None:
        self.items = items
        self.transform = transform
        self.size = size
        self.mode = "L" if config.in_chans == 1 else "RGB"
        self.mean = np.array(config.mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.array(config.std, dtype=np.float32).reshape(-1, 1, 1)
        self.resample = _RESAMPLING.get(config.interpolation, Image.Resampling.BICUBIC)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.items[index]
        image = _to_pil(item) if self.transform is None else self._transformed(item)
        # Grayscale becomes 3 equal channels and RGBA loses alpha, via PIL's convert; a grey
        # image is resized first (the same pixels: channels are resized independently), one
        # channel instead of three.
        if image.mode == "L":
            image = image.resize((self.size, self.size), self.resample).convert(self.mode)
        else:
            image = image.convert(self.mode).resize((self.size, self.size), self.resample)
        pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
        pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
        # numpy, not torch: torch splits these small element-wise ops over its thread pool,
        # 5-9x slower per image at 128-224 px on a busy 2-core machine
        return torch.from_numpy((pixels - self.mean) / self.std)

    def _transformed(self, item: ImageItem) -> Image.Image:
        try:
            return Image.fromarray(self.transform(native_pixels(item)))
        except DataError as error:
            raise DataError(f"{_item_name(item)}: {error}") from None


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


def check_image_size(image_size: int, owner: str = "extract_features") -> None:
    """Raise a ParameterError unless ``image_size`` is an integer in :data:`IMAGE_SIZE`."""
    check_value(owner, "image_size", image_size, IMAGE_SIZE)


def feature_function(
    name: str, config: BackboneConfig, weights: str | Path | None, weights_sha: str,
    device: torch.device, engine: str | None, batch_size: int | None = None,
) -> Callable[[torch.Tensor], np.ndarray]:
    """``features(batch)`` of normalised NCHW pixels on the chosen engine (ONNX runs
    batches of ``batch_size`` images on an export fixed to their shape)."""
    if resolve_engine(engine, device.type) == "onnx":
        try:
            runner = OnnxBackbone(
                config, weights_sha, lambda: create_backbone(name, weights=weights, device="cpu"),
                threads=torch.get_num_threads(), batch_size=batch_size,
            )
            return lambda batch: runner(batch.numpy())
        except ArtifactError as error:
            if (engine or "auto") != "auto":
                raise
            warnings.warn(f"{error}; extracting with eager torch instead", stacklevel=2)
    # channels-last lets oneDNN skip a layout conversion per convolution (1.5-1.9x on CPU)
    model = create_backbone(name, weights=weights, device=device)
    model = model.to(memory_format=torch.channels_last)

    def eager(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            pixels = batch.to(device, memory_format=torch.channels_last)
            return model(pixels).float().cpu().numpy()

    return eager


def loader_workers(n_images: int, num_workers: int | None) -> int:
    """Decoding processes: the caller's, or one per spare core when there is enough work."""
    if num_workers is not None:
        return num_workers
    return min(4, available_cpus() - 1) if n_images >= AUTO_WORKERS_FROM else 0


def feature_batches(
    features: Callable[[torch.Tensor], np.ndarray],
    dataset: ImageDataset,
    *,
    batch_size: int,
    num_workers: int | None,
    progress: bool,
    label: str,
) -> Iterator[np.ndarray]:
    """Yield the float32 features of ``dataset`` batch by batch, in order."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=loader_workers(len(dataset), num_workers),
        pin_memory=torch.cuda.is_available(),
    )
    for batch in tracked(loader, total=len(dataset), label=label, progress=progress):
        yield features(batch).astype(np.float32, copy=False)


def tracked(
    batches: Iterable[Batch],
    *,
    total: int,
    label: str,
    progress: bool,
    rows: Callable[[Batch], int] = len,
) -> Iterator[Batch]:
    """Yield ``batches`` while a progress bar on stderr counts their ``rows`` up to ``total``."""
    with Progress(console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(label, total=total)
        for batch in batches:
            yield batch
            bar.advance(task, rows(batch))


def preprocessing_store_key(
    config: BackboneConfig, weights_sha: str, size: int, transform_key: str | None = None
) -> str:
    """The key of every setting besides the input that decides a feature row."""
    # the key gains an entry only with a pixel transform, so plain extraction keeps its cache
    extra = {} if transform_key is None else {"pixel_transform": transform_key}
    return preprocessing_key(
        backbone=config.name,
        weights_sha256=weights_sha,
        size=size,
        mean=config.mean,
        std=config.std,
        in_chans=config.in_chans,
        interpolation=config.interpolation,
        **extra,
    )


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
    num_workers: int | None = None,
    cache: bool = True,
    engine: str | None = None,
    transform: PixelTransform | None = None,
    transform_key: str | None = None,
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
    batch_size : int
        Images per model call.
    num_workers : int or None
        Decoding processes; None for one per spare core (up to 4) on large inputs.
    device : str or None
        Torch device; None picks CUDA when available.
    cache_dir : str, Path or None
        Cache root; None for ``$MEDTRANSFER_CACHE`` or ``~/.cache/medtransfer``.
    progress : bool
        Show a progress bar on stderr.
    cache : bool
        Read and write the feature cache (one shard written per batch).
    engine : {"auto", "onnx", "torch"} or None
        Inference engine; None for the enclosing :func:`~medtransfer.features.engine.engine_scope`
        (``auto``: ONNX Runtime on the CPU when installed, else eager torch).
    transform : callable, optional
        Applied to each image's native uint8 pixels before resizing (e.g. a fitted
        :class:`~medtransfer.harmonize.HarmonizerChain`).
    transform_key : str, optional
        What identifies ``transform`` in the cache key (its fitted state's sha256); needed
        with a transform unless ``cache`` is False.

    Returns
    -------
    ndarray of float32, shape (n, feature_dim)
    """
    _check_settings(batch_size, image_size)
    if transform is not None and transform_key is None and cache:
        raise ConfigError("extract_features: a transform needs a transform_key for the cache "
                          "(e.g. the harmoniser's fingerprint()), or pass cache=False")
    items = image_items(domain)
    config = backbone_config(backbone)
    target_device = resolve_device(device)
    _, weights_sha = weights_fingerprint(config, weights)
    size = image_size or config.input_size
    digests = [input_digest(item) for item in items]
    root = Path(cache_dir) if cache_dir is not None else user_cache_dir()
    store = feature_store(root, preprocessing_store_key(config, weights_sha, size, transform_key),
                          config.feature_dim) if cache else None
    found = store.get_many(digests) if store is not None else {}
    todo = list({d: i for i, d in enumerate(digests) if d not in found}.items())
    if todo:
        features = feature_function(backbone, config, weights, weights_sha, target_device,
                                     engine, batch_size)
        dataset = ImageDataset([items[i] for _, i in todo], config, size, transform)
        label = f"features {domain.name} ({config.name}, {size}px)"
        done = 0
        for rows in feature_batches(features, dataset, batch_size=batch_size,
                                    num_workers=num_workers, progress=progress, label=label):
            batch = [d for d, _ in todo[done : done + len(rows)]]
            found.update(zip(batch, rows, strict=True))
            if store is not None:
                store.put_many(batch, rows)
            done += len(rows)
        if store is not None and store.size_bytes() > cache_limit():
            prune_cache(root)
    if store is not None:
        store.close()
    if not digests:
        return np.empty((0, config.feature_dim), dtype=np.float32)
    return np.stack([found[d] for d in digests]).astype(np.float32, copy=False)
