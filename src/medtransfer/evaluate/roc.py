"""ROC curves with pointwise bootstrap confidence bands."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from medtransfer.errors import DataError
from medtransfer.evaluate.bootstrap import bootstrap_indices


def roc_on_grid(y: np.ndarray, score: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """True-positive rate at each false-positive rate of ``grid`` (step interpolation)."""
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    # the ROC is a step function: take the highest TPR reached at or before each FPR
    return tpr[np.searchsorted(fpr, grid, side="right") - 1]


def roc_band(
    y_true,
    score,
    *,
    n_resamples: int = 200,
    random_state: int | None = 0,
    n_points: int = 101,
    level: float = 0.95,
) -> dict[str, np.ndarray]:
    """ROC curve with a pointwise percentile bootstrap band (stratified resampling).

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n,)
        Binary labels; both classes must be present.
    score : array-like, shape (n,)
        Positive-class scores.
    n_resamples : int, default 200
        Bootstrap resamples.
    random_state : int or None, default 0
        Seed of the resampling.
    n_points : int, default 101
        Number of false-positive rates on the common grid.
    level : float, default 0.95
        Coverage of the band.

    Returns
    -------
    dict
        ``fpr`` (grid), ``tpr`` (the observed curve on the grid), ``low``, ``high``.
    """
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    if set(np.unique(y).tolist()) != {0, 1} or s.shape != y.shape:
        raise DataError(
            f"an ROC curve needs labels of both classes 0 and 1 and one score per case; got "
            f"labels {np.unique(y)[:5].tolist()} and {s.shape[0]} scores for {y.shape[0]} cases"
        )
    grid = np.linspace(0.0, 1.0, n_points)
    curves = np.array([
        roc_on_grid(y[idx], s[idx], grid)
        for idx in bootstrap_indices(y, n_resamples=n_resamples, random_state=random_state)
    ])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(curves, [tail, 100 - tail], axis=0)
    return {"fpr": grid, "tpr": roc_on_grid(y, s, grid), "low": low, "high": high}
