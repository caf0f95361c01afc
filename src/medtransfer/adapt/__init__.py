"""Transfer methods: baselines, alignment, mapping, reweighting, label-shift correction."""

from medtransfer.adapt import (
    alignment,
    baselines,
    harmonize,
    kernel_embedding,
    label_shift,
    mapping_network,
    parameter_transfer,
    reweight,
)
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
    "alignment",
    "baselines",
    "domain_masks",
    "get_method",
    "harmonize",
    "kernel_embedding",
    "label_shift",
    "mapping_network",
    "parameter_transfer",
    "register_method",
    "reweight",
]
