"""medtransfer: transfer learning for medicine, from a data-rich source to a data-poor target.

The names below are what a notebook user types; they load lazily, so importing the package
(and starting the CLI) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BACKBONES": "medtransfer.features",
    "METHODS": "medtransfer.adapt",
    "ArtifactError": "medtransfer.errors",
    "ConfigError": "medtransfer.errors",
    "DataError": "medtransfer.errors",
    "Domain": "medtransfer.data",
    "EffectPipeline": "medtransfer.effect_pipeline",
    "MedTransferError": "medtransfer.errors",
    "ShiftReport": "medtransfer.shift",
    "TabularEncoder": "medtransfer.features",
    "TransferPipeline": "medtransfer.pipeline",
    "create_backbone": "medtransfer.features",
    "evaluate_run": "medtransfer.run",
    "extract_features": "medtransfer.features",
    "fit_run": "medtransfer.run",
    "harmonize_classes": "medtransfer.data",
    "load_domain": "medtransfer.data",
    "measure_shift": "medtransfer.shift",
    "rank_sources": "medtransfer.rank",
    "shift_images": "medtransfer.data",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'medtransfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
