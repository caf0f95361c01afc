"""Features: backbone registry, batched extraction, content-addressed cache, tabular encoder."""

from medtransfer.features.backbones import (
    BACKBONES,
    Backbone,
    BackboneConfig,
    backbone_config,
    create_backbone,
    register_backbone,
)
from medtransfer.features.cache import cache_info, prune_cache, user_cache_dir
from medtransfer.features.device import resolve_device
from medtransfer.features.engine import engine_scope
from medtransfer.features.extract import extract_features
from medtransfer.features.featurize import featurize, featurize_pair, image_spec
from medtransfer.features.store import FeatureStore
from medtransfer.features.tabular import TabularEncoder

__all__ = [
    "BACKBONES",
    "Backbone",
    "BackboneConfig",
    "FeatureStore",
    "TabularEncoder",
    "backbone_config",
    "cache_info",
    "create_backbone",
    "engine_scope",
    "extract_features",
    "featurize",
    "featurize_pair",
    "image_spec",
    "prune_cache",
    "register_backbone",
    "resolve_device",
    "user_cache_dir",
]
