"""Which parts of a backbone are trained: all of it, or its last N blocks."""

from __future__ import annotations

from torch import nn

from medtransfer.errors import ConfigError
from medtransfer.params import AnyOf, Interval, Options, check_value

ALL = "all"
UNFREEZE = AnyOf(Options(ALL), Interval(int, 1, None),
                 hint="the number of last blocks to train (epochs=0 trains the head only)")


def _stages(model: nn.Module) -> list[nn.Module]:
    """The model's trainable stages in order, classifier excluded.

    timm models with a ``blocks`` sequence (EfficientNet, MobileNet, ViT) give one stage per
    block, the layers after the blocks (conv_head, norm) joining the last one; other models
    give one stage per top-level child.
    """
    classifier = model.get_classifier() if hasattr(model, "get_classifier") else None
    children = [m for m in model.children() if m is not classifier]
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Sequential) or blocks not in children:
        return [m for m in children if any(True for _ in m.parameters())]
    after = children[children.index(blocks) + 1 :]
    stages: list[nn.Module] = list(blocks)
    stages[-1] = nn.ModuleList([stages[-1], *after])
    return stages


def select_trainable(backbone: nn.Module, unfreeze: int | str, name: str) -> list[nn.Module]:
    """Freeze the backbone except its last ``unfreeze`` stages (or all); return those trained.

    Raises
    ------
    ConfigError
        If ``unfreeze`` is neither "all" nor a positive integer, or nothing trainable is left.
    """
    check_value("select_trainable", "unfreeze", unfreeze, UNFREEZE)
    model = getattr(backbone, "model", backbone)
    parts = [model] if unfreeze == ALL else _stages(model)[-unfreeze:]
    for param in backbone.parameters():
        param.requires_grad_(False)
    for part in parts:
        for param in part.parameters():
            param.requires_grad_(True)
    if not any(p.requires_grad for p in backbone.parameters()):
        raise ConfigError(
            f"backbone {name!r} has no trainable parameters (unfreeze={unfreeze!r}), so it "
            "cannot be fine-tuned; use a backbone with weights, or frozen features with "
            "extract_features"
        )
    return parts


def set_train_mode(backbone: nn.Module, parts: list[nn.Module]) -> None:
    """Train mode for the trained parts only, so frozen batch-norm statistics stay frozen."""
    backbone.eval()
    for part in parts:
        part.train()
