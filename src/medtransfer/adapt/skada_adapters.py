"""skada's adapters, imported without skada's process-wide side effect.

``import skada`` switches scikit-learn's metadata routing on for the whole process, which
makes ``Pipeline.fit(X, y, step__sample_weight=w)`` (how ``fit_weighted`` passes weights)
raise a TypeError. We call skada's adapters directly (``fit`` / ``transform`` /
``compute_weights``), which do not need routing, so the previous setting is restored.
"""

import sklearn

_routing_before = sklearn.get_config()["enable_metadata_routing"]

from skada import (  # noqa: E402
    CORALAdapter,
    EntropicOTMappingAdapter,
    KLIEPReweightAdapter,
    KMMReweightAdapter,
    LinearOTMappingAdapter,
    OTMappingAdapter,
    SubspaceAlignmentAdapter,
)

sklearn.set_config(enable_metadata_routing=_routing_before)

__all__ = [
    "CORALAdapter",
    "EntropicOTMappingAdapter",
    "KLIEPReweightAdapter",
    "KMMReweightAdapter",
    "LinearOTMappingAdapter",
    "OTMappingAdapter",
    "SubspaceAlignmentAdapter",
]
