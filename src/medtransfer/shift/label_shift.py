"""Label-prior shift: has the share of each class changed between source and target?

Black-box shift estimation (BBSE; Lipton, Wang & Smola, ICML 2018): under label shift
(p(x | y) fixed, p(y) changed) a source classifier's predictions on the target satisfy
``mu_t = C w`` where ``C[i, j] = P_source(yhat = i, y = j)`` is its held-out joint confusion
matrix and ``w = p_t(y) / p_s(y)``; solving for ``w`` gives the target prevalence without
any target label.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.data.sample_domain import target_type
from medtransfer.errors import DataError
from medtransfer.shift.two_sample import check_pair


def check_class_labels(y, n: int, where: str) -> np.ndarray:
    """Integer class codes, one per row, or a DataError naming ``where``."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise DataError(f"{where}: {y.shape[0] if y.ndim else 0} labels for {n} rows; "
                        "pass exactly one label per row")
    if target_type(y) == "regression":
        raise DataError(f"{where}: labels are continuous; label-shift estimation needs class "
                        "codes (0, 1, ...); it does not apply to regression targets")
    return y.astype(int)


def bbse_weights(confusion: np.ndarray, target_predictions: np.ndarray) -> np.ndarray:
    """Solve ``C w = mu_t`` for the class importance weights ``w = p_t(y) / p_s(y)``.

    Parameters
    ----------
    confusion : ndarray of shape (k, k)
        Joint held-out confusion matrix on the source, ``C[i, j] = P(yhat = i, y = j)``.
    target_predictions : ndarray of shape (k,)
        Share of target rows predicted as each class.

    Returns
    -------
    ndarray of shape (k,)
        Non-negative weights (least-squares solution, negative entries set to 0).
    """
    w, *_ = np.linalg.lstsq(confusion, target_predictions, rcond=None)
    return np.clip(w, 0.0, None)


def _held_out_predictions(model, Xs, ys, n_splits: int, seed: int | None) -> np.ndarray:
    k = min(n_splits, int(np.bincount(ys).min()))
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return cross_val_predict(model, Xs, ys, cv=folds)


def label_shift_estimate(
    Xs,
    ys,
    Xt,
    *,
    yt=None,
    estimator: BaseEstimator | None = None,
    n_splits: int = 5,
    random_state: int | None = 0,
) -> dict:
    """Estimate the target class prevalence with BBSE and compare it with the source.

    Parameters
    ----------
    Xs : array-like of shape (n_source, d)
        Source features.
    ys : array-like of int, shape (n_source,)
        Source class codes 0..k-1 (every class at least twice); -1 rows are left out.
    Xt : array-like of shape (n_target, d)
        Target features (no labels needed).
    yt : array-like of int, optional
        Target class codes, when known (-1 = unlabelled); reported beside the estimate.
    estimator : classifier, optional
        Source classifier; default standardised logistic regression.
    n_splits : int, default 5
        Folds for the held-out confusion matrix.
    random_state : int or None, default 0
        Seed of the folds and the classifier.

    Returns
    -------
    dict
        ``source_prevalence``, ``target_prevalence_estimate`` and ``weights`` (lists over
        classes), ``target_prevalence_observed`` (or None), ``confusion`` and
        ``method`` = "BBSE".
    """
    Xs, Xt = check_pair(Xs, Xt, what="label-shift estimate")
    ys = check_class_labels(ys, len(Xs), "label-shift estimate (source)")
    Xs, ys = Xs[ys >= 0], ys[ys >= 0]
    counts = np.bincount(ys)
    if len(counts) < 2 or counts.min() < 2:
        raise DataError(
            f"label-shift estimate: source class counts {counts.tolist()}; every class "
            "0..k-1 needs at least 2 labelled source samples"
        )
    k = len(counts)
    model = estimator if estimator is not None else make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000, random_state=random_state)
    )
    held_out = _held_out_predictions(clone(model), Xs, ys, n_splits, random_state)
    confusion = np.zeros((k, k))
    np.add.at(confusion, (held_out, ys), 1.0 / len(ys))
    mu_t = np.bincount(clone(model).fit(Xs, ys).predict(Xt), minlength=k) / len(Xt)
    p_s = counts / counts.sum()
    w = bbse_weights(confusion, mu_t)
    q = w * p_s
    q = q / q.sum() if q.sum() > 0 else p_s
    return {
        "method": "BBSE",
        "source_prevalence": p_s.tolist(),
        "target_prevalence_estimate": q.tolist(),
        "target_prevalence_observed": _observed(yt, len(Xt), k),
        "weights": w.tolist(),
        "confusion": confusion.tolist(),
    }


def _observed(yt, n: int, k: int) -> list[float] | None:
    if yt is None:
        return None
    yt = check_class_labels(yt, n, "label-shift estimate (target)")
    yt = yt[yt >= 0]
    if len(yt) == 0:
        return None
    return (np.bincount(yt, minlength=k)[:k] / len(yt)).tolist()
