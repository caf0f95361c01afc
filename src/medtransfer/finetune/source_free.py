"""Source-free adaptation: only a source model and unlabelled target images are needed.

* :func:`shot_adapt` — SHOT (Liang et al., ICML 2020): the head is frozen; the feature
  extractor learns to make confident, diverse target predictions (information
  maximisation) that agree with pseudo-labels from class centroids in feature space.
* :func:`adapt_batch_norm` — AdaBN (Li et al., 2016): recompute every batch-norm layer's
  statistics on the target images; no gradient step (:func:`update_batch_norm` does it to
  a bare backbone, whatever classifier sits on top).

Both return an adapted copy of a fitted :class:`~medtransfer.finetune.trainer.FineTuner`;
:func:`source_model` builds one from a backbone and a saved head.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.features.backbones import Backbone
from medtransfer.finetune.freeze import select_trainable, set_train_mode
from medtransfer.finetune.head import sklearn_to_head
from medtransfer.finetune.inputs import image_tensor
from medtransfer.finetune.loop import clip_batch_size, features_of
from medtransfer.finetune.losses import diversity_loss, entropy_loss
from medtransfer.finetune.trainer import FineTuner

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def source_model(
    backbone: Backbone,
    head: LogisticRegression,
    class_names: Sequence[str],
    *,
    image_size: int = 64,
    batch_size: int = 32,
) -> FineTuner:
    """A fitted FineTuner made of a source backbone and a linear head (e.g. loaded files)."""
    check_is_fitted(head)
    model = FineTuner(backbone.config.name, image_size=image_size, batch_size=batch_size)
    model.backbone_ = backbone.eval()
    model.head_ = head
    model.classes_ = np.asarray(head.classes_)
    model.class_names_ = tuple(class_names)
    model.history_, model.best_epoch_, model.batch_size_ = [], 0, batch_size
    model.feature_dim_ = int(np.atleast_2d(head.coef_).shape[1])
    return model


def centroid_pseudo_labels(
    features: torch.Tensor, head: nn.Module, rounds: int = 2
) -> torch.Tensor:
    """SHOT's pseudo-labels: nearest class centroid (cosine) in feature space.

    The first centroids are the feature means weighted by the head's probabilities; each
    further round recomputes them from the hard labels of the previous one.

    Parameters
    ----------
    features : Tensor (n, d)
    head : Module
        Maps features to class logits.
    rounds : int
        Number of centroid computations (2 in SHOT).

    Returns
    -------
    Tensor of int64, shape (n,)
    """
    with torch.no_grad():
        weights = functional.softmax(head(features).float(), dim=1)
        with_bias = torch.cat([features.float(), torch.ones(len(features), 1)], dim=1)
        points = functional.normalize(with_bias)
        for _ in range(rounds):
            centroids = weights.T @ points / (weights.sum(dim=0)[:, None] + 1e-8)
            labels = (points @ functional.normalize(centroids).T).argmax(dim=1)
            weights = functional.one_hot(labels, weights.shape[1]).float()
    return labels


def shot_adapt(
    model: FineTuner,
    target: Domain,
    *,
    epochs: int = 2,
    batch_size: int = 32,
    lr: float = 1e-4,
    pseudo_label_weight: float = 0.3,
    unfreeze: int | str = "all",
    random_state: int = 0,
    progress: bool = True,
) -> FineTuner:
    """SHOT: adapt the feature extractor to unlabelled target images, head frozen.

    Loss per batch: entropy - diversity + ``pseudo_label_weight`` · CE(pseudo-labels),
    with the pseudo-labels recomputed from class centroids before every epoch.

    Parameters
    ----------
    model : FineTuner
        The fitted source model (:func:`source_model` builds one from files).
    target : Domain
        Target images; their labels, if any, are ignored.
    epochs, batch_size : int
    lr : float
        AdamW learning rate of the backbone.
    pseudo_label_weight : float
        β of the pseudo-label term (0.3 in SHOT).
    unfreeze : "all" or int
        Train the whole backbone or its last N blocks.
    random_state : int
    progress : bool

    Returns
    -------
    FineTuner
        An adapted copy; its ``history_`` gains one ``{"stage": "shot", ...}`` per epoch.
    """
    adapted, images = _start(model, target, "SHOT", progress)
    backbone = adapted.backbone_
    device = next(backbone.parameters()).device
    head = sklearn_to_head(adapted.head_).to(device).requires_grad_(False)
    batch_size = clip_batch_size(batch_size, len(images), "target images")
    parts = select_trainable(backbone, unfreeze, backbone.config.name)
    optimizer = torch.optim.AdamW([p for p in backbone.parameters() if p.requires_grad], lr=lr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        generator = torch.Generator().manual_seed(random_state)
        with Progress(console=Console(stderr=True), disable=not progress) as bar:
            task = bar.add_task("SHOT", total=epochs)
            for epoch in range(1, epochs + 1):
                pseudo = centroid_pseudo_labels(
                    features_of(backbone, images, batch_size, device), head.cpu()
                )
                head.to(device)
                set_train_mode(backbone, parts)
                losses = _shot_epoch(backbone, head, images, pseudo, optimizer, generator,
                                     batch_size, pseudo_label_weight)
                adapted.history_.append({"stage": "shot", "epoch": epoch, **losses})
                bar.update(task, advance=1, description=f"SHOT epoch {epoch}  {losses}")
    backbone.eval()
    return adapted


def _shot_epoch(backbone, head, images, pseudo, optimizer, generator, batch_size, beta):
    device = next(backbone.parameters()).device
    order = torch.randperm(len(images), generator=generator)
    totals = np.zeros(2)
    n_steps = 0
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        logits = head(backbone(images[index].to(device)))
        information = entropy_loss(logits) + diversity_loss(logits)
        pseudo_ce = functional.cross_entropy(logits.float(), pseudo[index].to(device))
        loss = information + beta * pseudo_ce
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        totals += [float(information.detach()), float(pseudo_ce.detach())]
        n_steps += 1
    return {"information": totals[0] / n_steps, "pseudo_ce": totals[1] / n_steps}


def adapt_batch_norm(
    model: FineTuner, target: Domain, *, batch_size: int = 64, progress: bool = True
) -> FineTuner:
    """AdaBN: replace every batch-norm layer's running statistics with the target's.

    Returns
    -------
    FineTuner
        An adapted copy whose batch-norm means/variances are the exact averages over the
        target images (cumulative moving average, momentum None).
    """
    adapted, images = _start(model, target, "AdaBN", progress)
    update_batch_norm(adapted.backbone_, images, batch_size=batch_size)
    adapted.history_.append({"stage": "adabn", "images": len(images)})
    return adapted


def update_batch_norm(backbone: Backbone, images: torch.Tensor, *, batch_size: int = 64) -> int:
    """Set the running statistics of every batch-norm layer of ``backbone`` to ``images``'.

    The backbone is changed in place and left in eval mode; nothing else is trained.

    Parameters
    ----------
    backbone : Backbone
    images : Tensor (n, C, H, W)
        Prepared target images (see :func:`~medtransfer.finetune.inputs.image_tensor`).
    batch_size : int
        Images per forward pass; every batch weighs the same in the average.

    Returns
    -------
    int
        Number of batch-norm layers updated.
    """
    device = next(backbone.parameters()).device
    norms = [m for m in backbone.modules() if isinstance(m, BATCH_NORMS)]
    if not norms:
        raise ConfigError(
            f"backbone {backbone.config.name!r} has no batch-norm layers, so AdaBN has nothing "
            "to adapt; use shot_adapt instead"
        )
    if len(images) == 0:
        raise ConfigError("AdaBN needs target images to measure; none were given")
    momenta = [m.momentum for m in norms]
    backbone.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    with torch.no_grad():
        # One pass in batches of fixed size: the cumulative average weights batches equally.
        for start in range(0, len(images), batch_size):
            backbone(images[start : start + batch_size].to(device))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    backbone.eval()
    return len(norms)


def _start(model: FineTuner, target: Domain, method: str, progress: bool):
    check_is_fitted(model, "head_")
    if len(target) == 0:
        raise ConfigError(
            f"{method} adapts to unlabelled target images, but target {target.name!r} has none; "
            "pass a target domain with images (labels are not needed)"
        )
    adapted = copy.deepcopy(model)
    adapted.history_ = list(model.history_)
    images = image_tensor(target, adapted.backbone_.config, adapted.image_size, progress=progress)
    return adapted, images
