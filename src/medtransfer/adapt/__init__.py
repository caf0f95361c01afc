"""Transfer methods: baselines, alignment, mapping, reweighting, label-shift correction."""

from medtransfer.adapt import (
    alignment,
    baselines,
    harmonize,
    kernel_embedding,
    label_shift,
    mapping_network,
    parameter_transfer,
    pseudo_label,
    regression_transfer,
    reweight,
)
from medtransfer.adapt.base import METHODS, Method, get_method, register_method
from medtransfer.adapt.baselines import Pooled, SourceOnly, TargetOnly
from medtransfer.adapt.domain_estimator import AdaptedEstimator, AdaptedFeatures, adapted_features

__all__ = [
    "METHODS",
    "AdaptedEstimator",
    "AdaptedFeatures",
    "Method",
    "Pooled",
    "SourceOnly",
    "TargetOnly",
    "adapted_features",
    "alignment",
    "baselines",
    "get_method",
    "harmonize",
    "kernel_embedding",
    "label_shift",
    "mapping_network",
    "parameter_transfer",
    "pseudo_label",
    "register_method",
    "regression_transfer",
    "reweight",
]
