"""Features: backbone registry, batched extraction, content-addressed cache, tabular encoder.

The names load lazily: a table's features need neither torch nor timm.
"""

from __future__ import annotations

# eager (cheap, no torch): ``featurize`` is also a submodule's name, which a lazy lookup
# would let the submodule shadow once imported
from medtransfer.features.featurize import featurize, featurize_pair, image_spec
from medtransfer.features.tabular import TabularEncoder
from medtransfer.lazy import lazy_attributes

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


__getattr__, __dir__ = lazy_attributes("medtransfer.features", _EXPORTS, globals(), __all__)
