"""A fine-tuned run: fine-tune the backbone, then fit the pipeline on its features.

``medtransfer fit SOURCE TARGET --finetune LOSS`` trains the backbone with
:class:`~medtransfer.finetune.trainer.FineTuner` (``L = CE + λ·L_transfer`` on the labelled
source and the k labelled target images, the transfer loss also seeing the unlabelled target
images), then fits the pipeline's method (``auto`` by default) on the features of the
fine-tuned backbone and writes a normal run: the weights are stored in it as
``model/backbone.safetensors`` (hash-listed), so predict, evaluate, explain and report work as
for any run. The same k target labels reach both stages; no other target label does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from medtransfer import artifacts
from medtransfer.data import Domain, harmonize_classes
from medtransfer.data.domain import UNLABELLED
from medtransfer.errors import ConfigError
from medtransfer.finetune.selection import FROZEN, fit_candidate, select_transfer_loss
from medtransfer.finetune.trainer import FineTuner
from medtransfer.pipeline import TransferPipeline
from medtransfer.run import RunResult, fit_run
from medtransfer.validation_run import ValidationOptions

DEFAULT_IMAGE_SIZE = 64
AUTO = "auto"


def fit_finetuned_run(
    source: Domain,
    target: Domain,
    out: Path,
    *,
    pipeline: TransferPipeline,
    transfer_loss: str = "none",
    target_labels: int | Sequence[str] = 0,
    finetune_options: dict[str, Any] | None = None,
    force: bool = False,
    n_resamples: int = 1000,
    data_options: dict[str, Any] | None = None,
    validation: ValidationOptions | None = None,
) -> RunResult:
    """Fine-tune ``pipeline``'s backbone on ``source`` + ``target``, fit ``pipeline`` on the
    fine-tuned features, and write the run ``out``.

    Parameters
    ----------
    source, target : Domain
        Image domains; the source is labelled.
    out : Path
        Run folder to write (atomically; nothing is left if a step fails).
    pipeline : TransferPipeline
        Unfitted; its backbone, weights, seed and device are the fine-tune's. Its
        ``image_size`` (64 px when unset) is the size the backbone is trained and used at.
    transfer_loss : str
        "none" (fine-tune on the labelled images only), a loss of
        :data:`~medtransfer.finetune.transfer.TRANSFER_LOSSES`, or "auto": choose among
        fine-tunes, their source-free adaptations (SHOT, AdaBN) and the frozen backbone by
        validation
        (:func:`~medtransfer.finetune.selection.select_transfer_loss`); when the frozen
        backbone wins, the run is fitted on its features without fine-tuning.
    target_labels : int or sequence of str
        k labelled target images (drawn as the pipeline draws them) or their ids.
    finetune_options : dict, optional
        Further :class:`FineTuner` arguments (epochs, lr, batch_size, transfer_weight, ...).
    force, n_resamples, data_options, validation
        As for :func:`medtransfer.run.fit_run`.

    Returns
    -------
    RunResult
        With the pipeline loaded back from ``out``.
    """
    artifacts.check_writable(out, force)
    if source.kind != "image" or target.kind != "image" or pipeline.task != "classification":
        raise ConfigError(
            "--finetune trains an image backbone for classification; got "
            f"{source.kind} source, {target.kind} target and --task {pipeline.task}"
        )
    source, target, _ = harmonize_classes(source, target)
    positions = pipeline.labelled_positions(target, target_labels)
    if pipeline.image_size is None:
        pipeline.image_size = DEFAULT_IMAGE_SIZE
    # the loss is set per candidate by fit_candidate
    tuner = FineTuner(
        pipeline.backbone, weights=pipeline.weights, image_size=pipeline.image_size,
        device=pipeline.device, progress=pipeline.progress,
        random_state=pipeline.random_state, **(finetune_options or {}),
    )
    seen = _only_labels_at(target, positions)
    details: dict[str, Any] = {"transfer_loss": transfer_loss, "image_size": pipeline.image_size}
    options = dict(force=force, n_resamples=n_resamples, data_options=data_options,
                   validation=validation)
    if transfer_loss == AUTO:
        details["selection"] = select_transfer_loss(source, seen, tuner)
        details["choice"] = details["selection"]["choice"]
        if details["choice"] == FROZEN:
            return _fit(source, target, out, pipeline, positions, details, **options)
    model = fit_candidate(details.get("choice", transfer_loss), tuner, source, seen)
    details.update(
        best_epoch=model.best_epoch_, history=model.history_,
        **{key: value for key, value in tuner.get_params().items()
           if key in ("epochs", "lr", "batch_size", "transfer_weight", "schedule", "unfreeze")},
    )
    with tempfile.TemporaryDirectory(prefix="medtransfer-finetune-") as tmp:
        weights = model.save_backbone(Path(tmp) / "backbone.safetensors")
        pipeline.weights = str(weights)
        pipeline.run_weights_ = weights
        return _fit(source, target, out, pipeline, positions, details, **options)


def _fit(source: Domain, target: Domain, out: Path, pipeline: TransferPipeline,
         positions: np.ndarray, details: dict[str, Any], **options: Any) -> RunResult:
    """Fit ``pipeline`` on its backbone's features and write the run, loaded back."""
    ids = [str(i) for i in target.ids[positions]]
    result = fit_run(source, target, out, pipeline=pipeline, target_labels=ids,
                     details={"finetune": details}, **options)
    loaded = TransferPipeline.load(out, progress=pipeline.progress, device=pipeline.device)
    return replace(result, pipeline=loaded)


def _only_labels_at(target: Domain, positions: np.ndarray) -> Domain:
    """``target`` with every label hidden except those at ``positions``."""
    if target.labels is None:
        return target
    labels = np.full_like(target.labels, UNLABELLED)
    labels[positions] = target.labels[positions]
    return replace(target, labels=labels)
