"""Deep transfer: fine-tune a backbone with L = L_task + λ·L_transfer; source-free adaptation."""

from medtransfer.finetune.adversarial import CDANLoss, DANNLoss, GradientReversal
from medtransfer.finetune.head import fold_linear
from medtransfer.finetune.losses import (
    L2SP,
    coral_loss,
    dann_schedule,
    entropy_loss,
    mcc_loss,
    multi_kernel_mmd,
)
from medtransfer.finetune.selection import select_transfer_loss
from medtransfer.finetune.source_free import (
    adapt_batch_norm,
    shot_adapt,
    source_model,
    update_batch_norm,
)
from medtransfer.finetune.steps import StepTuner
from medtransfer.finetune.trainer import FineTuner
from medtransfer.finetune.transfer import TRANSFER_LOSSES, make_transfer_loss

__all__ = [
    "L2SP",
    "TRANSFER_LOSSES",
    "CDANLoss",
    "DANNLoss",
    "FineTuner",
    "GradientReversal",
    "StepTuner",
    "adapt_batch_norm",
    "coral_loss",
    "dann_schedule",
    "entropy_loss",
    "fold_linear",
    "make_transfer_loss",
    "mcc_loss",
    "multi_kernel_mmd",
    "select_transfer_loss",
    "shot_adapt",
    "source_model",
    "update_batch_norm",
]
