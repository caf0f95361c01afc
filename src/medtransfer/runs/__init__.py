"""Runs: every way to fit a model, score it on the held-out target and write a run folder.

A run model follows one small protocol (:class:`~medtransfer.runs.base.RunModel`): ``fit``,
``labelled_target_ids_``, ``predict_frame``, ``score``, ``write_to``. The models are the
:class:`TransferPipeline` (frozen features, then a transfer method), the
:class:`FineTunedPipeline` (the backbone fine-tuned first), the :class:`SourceFreePipeline`
(a fitted run adapted to target images without source data) and the :class:`EffectPipeline`
(a treatment effect, one pipeline per arm). :func:`fit_run` fits any of them and writes the
folder. The names load lazily, so importing the package does not import torch.
"""

from __future__ import annotations

from medtransfer.lazy import lazy_attributes

_EXPORTS = {
    "EffectPipeline": "medtransfer.runs.effect",
    "FineTunedPipeline": "medtransfer.runs.finetuned",
    "RunModel": "medtransfer.runs.base",
    "RunResult": "medtransfer.runs.fit",
    "SourceFreePipeline": "medtransfer.runs.source_free",
    "TransferPipeline": "medtransfer.runs.pipeline",
    "ValidationOptions": "medtransfer.runs.validation",
    "evaluate_run": "medtransfer.runs.fit",
    "fit_run": "medtransfer.runs.fit",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_attributes("medtransfer.runs", _EXPORTS, globals(), __all__)
