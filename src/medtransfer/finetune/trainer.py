"""FineTuner: train a backbone and a linear head end to end with L = CE + λ·L_transfer."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.features.backbones import Backbone, create_backbone
from medtransfer.features.device import resolve_device
from medtransfer.features.extract import IMAGE_SIZE
from medtransfer.finetune.augment import Augmenter
from medtransfer.finetune.checkpoint import cpu_state, save_weights
from medtransfer.finetune.epochs import EpochRunner
from medtransfer.finetune.freeze import UNFREEZE, select_trainable
from medtransfer.finetune.head import fit_head, head_to_sklearn
from medtransfer.finetune.inputs import PreparedData, image_tensor, prepare_data
from medtransfer.finetune.loop import (
    Training,
    TrainingData,
    clip_batch_size,
    features_of,
    n_batches,
)
from medtransfer.finetune.transfer import (
    NO_TRANSFER,
    SCHEDULES,
    TRANSFER_LOSSES,
    make_transfer_loss,
)
from medtransfer.params import (
    Constraints,
    Given,
    InstanceOf,
    Interval,
    Names,
    Options,
    Requires,
    check_params,
)


class FineTuner(BaseEstimator):
    """Fine-tune a pretrained backbone on a labelled source and a few-label target.

    Stage 1 trains a linear head on the frozen features of the labelled rows (source +
    labelled target); stage 2 unfreezes the backbone (all of it or its last blocks) and
    trains on the same rows with ``CE + transfer_weight · schedule(p) · transfer_loss``, the
    transfer loss seeing the unlabelled target images. Early stopping uses a validation split
    of the labelled rows only (stratified by domain and class); its loss is taken on the
    labelled target images there when there are any (on the source otherwise), since a
    fine-tune can fit the source better while transferring worse. Target test data never
    enters. The stage-1 model is kept when no epoch beats it on that split.

    Parameters
    ----------
    backbone : str or Backbone
        Registered backbone name, ``timm:<architecture>``, or a built Backbone.
    weights : str, Path or None
        Backbone weights: None (default weights), ``"random"`` or a ``.safetensors`` file.
    transfer_loss : str
        ``"none"`` or a name of :data:`~medtransfer.finetune.transfer.TRANSFER_LOSSES`
        (mmd, coral, dann, cdan, mcc, entropy, l2sp).
    transfer_weight : float
        λ, the weight of the transfer loss.
    schedule : {"dann", "constant"}
        How λ ramps over training ("dann": 2/(1+exp(-10p)) - 1).
    unfreeze : "all" or int
        Train the whole backbone or only its last N blocks.
    image_size : int
        Side the images are resized to (64 is quick on a CPU).
    epochs : int
        Epochs of stage 2 (0 trains the head only). The defaults, 2 epochs at a backbone
        ``lr`` of 1e-3, are the recipe measured by ``benchmarks/finetune.py``.
    head_c : float
        Inverse L2 strength of the stage-1 logistic-regression head.
    batch_size : int
        Clipped to the number of labelled rows; halved on CUDA out-of-memory.
    lr, head_lr, weight_decay : float
        AdamW learning rates of the backbone and of the head/discriminator.
    augment, allow_flips : bool
        Augment target images (rotation, shift, intensity); flips only if allowed, since
        anatomy is often not mirror-symmetric.
    val_fraction : float
        Share of labelled rows held out for early stopping (0 disables it).
    patience : int
        Epochs without validation improvement before stopping.
    checkpoint_dir : str, Path or None
        Where ``last.safetensors`` (resumable state) and the best weights are written.
    resume : bool
        Continue from ``checkpoint_dir/last.safetensors`` when it exists.
    device : str or None
        Torch device; None picks CUDA when available.
    mixed_precision : {"auto", True, False}
        float16 autocast with loss scaling: "auto" on CUDA only, True on any device (on
        most CPUs slower than float32; it runs the same code path as on CUDA), False never.
    progress : bool
        Show rich progress bars with the losses.
    random_state : int
        Seed of every random draw; the same seed gives the same model on a CPU.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "backbone": InstanceOf(str, Backbone, what="a backbone name such as 'efficientnet_lite0' "
                               "or 'timm:resnet18', or a Backbone from create_backbone"),
        "transfer_loss": Names(TRANSFER_LOSSES, NO_TRANSFER),
        "schedule": Options(*SCHEDULES, hint="'dann' ramps λ from 0 to 1, 'constant' keeps it "
                            "fixed"),
        "unfreeze": UNFREEZE,
        "image_size": IMAGE_SIZE,
        "epochs": Interval(int, 0, None),
        "patience": Interval(int, 0, None),
        "batch_size": Interval(int, 1, None),
        "val_fraction": Interval(float, 0, 1, closed="left", hint="e.g. 0.2 (0 disables early "
                                 "stopping)"),
        "mixed_precision": Options("auto", True, False, hint="'auto' uses it on CUDA only"),
    }
    _parameter_rules = (
        Requires("resume", unless=False, needs={"checkpoint_dir": Given()},
                 why="the folder of last.safetensors"),
    )

    def __init__(
        self,
        backbone: str | Backbone = "efficientnet_lite0",
        *,
        weights: str | Path | None = None,
        transfer_loss: str = "none",
        transfer_weight: float = 1.0,
        schedule: str = "dann",
        unfreeze: int | str = "all",
        image_size: int = 64,
        epochs: int = 2,
        head_c: float = 0.1,
        batch_size: int = 32,
        lr: float = 1e-3,
        head_lr: float = 1e-3,
        weight_decay: float = 1e-4,
        augment: bool = True,
        allow_flips: bool = False,
        val_fraction: float = 0.2,
        patience: int = 2,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        device: str | None = None,
        mixed_precision: bool | str = "auto",
        progress: bool = True,
        random_state: int = 0,
    ) -> None:
        self.backbone = backbone
        self.weights = weights
        self.transfer_loss = transfer_loss
        self.transfer_weight = transfer_weight
        self.schedule = schedule
        self.unfreeze = unfreeze
        self.image_size = image_size
        self.epochs = epochs
        self.head_c = head_c
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.augment = augment
        self.allow_flips = allow_flips
        self.val_fraction = val_fraction
        self.patience = patience
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.device = device
        self.mixed_precision = mixed_precision
        self.progress = progress
        self.random_state = random_state

    def fit(self, source: Domain, target: Domain | None = None) -> FineTuner:
        """Fine-tune on a labelled ``source`` and a ``target`` (labels -1 where unknown).

        Returns
        -------
        FineTuner
            Fitted: ``backbone_`` (torch, eval mode), ``head_`` (numpy LogisticRegression),
            ``history_`` (one dict per epoch), ``best_epoch_``, ``classes_``.
        """
        check_params(self)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            self._fit(source, target)
        return self

    def _fit(self, source: Domain, target: Domain | None) -> None:
        device = resolve_device(self.device)
        backbone = self._build_backbone(device)
        data = prepare_data(
            source, target, backbone.config, self.image_size, val_fraction=self.val_fraction,
            random_state=self.random_state, progress=self.progress,
        )
        generator = torch.Generator().manual_seed(self.random_state)
        n_rows = len(data.train_images)
        self.batch_size_ = clip_batch_size(self.batch_size, n_rows, "labelled images")
        self.class_names_ = source.class_names
        self.classes_ = np.arange(len(source.class_names))
        head = self._stage_one(backbone, data, device)
        self.history_, self.best_epoch_ = [], 0
        if self.epochs > 0:
            self._stage_two(backbone, head, data, generator, device)
        self.backbone_ = backbone.eval()
        self.head_ = head_to_sklearn(head.cpu(), self.classes_)
        self.feature_dim_ = int(head.in_features)

    def _build_backbone(self, device: torch.device) -> Backbone:
        if isinstance(self.backbone, Backbone):
            return copy.deepcopy(self.backbone).to(device)
        return create_backbone(self.backbone, weights=self.weights, device=device)

    def _stage_one(self, backbone, data: PreparedData, device) -> torch.nn.Linear:
        features = features_of(backbone, data.train_images, self.batch_size_, device)
        head = fit_head(
            features, data.train_labels, self.class_names_, C=self.head_c,
            random_state=self.random_state,
        )
        return head.to(device)

    def _stage_two(self, backbone, head, data: PreparedData, generator, device) -> None:
        parts = select_trainable(backbone, self.unfreeze, backbone.config.name)
        transfer = make_transfer_loss(
            self.transfer_loss, head.in_features, len(self.classes_), backbone
        )
        if transfer is not None:
            transfer.to(device)
            if transfer.needs_target and len(data.unlabelled) == 0:
                raise ConfigError(
                    f"transfer loss {self.transfer_loss!r} learns from unlabelled target images, "
                    "but the target has none; pass a target domain with unlabelled images "
                    "(labels -1), or use transfer_loss='none' or 'l2sp'"
                )
        training = Training(
            backbone=backbone, head=head, transfer=transfer,
            optimizer=self._optimizer(backbone, head, transfer), generator=generator,
            augment=Augmenter(allow_flips=self.allow_flips) if self.augment else None,
            lambda_=self.transfer_weight, schedule=self.schedule, device=device,
            total_steps=self.epochs * n_batches(len(data.train_images), self.batch_size_),
            scaler=torch.amp.GradScaler(device.type) if self._amp(device) else None,
        )
        train_data = TrainingData(
            data.train_images, data.train_labels, data.train_from_target, data.unlabelled
        )
        runner = EpochRunner(self, training, parts, train_data, data)
        started = time.perf_counter()
        with Progress(console=Console(stderr=True), disable=not self.progress) as bar:
            runner.run(bar)
        self.history_, self.best_epoch_ = runner.history, runner.best_epoch
        self.batch_size_ = runner.batch_size
        self.train_seconds_ = time.perf_counter() - started

    def _optimizer(self, backbone, head, transfer) -> torch.optim.Optimizer:
        groups = [
            {"params": [p for p in backbone.parameters() if p.requires_grad], "lr": self.lr},
            {"params": list(head.parameters()), "lr": self.head_lr},
        ]
        extra = [p for p in transfer.parameters()] if transfer is not None else []
        if extra:
            groups.append({"params": extra, "lr": self.head_lr})
        return torch.optim.AdamW(groups, weight_decay=self.weight_decay)

    def _amp(self, device: torch.device) -> bool:
        if self.mixed_precision == "auto":
            return device.type == "cuda"
        return bool(self.mixed_precision)

    def transform(self, domain: Domain) -> np.ndarray:
        """Fine-tuned backbone features of every image of ``domain``, (n, feature_dim)."""
        check_is_fitted(self, "head_")
        images = image_tensor(domain, self.backbone_.config, self.image_size)
        device = next(self.backbone_.parameters()).device
        with torch.random.fork_rng(devices=[]):
            features = features_of(self.backbone_, images, self.batch_size_, device)
        return features.reshape(len(images), -1).numpy()

    def predict_proba(self, domain: Domain) -> np.ndarray:
        """Class probabilities (n, n_classes) of the images of ``domain``."""
        return self.head_.predict_proba(self.transform(domain))

    def predict(self, domain: Domain) -> np.ndarray:
        """Predicted class codes of the images of ``domain``."""
        return self.classes_[self.predict_proba(domain).argmax(axis=1)]

    def backbone_state(self) -> dict[str, torch.Tensor]:
        """The fine-tuned backbone's weights as CPU tensors (a safetensors-able dict)."""
        check_is_fitted(self, "head_")
        return cpu_state(self.backbone_)

    def save_backbone(self, path: str | Path) -> Path:
        """Write the backbone weights to ``path`` (.safetensors); load with create_backbone."""
        path = Path(path)
        if path.suffix != ".safetensors":
            raise ConfigError(f"backbone file {str(path)!r} must end in .safetensors")
        save_weights(path, self.backbone_state())
        return path
