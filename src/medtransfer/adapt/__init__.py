"""Transfer methods: baselines, alignment, mapping, reweighting, label-shift correction."""

from medtransfer.adapt import baselines
from medtransfer.adapt.base import (
    METHODS,
    SOURCE,
    TARGET,
    Method,
    domain_masks,
    get_method,
    register_method,
)
from medtransfer.adapt.baselines import Pooled, SourceOnly, TargetOnly

__all__ = [
    "METHODS",
    "SOURCE",
    "TARGET",
    "Method",
    "Pooled",
    "SourceOnly",
    "TargetOnly",
    "baselines",
    "domain_masks",
    "get_method",
    "register_method",
]
