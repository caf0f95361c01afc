"""Fit a ``--harmonize`` chain on a sample of two image Domains' pixels, and rebuild it."""

from __future__ import annotations

from typing import Any

import numpy as np

from medtransfer.data.domain import Domain
from medtransfer.features.extract import image_items, native_pixels
from medtransfer.harmonize import AUTO, HarmonizerChain, choose_harmonizer, parse_harmonize

# images per domain the statistics are learned from: enough for stable means and
# histograms, bounded so that fitting on a 10,000-image folder stays quick
FIT_IMAGES = 200


def _sample_pixels(domain: Domain, limit: int, random_state: int) -> list[np.ndarray]:
    items = image_items(domain)
    rng = np.random.default_rng(random_state)
    chosen = np.sort(rng.permutation(len(items))[:limit]) if len(items) > limit else range(
        len(items))
    return [native_pixels(items[i]) for i in chosen]


def fit_harmonizer(
    spec: str | None,
    source: Domain,
    target: Domain,
    *,
    max_images: int = FIT_IMAGES,
    random_state: int = 0,
) -> HarmonizerChain | None:
    """The ``--harmonize`` chain fitted on the source and the target's unlabelled images.

    Parameters
    ----------
    spec : str or None
        ``none``/None, ``auto``, a registered name or a ``+`` chain (``framing+reinhard``).
    source, target : Domain
        Image domains; only their pixels are read (no label).
    max_images : int
        Images per domain drawn (seeded) to learn the statistics from.
    random_state : int
        Seed of that draw.

    Returns
    -------
    HarmonizerChain or None
        None for ``none``.
    """
    if spec is None or str(spec).strip().lower() == "none":
        return None
    source_pixels = _sample_pixels(source, max_images, random_state)
    target_pixels = _sample_pixels(target, max_images, random_state)
    if str(spec).strip().lower() == AUTO:
        spec = choose_harmonizer(source_pixels, target_pixels)
    chain = parse_harmonize(spec)
    return chain.fit(source_pixels, target_pixels)


def harmonizer_from_spec(spec: dict[str, Any]) -> HarmonizerChain | None:
    """The fitted chain stored in a feature spec (None when the run has none)."""
    state = spec.get("harmonizer")
    return None if state is None else HarmonizerChain.from_state(state)
