"""Clinical classification metrics on predicted probabilities.

The metrics are computed with vectorised numpy (rank-based AUROC, step-wise average precision,
confusion counts) rather than ``sklearn.metrics`` because the bootstrap calls them thousands of
times and scikit-learn's per-call input validation would dominate; the tests check every value
against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from medtransfer.errors import ConfigError, DataError

BINARY_METRICS = (
    "auroc", "auprc", "accuracy", "balanced_accuracy", "sensitivity", "specificity",
    "ppv", "npv", "f1", "brier",
)
MULTICLASS_METRICS = ("auroc", "accuracy", "balanced_accuracy", "f1", "brier")


def check_predictions(
    y_true, proba, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and probabilities; return int codes (n,) and probabilities (n, K).

    A binary ``proba`` may be given as the positive-class column only (shape (n,)).
    """
    k = len(class_names)
    if k < 2:
        raise ConfigError(f"class_names={list(class_names)!r}: need at least two classes")
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1 and k == 2:
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[1] != k or p.shape[0] != y.shape[0]:
        raise DataError(
            f"probabilities have shape {p.shape} but {y.shape[0]} labels and {k} classes "
            f"{list(class_names)!r}; pass one column per class, in class_names order"
        )
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise DataError("probabilities must be finite and within [0, 1]; check the model output")
    if y.dtype.kind not in "iu" or y.min(initial=0) < 0 or y.max(initial=0) >= k:
        raise DataError(
            f"labels must be integer codes 0..{k - 1} into class_names {list(class_names)!r}; "
            f"got values {np.unique(y)[:5].tolist()}; drop unlabelled (-1) rows first"
        )
    return y.astype(int), p


def binary_auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with midranks); NaN if one class is absent."""
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve as step-wise average precision (sklearn's)."""
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-score, kind="mergesort")
    s, yy = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), yy.size - 1]  # last index of each tied score
    tps = np.cumsum(yy)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def ratio(num: float, den: float) -> float:
    """num / den, or NaN when the denominator is zero (metric undefined on this sample)."""
    return float(num / den) if den > 0 else float("nan")


def binary_metrics(y: np.ndarray, p_pos: np.ndarray, threshold: float) -> dict[str, float]:
    """All binary metrics for positive-class probabilities ``p_pos`` at ``threshold``."""
    pred = p_pos >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    tn = float(np.sum(~pred & (y == 0)))
    sens, spec = ratio(tp, tp + fn), ratio(tn, tn + fp)
    recalls = [r for r in (sens, spec) if not np.isnan(r)]
    return {
        "auroc": binary_auroc(y, p_pos),
        "auprc": average_precision(y, p_pos),
        "accuracy": (tp + tn) / y.size,
        "balanced_accuracy": float(np.mean(recalls)),
        "sensitivity": sens,
        "specificity": spec,
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "brier": float(np.mean((p_pos - y) ** 2)),
    }


def multiclass_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Macro one-vs-rest AUROC, accuracy, balanced accuracy, macro F1 and multi-class Brier."""
    k = p.shape[1]
    pred = p.argmax(axis=1)
    present = np.unique(y)
    aurocs = [binary_auroc((y == c).astype(int), p[:, c]) for c in range(k)]
    recalls = [np.mean(pred[y == c] == c) for c in present]
    f1s = []
    for c in np.union1d(present, pred):
        tp = np.sum((pred == c) & (y == c))
        f1s.append(ratio(2 * tp, np.sum(pred == c) + np.sum(y == c)))
    return {
        "auroc": float(np.mean(aurocs)) if present.size == k else float("nan"),
        "accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": float(np.mean(recalls)),
        "f1": float(np.mean(f1s)),
        "brier": float(np.mean(np.sum((p - np.eye(k)[y]) ** 2, axis=1))),
    }


def classification_metrics(
    y_true,
    proba,
    *,
    class_names: Sequence[str],
    threshold: float | None = None,
    positive: int = 1,
) -> dict[str, float]:
    """Clinical metrics of predicted class probabilities.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True labels as integer codes into ``class_names``.
    proba : array-like, shape (n, K) or (n,)
        Predicted probabilities, one column per class (binary: the positive column alone is
        accepted).
    class_names : sequence of str
        The K class names.
    threshold : float, optional
        Binary only: a sample is called positive when its positive-class probability is
        ``>= threshold`` (default 0.5). Choose it on labelled target data with
        :func:`threshold_for_sensitivity`, never on the test cases.
    positive : int, default 1
        Binary only: index of the positive class in ``class_names``.

    Returns
    -------
    dict of str to float
        Binary: auroc, auprc, accuracy, balanced_accuracy, sensitivity, specificity, ppv,
        npv, f1, brier. Multi-class: auroc (macro one-vs-rest), accuracy, balanced_accuracy,
        f1 (macro), brier (summed over classes). A metric undefined on these cases (e.g.
        AUROC with one class present) is NaN.
    """
    y, p = check_predictions(y_true, proba, class_names)
    if len(class_names) == 2:
        pos = check_positive(positive, class_names)
        return binary_metrics((y == pos).astype(int), p[:, pos], check_threshold(threshold))
    if threshold is not None:
        raise ConfigError(
            f"threshold={threshold} applies to binary tasks only; {len(class_names)} classes "
            "are predicted by the largest probability; leave threshold unset"
        )
    return multiclass_metrics(y, p)


def check_positive(positive: int, class_names: Sequence[str]) -> int:
    """Validate the index of the positive class."""
    if positive not in range(len(class_names)):
        raise ConfigError(
            f"positive={positive!r} is not a class index for {list(class_names)!r}; "
            f"use 0..{len(class_names) - 1}"
        )
    return int(positive)


def check_threshold(threshold: float | None) -> float:
    """Default the decision threshold to 0.5 and check it is a probability."""
    if threshold is None:
        return 0.5
    if not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(f"threshold={threshold} is not a probability; use a value in [0, 1]")
    return float(threshold)


def threshold_for_sensitivity(y_true, proba, target: float = 0.90, *, positive: int = 1) -> float:
    """Highest threshold whose sensitivity on these labelled cases is at least ``target``.

    Use it on the labelled target samples only (never on test cases); the returned value is
    then passed as ``threshold`` to :func:`classification_metrics`.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        Binary labels (codes 0/1).
    proba : array-like, shape (n, 2) or (n,)
        Predicted probabilities (or the positive-class column).
    target : float, default 0.90
        Required sensitivity, in (0, 1].
    positive : int, default 1
        Index of the positive class.

    Returns
    -------
    float
        The operating threshold.
    """
    if not 0.0 < target <= 1.0:
        raise ConfigError(f"target sensitivity {target} must be in (0, 1], e.g. 0.90")
    y, p = check_predictions(y_true, proba, ("negative", "positive"))
    pos = check_positive(positive, ("negative", "positive"))
    scores = np.sort(p[y == pos, pos])[::-1]
    if scores.size == 0:
        raise DataError(
            "the labelled cases hold no positive sample, so no threshold reaches a sensitivity; "
            "label at least one positive target case"
        )
    # the k-th highest positive score keeps k positives at or above the threshold
    k = int(np.ceil(target * scores.size - 1e-9))
    return float(scores[max(k, 1) - 1])
