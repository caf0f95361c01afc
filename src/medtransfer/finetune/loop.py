"""One epoch of fine-tuning, evaluation, and the guards around them (freezing, OOM, sizes)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import nn
from torch.nn import functional

from medtransfer.errors import ConfigError
from medtransfer.finetune.augment import Augmenter
from medtransfer.finetune.transfer import TransferBatch, TransferLoss, schedule_weight

T = TypeVar("T")


class BatchSizeWarning(UserWarning):
    """The batch size was changed (clipped to the data, or halved after running out of memory)."""


@dataclass
class TrainingData:
    """Labelled rows (source + labelled target) and the unlabelled target images."""

    images: torch.Tensor
    labels: torch.Tensor
    from_target: torch.Tensor
    unlabelled: torch.Tensor


@dataclass
class Training:
    """Everything one optimisation step needs; ``step`` counts steps across epochs."""

    backbone: nn.Module
    head: nn.Linear
    transfer: TransferLoss | None
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    augment: Augmenter | None
    lambda_: float
    schedule: str
    device: torch.device
    total_steps: int
    scaler: torch.amp.GradScaler | None = None
    step: int = 0
    checked_gradients: bool = field(default=False)


def clip_batch_size(batch_size: int, n: int, what: str) -> int:
    """``batch_size`` clipped to ``n`` rows, with a BatchSizeWarning when clipped."""
    if batch_size > n >= 1:
        warnings.warn(
            f"batch_size={batch_size} is larger than the {n} {what}; using {n}",
            BatchSizeWarning,
            stacklevel=3,
        )
        return n
    return batch_size


def retry_on_oom(run: Callable[[int], T], batch_size: int, device: torch.device) -> tuple[T, int]:
    """Call ``run(batch_size)``, halving the batch size after each CUDA out-of-memory error.

    Returns the result and the batch size that worked.

    Raises
    ------
    ConfigError
        If even a batch of one image does not fit into the accelerator's memory.
    """
    while True:
        try:
            return run(batch_size), batch_size
        except torch.cuda.OutOfMemoryError:
            if device.type == "cuda":
                torch.cuda.empty_cache()
            if batch_size <= 1:
                raise ConfigError(
                    f"out of GPU memory on {device} even with batch_size=1; lower image_size, "
                    "unfreeze fewer blocks, or use device='cpu'"
                ) from None
            batch_size //= 2
            warnings.warn(
                f"out of GPU memory on {device}; retrying with batch_size={batch_size}",
                BatchSizeWarning,
                stacklevel=2,
            )


def _autocast(device: torch.device, enabled: bool):
    if enabled:
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    return nullcontext()


def _draw(data: TrainingData, index: torch.Tensor, t: Training) -> tuple[torch.Tensor, ...]:
    images = data.images[index]
    if t.augment is not None:
        on_target = data.from_target[index]
        if bool(on_target.any()):
            images = images.clone()
            images[on_target] = t.augment(images[on_target], t.generator)
    return images, data.labels[index]


def _unlabelled_batch(data: TrainingData, size: int, t: Training) -> torch.Tensor:
    pick = torch.randint(len(data.unlabelled), (size,), generator=t.generator)
    images = data.unlabelled[pick]
    return t.augment(images, t.generator) if t.augment is not None else images


def _losses(t: Training, images: torch.Tensor, labels: torch.Tensor, target: torch.Tensor):
    n = len(images)
    features = t.backbone(torch.cat([images, target]).to(t.device))
    logits = t.head(features)
    ce = functional.cross_entropy(logits[:n].float(), labels.to(t.device))
    if t.transfer is None:
        return ce, torch.zeros((), device=t.device)
    batch = TransferBatch(features[:n], features[n:], logits[:n], logits[n:])
    return ce, t.transfer(batch)


def train_step(t: Training, data: TrainingData, index: torch.Tensor) -> tuple[float, float]:
    """One optimisation step on the labelled rows ``index``; returns (task, transfer) loss."""
    images, labels = _draw(data, index, t)
    needs_target = t.transfer is not None and t.transfer.needs_target
    target = _unlabelled_batch(data, len(index), t) if needs_target else images[:0]
    weight = t.lambda_ * schedule_weight(t.schedule, t.step / max(t.total_steps, 1))
    with _autocast(t.device, t.scaler is not None):
        ce, transfer = _losses(t, images, labels, target)
        loss = ce + weight * transfer
    t.optimizer.zero_grad(set_to_none=True)
    if t.scaler is not None:
        t.scaler.scale(loss).backward()
        _check_gradients(t)
        t.scaler.step(t.optimizer)
        t.scaler.update()
    else:
        loss.backward()
        _check_gradients(t)
        t.optimizer.step()
    t.step += 1
    return float(ce.detach()), float(transfer.detach())


def _check_gradients(t: Training) -> None:
    if t.checked_gradients:
        return
    trainable = [p for p in t.backbone.parameters() if p.requires_grad]
    if not any(p.grad is not None and bool(torch.any(p.grad != 0)) for p in trainable):
        raise ConfigError(
            f"no gradient reaches the {len(trainable)} trainable backbone parameters: the "
            "backbone's forward detaches its output or runs under torch.no_grad(), so it cannot "
            "be fine-tuned; fix its forward or use frozen features (extract_features)"
        )
    t.checked_gradients = True


def n_batches(n: int, batch_size: int) -> int:
    """Training batches per epoch of ``n`` rows: a last batch of one image joins the one
    before, since batch normalisation cannot train on a single image."""
    steps = math.ceil(n / batch_size)
    return steps - 1 if steps > 1 and n % batch_size == 1 else steps


def train_epoch(
    t: Training, data: TrainingData, batch_size: int, advance: Callable[[str], None]
) -> dict[str, float]:
    """One pass over the labelled rows in seeded random order; mean losses of the epoch."""
    order = torch.randperm(len(data.images), generator=t.generator)
    n_steps = n_batches(len(order), batch_size)
    totals = [0.0, 0.0]
    for i in range(n_steps):
        stop = (i + 1) * batch_size if i < n_steps - 1 else len(order)
        ce, transfer = train_step(t, data, order[i * batch_size : stop])
        totals[0] += ce
        totals[1] += transfer
        advance(f"ce {ce:.3f}  transfer {transfer:.4f}")
    return {"train_ce": totals[0] / n_steps, "train_transfer": totals[1] / n_steps}


@torch.no_grad()
def features_of(
    backbone: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device
) -> torch.Tensor:
    """Backbone features of ``images`` in eval mode, batched, on the CPU."""
    backbone.eval()
    chunks = [
        backbone(images[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(chunks) if chunks else torch.empty((0, 0))
