"""Features: backbone registry, batched extraction, content-addressed cache, tabular encoder."""

from medtransfer.features.backbones import (
    BACKBONES,
    Backbone,
    BackboneConfig,
    backbone_config,
    create_backbone,
    register_backbone,
)
from medtransfer.features.cache import FeatureCache, user_cache_dir
from medtransfer.features.device import resolve_device
from medtransfer.features.extract import extract_features
from medtransfer.features.featurize import featurize, featurize_pair, image_spec
from medtransfer.features.tabular import TabularEncoder

__all__ = [
    "BACKBONES",
    "Backbone",
    "BackboneConfig",
    "FeatureCache",
    "TabularEncoder",
    "backbone_config",
    "create_backbone",
    "extract_features",
    "featurize",
    "featurize_pair",
    "image_spec",
    "register_backbone",
    "resolve_device",
    "user_cache_dir",
]
