"""The harmoniser contract and registry: pixel-level changes fitted on source + unlabelled target.

A harmoniser follows scikit-learn's contract on images: ``__init__`` stores its arguments,
``fit(source_images, target_images)`` learns from the two domains' pixels (never a label),
``transform(image)`` returns a new uint8 image. Its learned state is plain numbers
(:meth:`Harmonizer.get_state`), so a run stores it as JSON and rebuilds it at ``predict``
without pickle (:meth:`Harmonizer.from_state`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from medtransfer.errors import DataError
from medtransfer.registry import Registry

MIN_TARGET_IMAGES = 2
# an RGB image whose channels never differ by more than this is grey saved as colour
_GREY_TOLERANCE = 2


class Harmonizer(BaseEstimator):
    """Base class: subclasses implement ``_fit`` and ``_transform`` and list ``state_names``.

    Attributes
    ----------
    name : str
        Registry name, set by :func:`register_harmonizer`.
    colour_only : bool
        True for methods that need colour (RGB) images.
    state_names : tuple of str
        The fitted attributes (trailing underscore) that make up the state.
    """

    name = ""
    colour_only = False
    state_names: tuple[str, ...] = ()

    def fit(self, source_images: Sequence[np.ndarray], target_images: Sequence[np.ndarray]):
        """Learn from the source and the unlabelled target images; returns self."""
        source = [self._checked(image) for image in source_images]
        target = [self._checked(image) for image in target_images]
        if len(target) < MIN_TARGET_IMAGES:
            raise DataError(
                f"harmoniser {self.name!r} learns the target's statistics but the target has "
                f"{len(target)} image(s); it needs at least {MIN_TARGET_IMAGES}, or use "
                "--harmonize none"
            )
        self._fit(source, target)
        # float64 arrays, exactly what from_state rebuilds, so a reloaded run gives the same pixels
        for name in self.state_names:
            setattr(self, name, np.asarray(getattr(self, name), dtype=float))
        return self

    def transform(self, image: np.ndarray) -> np.ndarray:
        """The harmonised copy of one uint8 image (the input array is not changed)."""
        missing = [n for n in self.state_names if not hasattr(self, n)]
        if missing:
            raise DataError(f"harmoniser {self.name!r} is not fitted yet; call fit() first")
        out = self._transform(self._checked(image))
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def get_state(self) -> dict[str, Any]:
        """Name, parameters and learned state as JSON-able data."""
        state = {n: np.asarray(getattr(self, n)).tolist() for n in self.state_names}
        return {"name": self.name, "params": self.get_params(), "state": state}

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> Harmonizer:
        """Rebuild a fitted harmoniser from :meth:`get_state`'s output."""
        harmonizer = cls(**saved["params"])
        for key, value in saved["state"].items():
            if key not in cls.state_names:
                raise DataError(f"harmoniser {cls.name!r} state has unknown entry {key!r}")
            setattr(harmonizer, key, np.asarray(value, dtype=float))
        return harmonizer

    def _checked(self, image: np.ndarray) -> np.ndarray:
        image = check_image(image)
        if self.colour_only and not is_colour(image):
            raise DataError(
                f"harmoniser {self.name!r} normalises colour but got a greyscale image; for grey "
                "images (X-ray, MRI, CT) use --harmonize histogram, zscore or percentile"
            )
        return image

    def _fit(self, source: list[np.ndarray], target: list[np.ndarray]) -> None:
        raise NotImplementedError

    def _transform(self, image: np.ndarray) -> np.ndarray:
        raise NotImplementedError


HARMONIZERS: Registry[type[Harmonizer]] = Registry(
    "harmoniser", "medtransfer harmonizers",
    providers=tuple(f"medtransfer.harmonize.{m}" for m in ("colour", "framing", "intensity")),
)


def register_harmonizer(name: str) -> Callable[[type[Harmonizer]], type[Harmonizer]]:
    """Class decorator registering a harmoniser under ``name``."""

    def decorator(cls: type[Harmonizer]) -> type[Harmonizer]:
        cls.name = name
        HARMONIZERS.add(name, cls)
        return cls

    return decorator


def check_image(image: np.ndarray) -> np.ndarray:
    """A uint8 (H, W) or (H, W, 3) image that is not blank; DataError otherwise."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
        image.ndim == 3 and image.shape[-1] != 3
    ):
        raise DataError(
            f"harmonisation needs uint8 images of shape (H, W) or (H, W, 3); got dtype "
            f"{image.dtype} and shape {image.shape}"
        )
    if int(image.max()) - int(image.min()) == 0:
        raise DataError(
            f"an image is blank (every pixel is {int(image.min())}): it has no contrast to "
            "harmonise; remove it from the folder or use --harmonize none"
        )
    return image


def is_colour(image: np.ndarray) -> bool:
    """True when an image has three channels that really differ (not grey stored as RGB)."""
    if image.ndim == 2:
        return False
    spread = image.max(axis=-1).astype(np.int16) - image.min(axis=-1)
    return bool(np.percentile(spread, 99) > _GREY_TOLERANCE)


def channels(image: np.ndarray) -> np.ndarray:
    """The image as float (H, W, C), grey as one channel."""
    pixels = image.astype(np.float64)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def restore_shape(pixels: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Undo :func:`channels` for an image shaped like ``like``."""
    return pixels[..., 0] if like.ndim == 2 else pixels


def check_channels(image: np.ndarray, fitted: int, name: str) -> None:
    """Refuse an image whose channel count differs from what the harmoniser learned."""
    found = 1 if image.ndim == 2 else image.shape[-1]
    if found != fitted:
        raise DataError(
            f"harmoniser {name!r} was fitted on {fitted}-channel images but got a "
            f"{found}-channel image; give both domains the same kind of images"
        )
