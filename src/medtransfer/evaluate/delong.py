"""DeLong's AUROC variance, confidence interval and paired test.

Uses the O(n log n) midrank algorithm of Sun & Xu (IEEE Signal Processing Letters 21:1389,
2014) for the structural components of DeLong, DeLong & Clarke-Pearson (Biometrics 44:837,
1988).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

from medtransfer.errors import DataError


def check_binary_scores(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """Labels as 0/1 (n,) and scores as (n_models, n), with both classes present."""
    y = np.asarray(y_true)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != y.shape[0]:
        raise DataError(f"{s.shape[1]} scores for {y.shape[0]} labels; pass one score per case")
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise DataError(
            f"DeLong needs binary labels 0/1, got values {np.unique(y)[:5].tolist()}; "
            "code the positive class as 1"
        )
    if y.sum() < 2 or (y == 0).sum() < 2:
        raise DataError(
            f"DeLong needs at least two cases of each class; got {int(y.sum())} positive and "
            f"{int((y == 0).sum())} negative; evaluate on more cases"
        )
    if not np.all(np.isfinite(s)):
        raise DataError("scores hold NaN or infinite values; check the model output")
    return y.astype(int), s


def structural_components(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUROCs and DeLong's structural components of one or several models on the same cases.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n,)
        Binary labels.
    scores : array-like, shape (n,) or (n_models, n)
        Scores, higher meaning more likely positive.

    Returns
    -------
    auc : ndarray, shape (n_models,)
    v10 : ndarray, shape (n_models, n_positive)
        For each positive case, the share of negatives it outranks (ties count half).
    v01 : ndarray, shape (n_models, n_negative)
        For each negative case, the share of positives that outrank it.
    """
    y, s = check_binary_scores(y_true, scores)
    pos, neg = s[:, y == 1], s[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    rank_all = rankdata(np.hstack([pos, neg]), axis=1)
    rank_pos = rankdata(pos, axis=1)
    rank_neg = rankdata(neg, axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m
    auc = v10.mean(axis=1)
    return auc, v10, v01


def delong_covariance(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs and their DeLong covariance matrix, shape (n_models, n_models)."""
    auc, v10, v01 = structural_components(y_true, scores)
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return auc, s10 / v10.shape[1] + s01 / v01.shape[1]


def delong_ci(y_true, score, level: float = 0.95) -> dict[str, float]:
    """AUROC with its DeLong standard error and normal-approximation interval.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        Binary labels.
    score : array-like, shape (n,)
        Scores of one model.
    level : float, default 0.95
        Coverage of the interval.

    Returns
    -------
    dict
        ``auroc``, ``variance``, ``se``, ``low``, ``high`` (clipped to [0, 1]).
    """
    auc, cov = delong_covariance(y_true, np.asarray(score, dtype=float)[None, :])
    se = float(np.sqrt(cov[0, 0]))
    z = norm.ppf(0.5 + level / 2)
    return {
        "auroc": float(auc[0]),
        "variance": float(cov[0, 0]),
        "se": se,
        "low": max(0.0, float(auc[0]) - z * se),
        "high": min(1.0, float(auc[0]) + z * se),
    }


def delong_test(y_true, score_a, score_b) -> dict[str, float]:
    """Paired DeLong test that two models' AUROCs on the same cases are equal.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        Binary labels.
    score_a, score_b : array-like, shape (n,)
        Scores of the two models on the same cases.

    Returns
    -------
    dict
        ``auroc_a``, ``auroc_b``, ``difference`` (a - b), ``se``, ``z`` and two-sided
        ``p_value``.
    """
    auc, cov = delong_covariance(y_true, np.vstack([score_a, score_b]))
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(auc[0] - auc[1])
    se = float(np.sqrt(max(var, 0.0)))
    # se = 0: no sampling variability in the difference (e.g. both models separate perfectly)
    z = diff / se if se > 0 else (0.0 if diff == 0.0 else float(np.sign(diff) * np.inf))
    p = float(2 * norm.sf(abs(z)))
    return {
        "auroc_a": float(auc[0]),
        "auroc_b": float(auc[1]),
        "difference": diff,
        "se": se,
        "z": float(z),
        "p_value": p,
    }
