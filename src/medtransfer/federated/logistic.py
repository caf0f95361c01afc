"""The linear head trained across sites: local logistic steps and their weighted average.

FedAvg (McMahan et al. 2017): each site runs a few epochs of gradient descent from the
global weights on its own rows and returns the new weights and its row count; the
coordinator averages them weighted by rows. FedProx (Li et al. 2020) adds the proximal term
``mu / 2 * ||w - w_global||^2`` to each site's loss, which keeps the local steps of very
different sites close to the global model.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def local_update(
    weights: np.ndarray, X: np.ndarray, y: np.ndarray, *, epochs: int = 20,
    learning_rate: float = 0.5, proximal_mu: float = 0.0, l2: float = 1e-3,
) -> np.ndarray:
    """Full-batch gradient steps of L2-penalised logistic loss (+ proximal term).

    ``weights`` is ``[coef..., intercept]``; ``y`` holds 0/1.
    """
    w = np.asarray(weights, dtype=float).copy()
    anchor = w.copy()
    Xb = np.hstack([X, np.ones((len(X), 1))])
    for _ in range(epochs):
        residual = expit(Xb @ w) - y
        grad = Xb.T @ residual / len(X) + l2 * np.r_[w[:-1], 0.0] + proximal_mu * (w - anchor)
        w -= learning_rate * grad
    return w


def weighted_average(updates: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """FedAvg aggregation: the row-weighted mean of the sites' weights."""
    total = sum(n for _, n in updates)
    return sum(w * (n / total) for w, n in updates)
