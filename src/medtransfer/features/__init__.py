"""Features: backbone registry, batched extraction, content-addressed cache, tabular encoder.

The names load lazily: a table's features need neither torch nor timm.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BACKBONES": "medtransfer.features.backbones",
    "Backbone": "medtransfer.features.backbones",
    "BackboneConfig": "medtransfer.features.backbones",
    "FeatureCache": "medtransfer.features.cache",
    "TabularEncoder": "medtransfer.features.tabular",
    "backbone_config": "medtransfer.features.backbones",
    "create_backbone": "medtransfer.features.backbones",
    "extract_features": "medtransfer.features.extract",
    "featurize": "medtransfer.features.featurize",
    "featurize_pair": "medtransfer.features.featurize",
    "image_spec": "medtransfer.features.featurize",
    "register_backbone": "medtransfer.features.backbones",
    "resolve_device": "medtransfer.features.device",
    "user_cache_dir": "medtransfer.features.cache",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'medtransfer.features' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
