"""Seeded pixel augmentations of source images (extra source rows) and test-time views.

Every change works on a copy of an image's native uint8 pixels, is seeded by the image's
own content, the copy number and a seed (so a row is the same whatever order or batch it is
computed in, and can be cached), and has a ``fingerprint`` for the feature cache key.
Flips and 90-degree rotations are used only for colour images (cells, tissue, skin, which
have no canonical orientation); grey images (X-ray, CT, MRI) keep their anatomy's side.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

from medtransfer.harmonize import is_colour
from medtransfer.harmonize.framing import centre_zoom

TTA_VIEWS = ("identity", "hflip", "vflip")


class Flip:
    """A test-time view: the image mirrored left-right (``hflip``) or top-bottom (``vflip``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, image: np.ndarray) -> np.ndarray:
        axis = 1 if self.kind == "hflip" else 0
        return np.ascontiguousarray(np.flip(image, axis=axis))

    def fingerprint(self) -> str:
        return f"view:{self.kind}"


class SourceAugmentation:
    """One seeded augmented copy: crop-rescale, colour jitter, blur, noise (+ flips for colour).

    Parameters
    ----------
    copy : int
        Which copy (1, 2, ...); each draws other changes.
    seed : int
        Seed shared by all copies.
    strength : float, default=1.0
        Scales every change (0 leaves images unchanged).
    """

    def __init__(self, copy: int, seed: int = 0, strength: float = 1.0) -> None:
        self.copy = copy
        self.seed = seed
        self.strength = strength

    def __call__(self, image: np.ndarray) -> np.ndarray:
        content = zlib.crc32(np.ascontiguousarray(image).tobytes())
        rng = np.random.default_rng([self.seed, self.copy, content])
        s = self.strength
        out = centre_zoom(image, 1 - 0.2 * s * rng.random())
        pixels = out.astype(np.float64)
        if pixels.ndim == 3:
            grey = pixels.mean(axis=-1, keepdims=True)
            pixels = grey + (pixels - grey) * (1 + 0.2 * s * rng.uniform(-1, 1))
            pixels = pixels * (1 + 0.08 * s * rng.uniform(-1, 1, 3))
        pixels = pixels * (1 + 0.15 * s * rng.uniform(-1, 1)) + 15 * s * rng.uniform(-1, 1)
        pixels = pixels + rng.normal(0, 4 * s * rng.random(), pixels.shape)
        out = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
        if rng.random() < 0.5:
            radius = s * rng.random() * max(out.shape[:2]) / 64
            out = np.asarray(Image.fromarray(out).filter(ImageFilter.GaussianBlur(radius)))
        if is_colour(out):
            out = np.rot90(out, int(rng.integers(4)))
            out = np.flip(out, axis=1) if rng.random() < 0.5 else out
        return np.ascontiguousarray(out)

    def fingerprint(self) -> str:
        return f"augment:v1:copy={self.copy}:seed={self.seed}:strength={self.strength}"


class Composed:
    """Pixel changes applied in order (None entries skipped), with a combined fingerprint."""

    def __init__(self, *steps) -> None:
        self.steps = [step for step in steps if step is not None]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        for step in self.steps:
            image = step(image)
        return image

    def fingerprint(self) -> str | None:
        if not self.steps:
            return None
        if len(self.steps) == 1:
            return self.steps[0].fingerprint()
        keys = "|".join(step.fingerprint() for step in self.steps)
        return hashlib.sha256(keys.encode()).hexdigest()

    def as_transform(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """Itself, or None when it does nothing (plain extraction)."""
        return self if self.steps else None
