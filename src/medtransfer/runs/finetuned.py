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

from medtransfer.data import Domain, harmonize_classes
from medtransfer.data.domain import UNLABELLED
from medtransfer.errors import ConfigError
from medtransfer.finetune.selection import FROZEN, fit_candidate, select_transfer_loss
from medtransfer.finetune.trainer import FineTuner
from medtransfer.runs.pipeline import TransferPipeline

DEFAULT_IMAGE_SIZE = 64
AUTO = "auto"
RECORDED_OPTIONS = ("epochs", "lr", "batch_size", "transfer_weight", "schedule", "unfreeze")


class FineTunedPipeline(TransferPipeline):
    """A TransferPipeline whose backbone is fine-tuned on source + target before its method.

    Parameters
    ----------
    transfer_loss : str, default="none"
        "none" (fine-tune on the labelled images only), a loss of
        :data:`~medtransfer.finetune.transfer.TRANSFER_LOSSES`, or "auto": choose among
        fine-tunes, their source-free adaptations (SHOT, AdaBN) and the frozen backbone by
        validation (:func:`~medtransfer.finetune.selection.select_transfer_loss`); when the
        frozen backbone wins, the method is fitted on its features without fine-tuning.
    finetune_options : dict, optional
        Further :class:`~medtransfer.finetune.trainer.FineTuner` arguments (epochs, lr,
        batch_size, transfer_weight, ...).
    **params
        The :class:`TransferPipeline` parameters; its backbone, weights, seed and device are
        the fine-tune's, and ``image_size`` (64 px when unset) the size the backbone is
        trained and used at.

    Attributes
    ----------
    finetune_ : dict
        How the backbone was trained (loss, choice and evidence for "auto", best epoch,
        history, options); the run's manifest records it as ``finetune``.
    finetuned_weights_ : Path or None
        The fine-tuned backbone's weights (None when the frozen backbone was kept).
    """

    def __init__(
        self,
        method: str = "source_only",
        method_params: dict | None = None,
        classifier: str = "svm",
        backbone: str = "efficientnet_lite0",
        weights: str | Path | None = None,
        image_size: int | None = None,
        task: str = "classification",
        target_transform: str = "none",
        point: str = "mean",
        encoder: Any = None,
        baselines: bool = True,
        random_state: int = 0,
        cache_dir: Path | None = None,
        device: str | None = None,
        progress: bool = True,
        recalibrate: str | None = None,
        harmonize: str = "none",
        augment: int = 0,
        tta: bool = False,
        store_weights: bool = False,
        transfer_loss: str = "none",
        finetune_options: dict | None = None,
    ) -> None:
        super().__init__(
            method=method, method_params=method_params, classifier=classifier,
            backbone=backbone, weights=weights, image_size=image_size, task=task,
            target_transform=target_transform, point=point, encoder=encoder,
            baselines=baselines, random_state=random_state, cache_dir=cache_dir,
            device=device, progress=progress, recalibrate=recalibrate, harmonize=harmonize,
            augment=augment, tta=tta, store_weights=store_weights,
        )
        self.transfer_loss = transfer_loss
        self.finetune_options = finetune_options

    def fit(
        self, source: Domain, target: Domain, target_labels: int | Sequence[str] = 0
    ) -> FineTunedPipeline:
        """Fine-tune the backbone on ``source`` + ``target`` (``target_labels`` of its
        labels), then fit the method on the fine-tuned features with the same labels."""
        if source.kind != "image" or target.kind != "image" or self.task != "classification":
            raise ConfigError(
                "FineTunedPipeline (--finetune) trains an image backbone for classification; "
                f"got {source.kind} source, {target.kind} target and task={self.task!r}"
            )
        if self.harmonize != "none" or self.augment or self.tta:
            raise ConfigError(
                "FineTunedPipeline: harmonize, augment and tta (--harmonize, --augment, --tta) "
                "apply to frozen-feature fits; they are not yet wired into fine-tuning: use "
                "one or the other")
        given = source, target
        source, target, _ = harmonize_classes(source, target)
        positions = self.labelled_positions(target, target_labels)
        image_size = self.image_size or DEFAULT_IMAGE_SIZE
        # the loss is set per candidate by fit_candidate
        tuner = FineTuner(
            self.backbone, weights=self.weights, image_size=image_size, device=self.device,
            progress=self.progress, random_state=self.random_state,
            **(self.finetune_options or {}),
        )
        seen = _only_labels_at(target, positions)
        self.finetune_: dict[str, Any] = {"transfer_loss": self.transfer_loss,
                                          "image_size": image_size}
        self.finetuned_weights_ = None
        if self.transfer_loss == AUTO:
            self.finetune_["selection"] = select_transfer_loss(source, seen, tuner)
            self.finetune_["choice"] = self.finetune_["selection"]["choice"]
        choice = self.finetune_.get("choice", self.transfer_loss)
        if choice != FROZEN:
            model = fit_candidate(choice, tuner, source, seen)
            self.finetune_.update(
                best_epoch=model.best_epoch_, history=model.history_,
                **{k: v for k, v in tuner.get_params().items() if k in RECORDED_OPTIONS},
            )
            self._weights_dir = tempfile.TemporaryDirectory(prefix="medtransfer-finetune-")
            self.finetuned_weights_ = model.save_backbone(
                Path(self._weights_dir.name) / "backbone.safetensors")
        super().fit(source, target, [str(i) for i in target.ids[positions]])
        for domain, fitted in zip(given, (source, target), strict=True):
            self._keep_features(domain, fitted, self.features(fitted))
        return self

    def _saved_params(self) -> dict[str, Any]:
        params = {**super()._saved_params(), "image_size": self.image_size or DEFAULT_IMAGE_SIZE}
        weights = getattr(self, "finetuned_weights_", None)
        if weights is not None:
            params.update(weights=str(weights), store_weights=True)
        return params

    def run_entries(self) -> dict[str, Any]:
        """The pipeline's entries and how the backbone was fine-tuned (``finetune``)."""
        return {**super().run_entries(), "finetune": self.finetune_}


def _only_labels_at(target: Domain, positions: np.ndarray) -> Domain:
    """``target`` with every label hidden except those at ``positions``."""
    if target.labels is None:
        return target
    labels = np.full_like(target.labels, UNLABELLED)
    labels[positions] = target.labels[positions]
    return replace(target, labels=labels)
