"""Pixel-level harmonisation fitted on source + unlabelled target, applied before the backbone.

``medtransfer fit --harmonize NAME`` (``medtransfer harmonizers`` lists them): colour and
stain normalisation (``reinhard``, ``macenko``), intensity standardisation (``histogram``,
``zscore``, ``percentile``) and framing (``framing``), chained with ``+``
(``framing+reinhard``), or ``auto`` for a fixed rule on the images' statistics.
"""

from medtransfer.harmonize.base import HARMONIZERS, Harmonizer, is_colour, register_harmonizer
from medtransfer.harmonize.chain import (
    AUTO,
    NONE,
    HarmonizerChain,
    choose_harmonizer,
    parse_harmonize,
)
from medtransfer.harmonize.colour import MacenkoNormalization, ReinhardNormalization
from medtransfer.harmonize.framing import FramingNormalization, foreground_fraction
from medtransfer.harmonize.intensity import HistogramMatching, PercentileClip, ZScore

__all__ = [
    "AUTO",
    "HARMONIZERS",
    "NONE",
    "FramingNormalization",
    "Harmonizer",
    "HarmonizerChain",
    "HistogramMatching",
    "MacenkoNormalization",
    "PercentileClip",
    "ReinhardNormalization",
    "ZScore",
    "choose_harmonizer",
    "foreground_fraction",
    "is_colour",
    "parse_harmonize",
    "register_harmonizer",
]
