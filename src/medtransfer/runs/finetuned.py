"""A fine-tuned pipeline: fine-tune the backbone, then fit the transfer method on its features.

``medtransfer fit SOURCE TARGET --finetune LOSS`` trains the backbone with
:class:`~medtransfer.finetune.trainer.FineTuner` (``L = CE + λ·L_transfer`` on the labelled
source and the k labelled target images, the transfer loss also seeing the unlabelled target
images), then fits the pipeline's method (``auto`` by default) on the features of the
fine-tuned backbone. Its run is a normal run: the weights are stored in it as
``model/backbone.safetensors`` (hash-listed), so predict, evaluate, explain and report work as
for any run, and it loads back as a :class:`~medtransfer.runs.pipeline.TransferPipeline`. The
same k target labels reach both stages; no other target label does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from medtransfer.data import Domain, harmonize_classes
from medtransfer.data.domain import UNLABELLED
from medtransfer.errors import ConfigError
from medtransfer.finetune.selection import FROZEN, fit_candidate, select_transfer_loss
from medtransfer.finetune.trainer import FineTuner
from medtransfer.runs.base import RunModel
from medtransfer.runs.pipeline import TransferPipeline

DEFAULT_IMAGE_SIZE = 64
AUTO = "auto"
RECORDED_OPTIONS = ("epochs", "lr", "batch_size", "transfer_weight", "schedule", "unfreeze")


class FineTunedPipeline(BaseEstimator, RunModel):
    """A TransferPipeline whose backbone is fine-tuned on source + target before its method.

    Parameters
    ----------
    pipeline : TransferPipeline, optional
        Unfitted template (default: ``TransferPipeline()``); its backbone, weights, seed and
        device are the fine-tune's, and its ``image_size`` (64 px when unset) the size the
        backbone is trained and used at.
    transfer_loss : str, default="none"
        "none" (fine-tune on the labelled images only), a loss of
        :data:`~medtransfer.finetune.transfer.TRANSFER_LOSSES`, or "auto": choose among
        fine-tunes, their source-free adaptations (SHOT, AdaBN) and the frozen backbone by
        validation (:func:`~medtransfer.finetune.selection.select_transfer_loss`); when the
        frozen backbone wins, the method is fitted on its features without fine-tuning.
    finetune_options : dict, optional
        Further :class:`~medtransfer.finetune.trainer.FineTuner` arguments (epochs, lr,
        batch_size, transfer_weight, ...).

    Attributes
    ----------
    pipeline_ : TransferPipeline
        The template fitted on the fine-tuned backbone's features (the weights stored in its
        run), or on the frozen backbone's when that was kept.
    finetune_ : dict
        How the backbone was trained (loss, choice and evidence for "auto", best epoch,
        history, options); the run's manifest records it as ``finetune``.
    labelled_target_ids_ : list of str
        The target images whose labels both stages used.
    """

    def __init__(self, pipeline: TransferPipeline | None = None, transfer_loss: str = "none",
                 finetune_options: dict | None = None) -> None:
        self.pipeline = pipeline
        self.transfer_loss = transfer_loss
        self.finetune_options = finetune_options

    @property
    def random_state(self) -> int:
        """The template's seed."""
        return self._template().random_state

    def _template(self) -> TransferPipeline:
        return self.pipeline if self.pipeline is not None else TransferPipeline()

    def fit(
        self, source: Domain, target: Domain, target_labels: int | Sequence[str] = 0
    ) -> FineTunedPipeline:
        """Fine-tune the backbone on ``source`` + ``target`` (``target_labels`` of its
        labels), then fit the method on the fine-tuned features with the same labels."""
        template = self._template()
        if source.kind != "image" or target.kind != "image" or template.task != "classification":
            raise ConfigError(
                "FineTunedPipeline (--finetune) trains an image backbone for classification; "
                f"got {source.kind} source, {target.kind} target and task={template.task!r}"
            )
        if template.harmonize != "none" or template.augment or template.tta:
            raise ConfigError(
                "FineTunedPipeline: harmonize, augment and tta (--harmonize, --augment, --tta) "
                "apply to frozen-feature fits; they are not yet wired into fine-tuning: use "
                "one or the other")
        given = source, target
        source, target, _ = harmonize_classes(source, target)
        positions = template.labelled_positions(target, target_labels)
        image_size = template.image_size or DEFAULT_IMAGE_SIZE
        # the loss is set per candidate by fit_candidate
        tuner = FineTuner(
            template.backbone, weights=template.weights, image_size=image_size,
            device=template.device, progress=template.progress,
            random_state=template.random_state, **(self.finetune_options or {}),
        )
        seen = _only_labels_at(target, positions)
        self.finetune_: dict[str, Any] = {"transfer_loss": self.transfer_loss,
                                          "image_size": image_size}
        if self.transfer_loss == AUTO:
            self.finetune_["selection"] = select_transfer_loss(source, seen, tuner)
            self.finetune_["choice"] = self.finetune_["selection"]["choice"]
        choice = self.finetune_.get("choice", self.transfer_loss)
        params: dict[str, Any] = {"image_size": image_size}
        if choice != FROZEN:
            model = fit_candidate(choice, tuner, source, seen)
            self.finetune_.update(
                best_epoch=model.best_epoch_, history=model.history_,
                **{k: v for k, v in tuner.get_params().items() if k in RECORDED_OPTIONS},
            )
            self._weights_dir = tempfile.TemporaryDirectory(prefix="medtransfer-finetune-")
            weights = model.save_backbone(Path(self._weights_dir.name) / "backbone.safetensors")
            params.update(weights=str(weights), store_weights=True)
        self.pipeline_ = clone(template).set_params(**params)
        self.pipeline_.fit(source, target, [str(i) for i in target.ids[positions]])
        for domain, fitted in zip(given, (source, target), strict=True):
            self.pipeline_._keep_features(domain, fitted, self.pipeline_.features(fitted))
        self.labelled_target_ids_ = self.pipeline_.labelled_target_ids_
        return self

    def _fitted(self) -> TransferPipeline:
        check_is_fitted(self, "pipeline_")
        return self.pipeline_

    def predict_frame(self, domain: Domain, X: np.ndarray | None = None) -> pd.DataFrame:
        """The fitted pipeline's predictions (see :meth:`TransferPipeline.predict_frame`)."""
        return self._fitted().predict_frame(domain, X)

    def score(self, domain: Domain, predictions: pd.DataFrame, n_resamples: int) -> dict:
        """The fitted pipeline's scores (see :meth:`TransferPipeline.score`)."""
        return self._fitted().score(domain, predictions, n_resamples)

    def heldout(self, source: Domain | None, target: Domain, dedupe: str
                ) -> tuple[Domain, dict | None]:
        """The fitted pipeline's held-out target after its leakage guard."""
        return self._fitted().heldout(source, target, dedupe)

    def validate(self, target: Domain, predictions: pd.DataFrame, options: Any,
                 n_resamples: int, manifest: dict[str, Any]) -> dict[str, Any]:
        """The fitted pipeline's validation study."""
        return self._fitted().validate(target, predictions, options, n_resamples, manifest)

    def embedding(self, source: Domain | None, target: Domain) -> dict[str, np.ndarray]:
        """Source and target before and after the fitted pipeline's adaptation."""
        return self._fitted().embedding(source, target)

    def write_to(self, folder: Path) -> dict[str, Any]:
        """Write the fitted pipeline (with the fine-tuned weights); it loads as a
        TransferPipeline."""
        return self._fitted().write_to(folder)

    def run_entries(self) -> dict[str, Any]:
        """The pipeline's entries and how the backbone was fine-tuned (``finetune``)."""
        return {**self._fitted().run_entries(), "finetune": self.finetune_}


def _only_labels_at(target: Domain, positions: np.ndarray) -> Domain:
    """``target`` with every label hidden except those at ``positions``."""
    if target.labels is None:
        return target
    labels = np.full_like(target.labels, UNLABELLED)
    labels[positions] = target.labels[positions]
    return replace(target, labels=labels)
