"""Transfer losses on features and predictions: MMD, CORAL, entropy, MCC, L2-SP.

Each is a plain function of tensors, differentiable, returning a scalar. The adversarial
losses (DANN, CDAN), which need a discriminator, live in :mod:`medtransfer.finetune.adversarial`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional

from medtransfer.errors import ConfigError

DEFAULT_BANDWIDTH_FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0)


def multi_kernel_mmd(
    source: torch.Tensor,
    target: torch.Tensor,
    bandwidth_factors: Sequence[float] = DEFAULT_BANDWIDTH_FACTORS,
) -> torch.Tensor:
    """Squared maximum mean discrepancy with a sum of Gaussian kernels (MK-MMD).

    The kernel bandwidths are the factors times the mean squared distance between all
    pooled samples (Long et al., DAN, 2015), so the loss adapts to the feature scale.

    Parameters
    ----------
    source, target : Tensor of shape (n, d) and (m, d)
        Features of the two domains.
    bandwidth_factors : sequence of float
        Multipliers of the mean squared distance, one Gaussian kernel each.

    Returns
    -------
    Tensor
        Scalar biased MMD² estimate: 0 for identical batches, growing with the shift.
    """
    _check_pair(source, target, "multi_kernel_mmd")
    pooled = torch.cat([source, target]).float()
    squared = torch.cdist(pooled, pooled).pow(2)
    scale = squared.detach().mean().clamp_min(1e-12)
    kernel = sum(torch.exp(-squared / (scale * f)) for f in bandwidth_factors)
    n = len(source)
    k_ss, k_tt, k_st = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return k_ss.mean() + k_tt.mean() - 2 * k_st.mean()


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL: squared Frobenius distance of the feature covariances / (4 d²).

    Parameters
    ----------
    source, target : Tensor of shape (n, d) and (m, d), n and m at least 2

    Returns
    -------
    Tensor
        Scalar; 0 when both batches have the same covariance (Sun & Saenko, 2016).
    """
    _check_pair(source, target, "coral_loss")
    if len(source) < 2 or len(target) < 2:
        raise ConfigError(
            f"coral_loss needs at least 2 samples per domain in a batch, got {len(source)} "
            f"source and {len(target)} target; raise batch_size"
        )
    d = source.shape[1]
    gap = torch.cov(source.float().T) - torch.cov(target.float().T)
    return gap.pow(2).sum() / (4 * d * d)


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy (nats) of the softmax predictions.

    Returns log C for uniform predictions over C classes and 0 for one-hot ones; minimising
    it pushes target predictions away from the decision boundary.
    """
    log_p = functional.log_softmax(logits.float(), dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


def diversity_loss(logits: torch.Tensor) -> torch.Tensor:
    """Negative entropy of the batch-mean prediction (SHOT's diversity term).

    Minimising it spreads predictions over the classes; it is -log C when the mean
    prediction is uniform.
    """
    mean_p = functional.softmax(logits.float(), dim=1).mean(dim=0)
    return (mean_p * torch.log(mean_p + 1e-8)).sum()


def mcc_loss(logits: torch.Tensor, temperature: float = 2.5) -> torch.Tensor:
    """Minimum class confusion (Jin et al., ECCV 2020) on unlabelled target predictions.

    Parameters
    ----------
    logits : Tensor of shape (n, C)
    temperature : float
        Softmax temperature (2.5 in the paper).

    Returns
    -------
    Tensor
        Scalar in [0, 1]: the between-class share of the certainty-weighted, column
        normalised class-correlation matrix, averaged over classes.
    """
    n, n_classes = logits.shape
    probs = functional.softmax(logits.float() / temperature, dim=1)
    entropy = -(probs * torch.log(probs + 1e-8)).sum(dim=1).detach()
    weight = 1 + torch.exp(-entropy)
    weight = (n * weight / weight.sum()).unsqueeze(1)
    confusion = (probs * weight).T @ probs
    confusion = confusion / confusion.sum(dim=1, keepdim=True)
    return (confusion.sum() - confusion.trace()) / n_classes


def dann_schedule(progress: float, gamma: float = 10.0) -> float:
    """The DANN weight ramp 2 / (1 + exp(-gamma·p)) - 1 for training progress p in [0, 1].

    It is 0 at the start, so the noisy early discriminator does not disturb the features.
    """
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


class L2SP(nn.Module):
    """L2-SP: squared distance of parameters to their starting (pretrained) values.

    Parameters
    ----------
    parameters : iterable of Parameter
        The parameters to regularise (the backbone's); their current values are the
        reference, so the loss is 0 right after construction.
    """

    def __init__(self, parameters: Iterable[nn.Parameter]) -> None:
        super().__init__()
        # A plain list, not a ParameterList: the backbone owns these; we only read them.
        self._params = list(parameters)
        self._reference = [p.detach().clone() for p in self._params]

    def forward(self) -> torch.Tensor:
        """Sum over parameters of ||w - w0||²."""
        total = torch.zeros((), device=self._reference[0].device if self._reference else None)
        for param, start in zip(self._params, self._reference, strict=True):
            total = total + (param.float() - start.float()).pow(2).sum()
        return total


def _check_pair(source: torch.Tensor, target: torch.Tensor, where: str) -> None:
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ConfigError(
            f"{where} expects two (n, d) feature matrices with the same d, got shapes "
            f"{tuple(source.shape)} and {tuple(target.shape)}; flatten or pool the features"
        )
    if len(source) == 0 or len(target) == 0:
        raise ConfigError(
            f"{where} needs samples from both domains, got {len(source)} source and "
            f"{len(target)} target rows; pass unlabelled target images"
        )
