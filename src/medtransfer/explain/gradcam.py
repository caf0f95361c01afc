"""Grad-CAM and Grad-CAM++ heat maps for a backbone + linear head, and PNG overlays.

The class score explained is the centred logit ``z_c - mean(z)``: softmax does not change
when every logit moves together, so this score is the same whichever way the head is
parametrised (a binary sklearn head has logits ``[0, s]``, whose raw class-0 logit would
carry no gradient at all).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
from PIL import Image
from sklearn.base import BaseEstimator
from torch import nn
from torch.nn import functional

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.finetune.head import sklearn_to_head
from medtransfer.finetune.inputs import image_tensor

METHODS = ("gradcam", "gradcam++")


def default_layer(network: nn.Module) -> str:
    """Name of the last convolution of ``network`` (``conv_head`` in timm EfficientNets)."""
    convs = [name for name, m in network.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ConfigError(
            f"{type(network).__name__} has no Conv2d layer, so Grad-CAM has no feature map to "
            "explain; pass layer='<module name>' of a layer with a spatial output"
        )
    return convs[-1]


def _find_layer(network: nn.Module, layer: str) -> nn.Module:
    names = [name for name, _ in network.named_modules() if name]
    if layer not in names:
        close = difflib.get_close_matches(layer, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"layer {layer!r} is not a module of {type(network).__name__}.{hint} "
            f"Use a name from model.named_modules(), e.g. {default_layer(network)!r}"
        )
    return network.get_submodule(layer)


def _as_head(head: nn.Module | BaseEstimator) -> nn.Module:
    return head if isinstance(head, nn.Module) else sklearn_to_head(head)


def _activations_and_grads(
    backbone: nn.Module, head: nn.Module, images: torch.Tensor, module: nn.Module,
    target_class: int | Sequence[int] | None,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    captured: list[torch.Tensor] = []
    hook = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.enable_grad():
            logits = head(backbone(images.requires_grad_(True))).float()
            classes = _classes(logits, target_class)
            centred = logits - logits.mean(dim=1, keepdim=True)
            score = centred[torch.arange(len(images)), torch.as_tensor(classes)].sum()
            grads = torch.autograd.grad(score, captured[-1])[0]
    finally:
        hook.remove()
    return captured[-1].detach().float(), grads.float(), classes


def _classes(logits: torch.Tensor, target_class: int | Sequence[int] | None) -> np.ndarray:
    n, n_classes = logits.shape
    if target_class is None:
        return logits.argmax(dim=1).cpu().numpy()
    classes = np.broadcast_to(np.asarray(target_class, dtype=int), (n,)).copy()
    if classes.min() < 0 or classes.max() >= n_classes:
        raise ConfigError(
            f"target_class={target_class!r} is outside the head's classes 0..{n_classes - 1}; "
            "pass a class code, or None to explain the predicted class"
        )
    return classes


def _channel_weights(acts: torch.Tensor, grads: torch.Tensor, method: str) -> torch.Tensor:
    if method == "gradcam":
        return grads.mean(dim=(2, 3))
    g2, g3 = grads.pow(2), grads.pow(3)
    total = acts.sum(dim=(2, 3), keepdim=True)
    alpha = g2 / (2 * g2 + total * g3 + 1e-7)
    alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
    return (alpha * functional.relu(grads)).sum(dim=(2, 3))


def grad_cam(
    backbone: nn.Module,
    head: nn.Module | BaseEstimator,
    images: torch.Tensor,
    *,
    target_class: int | Sequence[int] | None = None,
    layer: str | None = None,
    method: str = "gradcam",
) -> tuple[np.ndarray, np.ndarray]:
    """Class-activation heat maps of prepared images.

    Parameters
    ----------
    backbone : Module
        Maps images (B, C, H, W) to features; a :class:`Backbone`'s layers are looked up
        in its timm ``model``.
    head : nn.Module or fitted linear sklearn classifier
        Maps features to class scores.
    images : Tensor (B, C, H, W)
        Normalised as the backbone expects.
    target_class : int, sequence of int or None
        Class explained per image; None explains the predicted class.
    layer : str or None
        Module name of the feature map; None picks the last convolution.
    method : {"gradcam", "gradcam++"}

    Returns
    -------
    heatmaps : ndarray of float32, shape (B, H, W)
        Non-negative, scaled so that each map's maximum is 1 (all zeros if no evidence).
    classes : ndarray of int
        The class each map explains.
    """
    if method not in METHODS:
        raise ConfigError(f"method={method!r}; expected one of {', '.join(METHODS)}")
    network = getattr(backbone, "model", backbone)
    module = _find_layer(network, layer or default_layer(network))
    device = next(backbone.parameters()).device
    acts, grads, classes = _activations_and_grads(
        backbone, _as_head(head).to(device), images.to(device).clone(), module, target_class
    )
    weights = _channel_weights(acts, grads, method)
    cam = functional.relu((weights[:, :, None, None] * acts).sum(dim=1, keepdim=True))
    size = images.shape[-2:]
    cam = functional.interpolate(cam, size=size, mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-12)[:, None, None]
    return (cam / peak).cpu().numpy().astype(np.float32), classes


def explain_images(
    model, domain: Domain, *, target_class: int | Sequence[int] | None = None,
    layer: str | None = None, method: str = "gradcam",
) -> tuple[np.ndarray, np.ndarray]:
    """Heat maps of every image of ``domain`` for a fitted FineTuner (see :func:`grad_cam`)."""
    images = image_tensor(domain, model.backbone_.config, model.image_size)
    return grad_cam(
        model.backbone_, model.head_, images, target_class=target_class, layer=layer,
        method=method,
    )


def save_overlay(
    image: np.ndarray, heatmap: np.ndarray, path: str | Path, *, alpha: float = 0.45
) -> Path:
    """Write a PNG of ``image`` with the heat map blended on top (jet colour map).

    Parameters
    ----------
    image : ndarray of uint8, (H, W) or (H, W, 3)
    heatmap : ndarray (h, w) in [0, 1]
        Resized to the image's size.
    path : str or Path
        Output ``.png`` file.
    alpha : float
        Opacity of the heat map.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"overlay file {str(path)!r} must end in .png")
    base = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    level = Image.fromarray(np.clip(heatmap * 255, 0, 255).astype(np.uint8))
    level = np.asarray(level.resize(base.size, Image.Resampling.BILINEAR)) / 255.0
    colour = (matplotlib.colormaps["jet"](level)[..., :3] * 255).astype(np.uint8)
    blended = Image.blend(base, Image.fromarray(colour), alpha)
    path.parent.mkdir(parents=True, exist_ok=True)
    blended.save(path)
    return path
