"""The epoch loop of stage 2: validation, early stopping, checkpoints and resuming."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress
from safetensors.torch import load_file
from sklearn.metrics import balanced_accuracy_score
from torch.nn import functional

from medtransfer.errors import ArtifactError
from medtransfer.finetune.checkpoint import (
    BEST_BACKBONE,
    BEST_HEAD,
    LAST,
    cpu_state,
    load_training_state,
    save_training_state,
    save_weights,
)
from medtransfer.finetune.freeze import set_train_mode
from medtransfer.finetune.inputs import PreparedData
from medtransfer.finetune.loop import (
    Training,
    TrainingData,
    features_of,
    n_batches,
    retry_on_oom,
    train_epoch,
)


class EpochRunner:
    """Runs the epochs of one FineTuner fit and keeps the best weights.

    Attributes
    ----------
    history : list of dict
        Per epoch: epoch, train_ce, train_transfer, val_loss, val_balanced_accuracy,
        batch_size, seconds. Epoch 0 is the stage-1 model (head on frozen features).
    best_epoch : int
        Epoch whose weights are kept (0: fine-tuning never beat the stage-1 model on the
        validation split); the last one when there is no validation.
    batch_size : int
        Batch size in use (halved after a CUDA out-of-memory error).
    """

    def __init__(
        self,
        tuner: Any,
        training: Training,
        parts: list,
        data: TrainingData,
        prepared: PreparedData,
    ) -> None:
        self.tuner = tuner
        self.t = training
        self.parts = parts
        self.data = data
        self.val_images, self.val_labels = prepared.val_images, prepared.val_labels
        self.val_from_target = prepared.val_from_target
        self.folder = Path(tuner.checkpoint_dir) if tuner.checkpoint_dir is not None else None
        self.batch_size = tuner.batch_size_
        self.history: list[dict[str, float]] = []
        self.best_epoch = 0
        self.best_loss = math.inf
        self.best_state: dict[str, dict[str, torch.Tensor]] | None = None

    def run(self, bar: Progress) -> None:
        """Train from the first (or the resumed) epoch until done or stopped early."""
        start = self._resume()
        if start == 0:
            self._baseline()
        steps = n_batches(len(self.data.images), self.batch_size)
        task = bar.add_task("fine-tuning", total=max(self.tuner.epochs - start, 0) * steps)
        for epoch in range(start + 1, self.tuner.epochs + 1):
            def advance(text: str, epoch: int = epoch) -> None:
                bar.update(task, advance=1, description=f"epoch {epoch}  {text}")

            began = time.perf_counter()
            set_train_mode(self.t.backbone, self.parts)
            stats, self.batch_size = retry_on_oom(
                lambda size: train_epoch(self.t, self.data, size, advance),
                self.batch_size, self.t.device,
            )
            record = {"epoch": epoch, **stats, **self._validate(), "batch_size": self.batch_size}
            self.history.append({**record, "seconds": time.perf_counter() - began})
            self._keep_if_best(epoch, record["val_loss"])
            self._save(epoch)
            if epoch - self.best_epoch >= self.tuner.patience > 0:
                break
        self._restore_best()

    def _baseline(self) -> None:
        """Validate the stage-1 model, so fine-tuning must beat it to be kept."""
        record = {"epoch": 0, "train_ce": math.nan, "train_transfer": math.nan, **self._validate()}
        self.history.append({**record, "batch_size": self.batch_size, "seconds": 0.0})
        if not math.isnan(record["val_loss"]):
            self._keep_if_best(0, record["val_loss"])

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        if len(self.val_images) == 0:
            return {"val_loss": math.nan, "val_balanced_accuracy": math.nan}
        features = features_of(self.t.backbone, self.val_images, self.batch_size, self.t.device)
        logits = self.t.head(features.to(self.t.device)).float().cpu()
        losses = functional.cross_entropy(logits, self.val_labels, reduction="none")
        # the target is what fine-tuning is for: its labelled images decide when there are any
        on_target = self.val_from_target
        loss = (losses[on_target] if bool(on_target.any()) else losses).mean().item()
        predicted = logits.argmax(dim=1).numpy()
        bacc = balanced_accuracy_score(self.val_labels.numpy(), predicted)
        return {"val_loss": loss, "val_balanced_accuracy": float(bacc)}

    def _keep_if_best(self, epoch: int, val_loss: float) -> None:
        no_validation = math.isnan(val_loss)
        if not (no_validation or val_loss < self.best_loss):
            return
        self.best_epoch, self.best_loss = epoch, (math.inf if no_validation else val_loss)
        self.best_state = {"backbone": cpu_state(self.t.backbone), "head": cpu_state(self.t.head)}
        if self.folder is not None:
            save_weights(self.folder / BEST_BACKBONE, self.best_state["backbone"])
            save_weights(self.folder / BEST_HEAD, self.best_state["head"])

    def _modules(self) -> dict[str, torch.nn.Module]:
        modules = {"backbone": self.t.backbone, "head": self.t.head}
        if self.t.transfer is not None:
            modules["transfer"] = self.t.transfer
        return modules

    def _signature(self) -> dict[str, Any]:
        params = self.tuner.get_params()
        keys = ("transfer_loss", "image_size", "unfreeze", "weights", "random_state")
        return {
            "backbone": self.t.backbone.config.name,
            "n_classes": int(self.t.head.out_features),
            **{k: str(params[k]) for k in keys},
        }

    def _save(self, epoch: int) -> None:
        if self.folder is None:
            return
        meta = {
            "epoch": epoch, "step": self.t.step, "history": self.history,
            "best_epoch": self.best_epoch, "best_loss": _finite(self.best_loss),
            "batch_size": self.batch_size, "signature": self._signature(),
        }
        save_training_state(
            self.folder / LAST, modules=self._modules(), optimizer=self.t.optimizer,
            generator=self.t.generator, meta=meta,
        )

    def _resume(self) -> int:
        """Load the last checkpoint when resuming; return the number of epochs done."""
        path = self.folder / LAST if self.folder is not None else None
        if not self.tuner.resume or path is None or not path.exists():
            return 0
        meta = load_training_state(
            path, modules=self._modules(), optimizer=self.t.optimizer, generator=self.t.generator
        )
        if meta["signature"] != self._signature():
            raise ArtifactError(
                f"checkpoint {str(path)!r} was written by another configuration "
                f"({meta['signature']}, now {self._signature()}); use another checkpoint_dir "
                "or set resume=False"
            )
        self.t.step, self.history = meta["step"], meta["history"]
        self.best_epoch, self.batch_size = meta["best_epoch"], meta["batch_size"]
        self.best_loss = math.inf if meta["best_loss"] is None else meta["best_loss"]
        if (self.folder / BEST_BACKBONE).exists():
            self.best_state = {
                "backbone": load_file(self.folder / BEST_BACKBONE),
                "head": load_file(self.folder / BEST_HEAD),
            }
        return int(meta["epoch"])

    def _restore_best(self) -> None:
        if self.best_state is not None:
            self.t.backbone.load_state_dict(self.best_state["backbone"])
            self.t.head.load_state_dict(self.best_state["head"])


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)
