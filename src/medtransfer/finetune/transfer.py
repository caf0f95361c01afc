"""The registry of transfer losses a FineTuner can add to its task loss, by name.

Every entry is a factory ``(feature_dim, n_classes, backbone) -> TransferLoss``; a
TransferLoss is a module called with a :class:`TransferBatch` that returns a scalar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from medtransfer.errors import ConfigError
from medtransfer.finetune.adversarial import CDANLoss, DANNLoss
from medtransfer.finetune.losses import (
    L2SP,
    coral_loss,
    dann_schedule,
    entropy_loss,
    mcc_loss,
    multi_kernel_mmd,
)
from medtransfer.registry import Registry

NO_TRANSFER = "none"
SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda progress: 1.0,
    "dann": dann_schedule,
}


@dataclass
class TransferBatch:
    """What a transfer loss may look at in one training step.

    ``source_*`` are the labelled rows (source plus labelled target), ``target_*`` the
    unlabelled target rows of the same step.
    """

    source_features: torch.Tensor
    target_features: torch.Tensor
    source_logits: torch.Tensor
    target_logits: torch.Tensor


class TransferLoss(nn.Module):
    """Base of the registered losses; ``needs_target`` says if target images are required."""

    needs_target = True

    def forward(self, batch: TransferBatch) -> torch.Tensor:  # pragma: no cover - abstract
        """The loss value for one step."""
        raise NotImplementedError


LossFactory = Callable[[int, int, nn.Module], TransferLoss]
TRANSFER_LOSSES: Registry[LossFactory] = Registry("transfer loss", "medtransfer methods")


class _FeatureLoss(TransferLoss):
    def __init__(self, loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, batch: TransferBatch) -> torch.Tensor:
        return self.loss(batch.source_features, batch.target_features)


class _TargetPredictionLoss(TransferLoss):
    def __init__(self, loss: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, batch: TransferBatch) -> torch.Tensor:
        return self.loss(batch.target_logits)


class _Adversarial(TransferLoss):
    def __init__(self, loss: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.loss = loss
        self.conditional = conditional

    def forward(self, batch: TransferBatch) -> torch.Tensor:
        if self.conditional:
            return self.loss(
                batch.source_features, batch.target_features,
                batch.source_logits, batch.target_logits,
            )
        return self.loss(batch.source_features, batch.target_features)


class _WeightLoss(TransferLoss):
    needs_target = False

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.l2sp = L2SP(p for p in backbone.parameters() if p.requires_grad)

    def forward(self, batch: TransferBatch) -> torch.Tensor:
        return self.l2sp()


@TRANSFER_LOSSES.register("mmd")
def _mmd(feature_dim: int, n_classes: int, backbone: nn.Module) -> TransferLoss:
    """Multi-kernel MMD between source and target features (DAN)."""
    return _FeatureLoss(multi_kernel_mmd)


@TRANSFER_LOSSES.register("coral")
def _coral(feature_dim: int, n_classes: int, backbone: nn.Module) -> TransferLoss:
    """Deep CORAL: match feature covariances."""
    return _FeatureLoss(coral_loss)


@TRANSFER_LOSSES.register("dann")
def _dann(feature_dim: int, n_classes: int, backbone: nn.Module) -> TransferLoss:
    """Domain-adversarial training with a gradient-reversal layer."""
    return _Adversarial(DANNLoss(feature_dim), conditional=False)


@TRANSFER_LOSSES.register("cdan")
def _cdan(feature_dim: int, n_classes: int, backbone: nn.Module) -> TransferLoss:
    """Conditional adversarial training on features ⊗ predictions."""
    return _Adversarial(CDANLoss(feature_dim, n_classes), conditional=True)


@TRANSFER_LOSSES.register("mcc")
def _mcc(feature_dim: int, n_classes: int, backbone: nn.Module) -> TransferLoss:
    """Minimum class confusion on target predictions."""
    return _TargetPredictionLoss(mcc_loss)


@TRANSFER_LOSSES.register("entropy")
def _entropy(feature_dim: int, n_classes: int, backbone: nn.Module) -> TransferLoss:
    """Entropy minimisation of target predictions."""
    return _TargetPredictionLoss(entropy_loss)


@TRANSFER_LOSSES.register("l2sp")
def _l2sp(feature_dim: int, n_classes: int, backbone: nn.Module) -> TransferLoss:
    """L2-SP: keep the trainable backbone weights near their pretrained values."""
    return _WeightLoss(backbone)


def make_transfer_loss(
    name: str, feature_dim: int, n_classes: int, backbone: nn.Module
) -> TransferLoss | None:
    """Build the transfer loss called ``name``; None for ``"none"``.

    Raises
    ------
    ConfigError
        If the name is unknown (with a did-you-mean suggestion).
    """
    if name == NO_TRANSFER:
        return None
    return TRANSFER_LOSSES.get(name)(feature_dim, n_classes, backbone)


def schedule_weight(schedule: str, progress: float) -> float:
    """Multiplier of λ at training progress ``progress`` in [0, 1]."""
    if schedule not in SCHEDULES:
        raise ConfigError(
            f"schedule={schedule!r} is not known; use one of {sorted(SCHEDULES)} "
            "('dann' ramps λ from 0 to 1, 'constant' keeps it fixed)"
        )
    return SCHEDULES[schedule](progress)
