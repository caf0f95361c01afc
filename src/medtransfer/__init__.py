"""medtransfer: transfer learning for medicine, from a data-rich source to a data-poor target.

The names below are what a notebook user types; they load lazily, so importing the package
(and starting the CLI) does not import torch.
"""

from __future__ import annotations

from medtransfer.lazy import lazy_attributes

__version__ = "0.1.0"

_EXPORTS = {
    "BACKBONES": "medtransfer.features",
    "METHODS": "medtransfer.adapt",
    "ArtifactError": "medtransfer.errors",
    "ConfigError": "medtransfer.errors",
    "DataError": "medtransfer.errors",
    "Domain": "medtransfer.data",
    "EffectPipeline": "medtransfer.runs.effect",
    "MedTransferError": "medtransfer.errors",
    "ShiftReport": "medtransfer.shift",
    "TabularEncoder": "medtransfer.features",
    "TransferPipeline": "medtransfer.runs.pipeline",
    "create_backbone": "medtransfer.features",
    "evaluate_run": "medtransfer.runs.fit",
    "extract_features": "medtransfer.features",
    "fit_run": "medtransfer.runs.fit",
    "harmonize_classes": "medtransfer.data",
    "load_domain": "medtransfer.data",
    "measure_shift": "medtransfer.shift",
    "rank_sources": "medtransfer.rank",
    "shift_images": "medtransfer.data",
}

__all__ = sorted([*_EXPORTS, "__version__"])


__getattr__, __dir__ = lazy_attributes("medtransfer", _EXPORTS, globals(), __all__)
