"""Honest validation of transfer methods on the k labelled target samples.

Each candidate is fitted, fold after fold, on the source, the unlabelled target and the
training part of the k labelled target samples, and scored on the held-out part of the k
(AUROC, macro one-vs-rest for several classes, or the negative class-balanced Brier score;
negative MAE for regression). Every candidate sees the same folds, so scores are paired and
differences between methods can be tested.

Why a Brier score: AUROC rates only the ranking of the cases, not where the model puts its
decision. A model trained mostly on the source keeps the source's class boundary; on a shifted
target its ranking can stay good while most of a class falls on the wrong side (PneumoniaMNIST
under acquisition shift: ``all_labelled`` at AUROC 0.87 but balanced accuracy 0.72). The
Brier score is a proper scoring rule that sees both, and, unlike the log-loss, is bounded, so
one confidently wrong case among ten cannot decide a comparison; balanced over classes, the
target's rare classes count as much as its common ones.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import mean_absolute_error, roc_auc_score
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from medtransfer.adapt.fold_invariant import AdaptationCache
from medtransfer.data.sample_domain import domain_masks
from medtransfer.errors import DataError
from medtransfer.evaluate.resampling import bootstrap_resamples, paired_difference

Fold = tuple[np.ndarray, np.ndarray]
MIN_PER_CLASS = 2
# Two classes with at least this many labels each are compared even below min_class_size.
MIN_BINARY_CLASS = 3
# The validation metric of classification: macro AUROC, or negative class-balanced Brier score.
SCORINGS = ("auroc", "brier")


def masked_label(task: str) -> float:
    """The value that marks an unlabelled row under skada's convention."""
    return np.nan if task == "regression" else -1


def target_folds(
    y: np.ndarray,
    *,
    sample_domain: np.ndarray,
    task: str,
    groups: np.ndarray | None = None,
    n_splits: int = 5,
    n_repeats: int = 3,
    random_state: int | None = None,
    held_in: np.ndarray | None = None,
) -> list[Fold]:
    """Repeated (stratified, patient-grouped) folds over the labelled target rows only.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Stacked labels; unlabelled rows are ``-1`` (classification) or NaN (regression).
    sample_domain : ndarray of shape (n_samples,)
        Positive for source rows, negative for target rows.
    task : {"classification", "regression"}
        Decides stratification and the masking value.
    groups : ndarray of shape (n_samples,), optional
        Patient ids; when given, all rows of a patient fall in the same fold.
    n_splits, n_repeats : int
        Folds per repetition (reduced to what the smallest class allows) and repetitions.
    random_state : int or None
        Seed; repetition ``r`` shuffles with ``random_state + r``.
    held_in : ndarray of int, optional
        Labelled target rows that are in every training part and never held out (e.g. the
        one or two labelled samples of a rare class); their classes are not scored.

    Returns
    -------
    list of (train, test)
        Absolute row indices into ``y``; every index is a labelled target row.
    """
    source, target = domain_masks(y, sample_domain)
    y = np.asarray(y)
    held_in = np.asarray([] if held_in is None else held_in, dtype=int)
    rows = np.setdiff1d(np.flatnonzero(target), held_in)
    y_t = y[rows]
    g_t = None if groups is None else np.asarray(groups)[rows]
    classes = (np.setdiff1d(np.unique(y[source | target]), y[held_in])
               if task == "classification" else None)
    n_splits = _feasible_splits(y_t, classes, task, g_t, n_splits)
    folds: list[Fold] = []
    for r in range(n_repeats):
        seed = None if random_state is None else random_state + r
        splitter = _splitter(task, g_t is not None, n_splits, seed)
        for train, test in splitter.split(rows, y_t, g_t):
            folds.append((np.sort(np.r_[rows[train], held_in]), rows[test]))
    return folds


def rare_rows(
    y: np.ndarray, sample_domain: np.ndarray, task: str, min_class_size: int
) -> tuple[np.ndarray, str]:
    """Labelled target rows of classes too rare to score, and why no comparison can be
    trusted at all ("" when one can).

    A class with fewer than ``min_class_size`` labelled target samples is not scored: its
    rows stay labelled in every training fold (``held_in`` of :func:`target_folds`).
    Comparisons need two scored classes (and, for regression, ``2 * min_class_size``
    labelled samples). A class without any target label is an error, raised by
    :func:`target_folds`.
    """
    source, target = domain_masks(y, sample_domain)
    if task == "regression":
        k = int(target.sum())
        short = (f"only {k} labelled target samples, fewer than twice "
                 f"min_class_size={min_class_size}") if k < 2 * min_class_size else ""
        return np.array([], dtype=int), short
    counts = {c: int(np.sum(y[target] == c)) for c in np.unique(y[source | target])}
    rare = [c for c, n in counts.items() if 0 < n < min_class_size]
    scored = [c for c, n in counts.items() if n >= min_class_size]
    present = [c for c, n in counts.items() if n > 0]
    if rare and len(scored) < 2 and len(present) == 2 and min(counts.values()) >= MIN_BINARY_CLASS:
        # Two classes, each labelled at least three times (e.g. 6 and 4 of k = 10): score both; the
        # paired bootstrap within each class is wide at this size, which is the caution.
        return np.array([], dtype=int), ""
    if rare and len(scored) < 2:
        smallest = min(counts[c] for c in rare)
        return np.array([], dtype=int), (
            f"the smallest class has only {smallest} labelled target sample(s), fewer "
            f"than min_class_size={min_class_size}, and fewer than two classes "
            "have enough to score")
    return np.flatnonzero(target & np.isin(y, rare)), ""


def _splitter(task: str, grouped: bool, n_splits: int, seed: int | None):
    if task == "regression":
        cls = GroupKFold if grouped else KFold
    else:
        cls = StratifiedGroupKFold if grouped else StratifiedKFold
    return cls(n_splits=n_splits, shuffle=True, random_state=seed)


def _feasible_splits(y_t, classes, task, g_t, n_splits: int) -> int:
    """The number of folds the labelled target rows ``y_t`` (of ``classes``, for
    classification) allow; raise when they allow none."""
    limit = len(y_t) if g_t is None else len(np.unique(g_t))
    if task == "classification":
        counts = {c: int(np.sum(y_t == c)) for c in classes}
        _check_class_counts(counts)
        limit = min(limit, *counts.values())
    if limit < MIN_PER_CLASS:
        raise DataError(
            f"only {limit} labelled target sample(s) or patient(s): cross-validation needs at "
            f"least {MIN_PER_CLASS}; label more target samples or use --target-labels 0"
        )
    return min(n_splits, limit)


def _check_class_counts(counts: Mapping) -> None:
    short = {c: n for c, n in counts.items() if n < MIN_PER_CLASS}
    if short:
        detail = ", ".join(f"class {np.asarray(c).item()!r} has {n}" for c, n in short.items())
        raise DataError(
            f"the labelled target samples are too few per class to validate ({detail}; "
            f"need at least {MIN_PER_CLASS} of every class); label more target samples of "
            "those classes, or use --target-labels 0 for unsupervised selection"
        )


def score_predictions(
    y_true: np.ndarray, model: BaseEstimator, X, task: str, sample_weight=None
) -> float:
    """AUROC (macro one-vs-rest for several classes) or negative MAE of ``model`` on ``X``."""
    if task == "regression":
        return -float(mean_absolute_error(y_true, model.predict(X), sample_weight=sample_weight))
    proba = np.asarray(model.predict_proba(X))
    aligned = align_proba(proba, model, np.unique(y_true))
    return metric(np.asarray(y_true), aligned, task, sample_weight)


def metric(y_true: np.ndarray, pred: np.ndarray, task: str, sample_weight=None,
           scoring: str = "auroc") -> float:
    """The validation metric of predictions ``pred`` (probabilities, or values for regression).

    ``scoring`` (classification only, one of :data:`SCORINGS`): "auroc" (macro one-vs-rest
    for several classes) or "brier", the negative class-balanced Brier score
    (:func:`balanced_brier`; columns of ``pred`` in the order of ``np.unique(y_true)``).
    NaN when ``y_true`` holds a single class, where AUROC is undefined.
    """
    if task == "regression":
        return -float(mean_absolute_error(y_true, pred.ravel(), sample_weight=sample_weight))
    if scoring == "brier":
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        return float(balanced_brier(y_true, pred, np.arange(len(y_true))[None, :], weight)[0])
    if len(np.unique(y_true)) < 2:
        return float("nan")
    if pred.shape[1] == 2:
        positive = y_true == np.max(y_true)
        return float(roc_auc_score(positive, pred[:, 1], sample_weight=sample_weight))
    return float(roc_auc_score(y_true, pred, multi_class="ovr", sample_weight=sample_weight))


def align_proba(proba: np.ndarray, model: BaseEstimator, classes: np.ndarray) -> np.ndarray:
    """Probability columns of ``model`` reordered to ``classes`` (renormalised over them)."""
    known = list(np.asarray(getattr(model, "classes_", classes)))
    out = np.column_stack([proba[:, known.index(c)] if c in known else np.zeros(len(proba))
                           for c in classes])
    total = out.sum(axis=1, keepdims=True)
    # a row with all its mass on unscored classes gets no preference among the scored ones
    return np.divide(out, total, out=np.full_like(out, 1 / len(classes)), where=total > 0)


def out_of_fold(
    method: BaseEstimator, X, y, *, sample_domain, folds: list[Fold], task: str,
    on_fold: Callable[[], None] | None = None, cache: AdaptationCache | None = None,
) -> tuple[np.ndarray, str | None]:
    """Out-of-fold predictions on the labelled target rows, averaged over repetitions.

    Each fold fits a clone of ``method`` with the fold's test labels hidden (those rows stay
    in as unlabelled target rows) and predicts them; ``on_fold()`` is called after each fold
    (progress). With ``cache`` (bound to ``X``, ``y`` and ``sample_domain``), a method whose
    adaptation reads no target label adapts once for all folds, with the same predictions.

    Returns
    -------
    pred : ndarray of shape (k, n_classes) or (k, 1)
        Rows in the order of ``np.unique`` of the test indices; NaN if the method failed.
    error : str or None
        The first failure, if any.
    """
    X, y = np.asarray(X), np.asarray(y)
    rows = np.unique(np.concatenate([test for _, test in folds]))
    classes = None if task == "regression" else np.unique(y[rows])
    total = np.zeros((len(rows), 1 if classes is None else len(classes)))
    count = np.zeros(len(rows))
    for fold in folds:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = _fold_predictions(method, X, y, sample_domain, fold, task, classes,
                                         cache)
        except Exception as err:  # a candidate that breaks must not stop the selection
            return np.full_like(total, np.nan), f"{type(err).__name__}: {err}"
        where = np.searchsorted(rows, fold[1])
        total[where] += pred
        count[where] += 1
        if on_fold is not None:
            on_fold()
    return total / count[:, None], None


def _fold_predictions(method, X, y, sample_domain, fold: Fold, task, classes,
                      cache: AdaptationCache | None = None) -> np.ndarray:
    _, test = fold  # every row outside ``test`` keeps its label
    y_fit = np.array(y, dtype=float if task == "regression" else None, copy=True)
    y_fit[test] = masked_label(task)
    model = clone(method)
    if cache is None:
        model.fit(X, y_fit, sample_domain=sample_domain)
    else:
        model = cache.fit(model, X, y_fit, sample_domain=sample_domain)
    if task == "regression":
        return np.asarray(model.predict(X[test]), dtype=float).reshape(-1, 1)
    return align_proba(np.asarray(model.predict_proba(X[test])), model, classes)


def balanced_brier(
    y_true: np.ndarray, proba: np.ndarray, idx: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """Negative class-balanced Brier score of every resample (row) of the index matrix ``idx``.

    Each case's Brier score is the squared distance of its probability row to its one-hot
    label (columns in the order of ``np.unique(y_true)``); the class means (weighted by
    ``weight`` when given) are averaged over the classes present in the resample. 0 is
    perfect, -2 the worst possible.
    """
    y_true = np.asarray(y_true)
    classes = np.unique(y_true)
    onehot = (y_true[:, None] == classes[None, :]).astype(float)
    loss = np.sum((np.asarray(proba, dtype=float) - onehot) ** 2, axis=1)
    w = np.ones(len(y_true)) if weight is None else weight
    per_class = []
    for c in classes:
        mass = (w * (y_true == c))[idx]
        total = mass.sum(axis=1)
        per_class.append(np.divide((mass * loss[idx]).sum(axis=1), total,
                                   out=np.full(len(idx), np.nan), where=total > 0))
    return -np.nanmean(np.vstack(per_class), axis=0)


def validate_methods(
    methods: Mapping[str, BaseEstimator], X, y, *, sample_domain, folds: list[Fold], task: str,
    on_fold: Callable[[], None] | None = None, cache: AdaptationCache | None = None,
    scoring: str = "auroc",
) -> dict[str, dict]:
    """Out-of-fold predictions of every method on the same folds, with score, time and error.

    ``on_fold()`` is called after each fold of each method (progress); ``cache``: see
    :func:`out_of_fold`; ``scoring``: see :func:`metric`.
    """
    rows = np.unique(np.concatenate([test for _, test in folds]))
    y_k = np.asarray(y)[rows]
    results = {}
    for name, method in methods.items():
        start = time.perf_counter()
        pred, error = out_of_fold(method, X, y, sample_domain=sample_domain, folds=folds,
                                  task=task, on_fold=on_fold, cache=cache)
        score = float("nan") if error else metric(y_k, pred, task, scoring=scoring)
        results[name] = {"score": score, "oof": pred, "time_s": time.perf_counter() - start,
                         "error": error}
    return results


def paired_bootstrap(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    task: str,
    confidence: float = 0.95,
    n_boot: int = 2000,
    random_state: int | None = None,
    groups=None,
    scoring: str = "auroc",
) -> dict[str, float]:
    """Difference of the metric (``scoring``, see :func:`metric`) of ``pred_a`` minus
    ``pred_b`` on the same samples.

    Samples are resampled with replacement within each class (all samples for regression),
    the same resamples for both methods, so the interval reflects how few the k samples are.
    With ``groups`` (patient ids of the samples) whole patients are resampled instead.

    Returns
    -------
    dict
        ``mean`` (difference on all samples), one-sided ``lower`` bound at ``confidence``,
        ``p_value`` (share of resamples where a is not better) and ``n`` (samples).
    """
    strata = len(y_true) if task == "regression" else y_true
    resamples = bootstrap_resamples(strata, groups=groups, n_resamples=n_boot,
                                    random_state=random_state, stratum_major=True)
    diff = paired_difference(
        resamples, lambda idx, pred: _batch_metric(y_true, pred, idx, task, scoring),
        pred_a, pred_b)
    return {
        "mean": (metric(y_true, pred_a, task, scoring=scoring)
                 - metric(y_true, pred_b, task, scoring=scoring)),
        "lower": float(np.quantile(diff, 1 - confidence)),
        "p_value": float(np.mean(diff <= 0)),
        "n": len(y_true),
    }


def _batch_metric(y_true, pred, idx, task, scoring: str = "auroc") -> np.ndarray:
    """The metric on every resample at once (Mann-Whitney form of the AUROC)."""
    if task == "regression":
        return -np.mean(np.abs(y_true[idx] - pred[idx, 0]), axis=1)
    if scoring == "brier":
        return balanced_brier(y_true, pred, idx)
    classes = np.unique(y_true)
    columns = [1] if len(classes) == 2 else range(len(classes))
    return np.mean([_batch_auroc(y_true[idx] == classes[c], pred[idx, c]) for c in columns],
                   axis=0)


def _batch_auroc(positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    ranks = stats.rankdata(scores, axis=1)
    n_pos = positive.sum(axis=1)
    n_neg = positive.shape[1] - n_pos
    return (np.sum(ranks * positive, axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
