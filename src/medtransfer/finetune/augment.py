"""Seeded, batched augmentation of image tensors: rotation, shift, optional flips, intensity.

Flips are off by default: anatomy is often not left-right symmetric (a chest X-ray's heart
is on the left), so mirroring makes images no patient has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional


@dataclass(frozen=True)
class Augmenter:
    """Random affine and intensity changes, drawn from a given torch Generator.

    Parameters
    ----------
    degrees : float
        Rotations are drawn uniformly in [-degrees, degrees].
    shift : float
        Translations are drawn uniformly in [-shift, shift] of the image side.
    allow_flips : bool
        Also flip left-right with probability 1/2.
    intensity : float
        Contrast factor in [1 - intensity, 1 + intensity] and brightness offset in
        [-intensity, intensity] (in normalised units).
    """

    degrees: float = 10.0
    shift: float = 0.08
    allow_flips: bool = False
    intensity: float = 0.1

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augmented copy of a batch (n, C, H, W); the generator makes it reproducible."""
        n = len(images)
        if n == 0:
            return images
        matrices = self._matrices(n, generator).to(images)
        grid = functional.affine_grid(matrices, list(images.shape), align_corners=False)
        moved = functional.grid_sample(images, grid, padding_mode="border", align_corners=False)
        contrast = 1 + self.intensity * _uniform(n, generator)
        brightness = self.intensity * _uniform(n, generator)
        view = (n, 1, 1, 1)
        return moved * contrast.view(view).to(images) + brightness.view(view).to(images)

    def _matrices(self, n: int, generator: torch.Generator) -> torch.Tensor:
        angle = _uniform(n, generator) * math.radians(self.degrees)
        shift = _uniform(2 * n, generator).view(n, 2) * self.shift * 2  # grid spans [-1, 1]
        flip = torch.ones(n)
        if self.allow_flips:
            flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        rows = [
            torch.stack([cos * flip, -sin, shift[:, 0]], dim=1),
            torch.stack([sin * flip, cos, shift[:, 1]], dim=1),
        ]
        return torch.stack(rows, dim=1)


def _uniform(n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws uniform in [-1, 1]."""
    return torch.rand(n, generator=generator) * 2 - 1
