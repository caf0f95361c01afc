"""Domain-adversarial losses: gradient reversal, DANN and conditional CDAN.

A discriminator learns to tell source from target features; the gradient-reversal layer
hands the feature extractor the negated gradient, so the features become indistinguishable
(Ganin et al., JMLR 2016; Long et al., CDAN, NeurIPS 2018).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coeff * grad, None


def reverse_gradient(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity in the forward pass; multiplies the gradient by ``-coeff`` going back."""
    return _ReverseGradient.apply(x, float(coeff))


class GradientReversal(nn.Module):
    """Gradient-reversal layer with a settable coefficient λ (``layer.coeff = ...``)."""

    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        self.coeff = coeff

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x``; its gradient comes back multiplied by ``-coeff``."""
        return reverse_gradient(x, self.coeff)


class DomainDiscriminator(nn.Sequential):
    """Two-hidden-layer MLP giving one logit per sample: source (1) or target (0)."""

    def __init__(self, in_features: int, hidden: int = 256) -> None:
        super().__init__(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )


def _domain_bce(
    discriminator: nn.Module, source: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    logits = discriminator(torch.cat([source, target]).float()).squeeze(1)
    truth = torch.cat([torch.ones(len(source)), torch.zeros(len(target))]).to(logits.device)
    return functional.binary_cross_entropy_with_logits(logits, truth)


class DANNLoss(nn.Module):
    """Domain-adversarial loss: discriminator BCE on gradient-reversed features.

    Parameters
    ----------
    feature_dim : int
        Length of the feature vectors.
    hidden : int
        Width of the discriminator.
    """

    def __init__(self, feature_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.reversal = GradientReversal()
        self.discriminator = DomainDiscriminator(feature_dim, hidden)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of the discriminator (ln 2 when it is at chance)."""
        return _domain_bce(self.discriminator, self.reversal(source), self.reversal(target))


def multilinear_map(features: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Flattened outer product of class probabilities and features, shape (n, C·d)."""
    return torch.bmm(probs.unsqueeze(2), features.unsqueeze(1)).flatten(1)


class CDANLoss(nn.Module):
    """Conditional adversarial loss: the discriminator sees features ⊗ predictions.

    Conditioning on the (detached) class predictions aligns the class-conditional
    distributions rather than only the marginals.

    Parameters
    ----------
    feature_dim, n_classes : int
    hidden : int
        Width of the discriminator.
    """

    def __init__(self, feature_dim: int, n_classes: int, hidden: int = 256) -> None:
        super().__init__()
        self.reversal = GradientReversal()
        self.discriminator = DomainDiscriminator(feature_dim * n_classes, hidden)

    def forward(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        source_logits: torch.Tensor,
        target_logits: torch.Tensor,
    ) -> torch.Tensor:
        """Binary cross-entropy of the discriminator on the multilinear map."""
        maps = [
            multilinear_map(f.float(), functional.softmax(g.float(), dim=1).detach())
            for f, g in ((source, source_logits), (target, target_logits))
        ]
        return _domain_bce(self.discriminator, self.reversal(maps[0]), self.reversal(maps[1]))
