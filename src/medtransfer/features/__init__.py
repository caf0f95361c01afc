"""Features: backbone registry, batched extraction, content-addressed cache, tabular encoder.

The names load lazily: a table's features need neither torch nor timm.
"""

from __future__ import annotations

import importlib
from typing import Any

# eager (cheap, no torch): ``featurize`` is also a submodule's name, which a lazy lookup
# would let the submodule shadow once imported
from medtransfer.features.featurize import featurize, featurize_pair, image_spec
from medtransfer.features.tabular import TabularEncoder

_EXPORTS = {
    "BACKBONES": "medtransfer.features.backbones",
    "Backbone": "medtransfer.features.backbones",
    "BackboneConfig": "medtransfer.features.backbones",
    "FeatureStore": "medtransfer.features.store",
    "backbone_config": "medtransfer.features.backbones",
    "cache_info": "medtransfer.features.cache",
    "create_backbone": "medtransfer.features.backbones",
    "engine_scope": "medtransfer.features.engine",
    "extract_features": "medtransfer.features.extract",
    "prune_cache": "medtransfer.features.cache",
    "register_backbone": "medtransfer.features.backbones",
    "resolve_device": "medtransfer.features.device",
    "user_cache_dir": "medtransfer.features.cache",
}

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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'medtransfer.features' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
