"""The linear classification head: trained on frozen features, exported as a numpy estimator."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from medtransfer.errors import ConfigError, DataError


def head_to_sklearn(linear: nn.Linear, classes: np.ndarray) -> LogisticRegression:
    """A fitted LogisticRegression computing exactly the softmax of a torch linear head.

    For two classes the softmax of two logits equals the sigmoid of their difference, so
    the binary estimator holds ``w1 - w0``; for more classes sklearn's multinomial
    ``predict_proba`` is the softmax of ``coef_ @ x + intercept_``.

    Parameters
    ----------
    linear : nn.Linear
        Head with ``len(classes)`` outputs.
    classes : ndarray
        Class codes, one per output.

    Returns
    -------
    LogisticRegression
        With ``coef_``, ``intercept_``, ``classes_`` and ``n_features_in_`` set; it holds
        only numpy arrays, so skops saves it without trusting any extra type.
    """
    weight = linear.weight.detach().double().cpu().numpy()
    bias = linear.bias.detach().double().cpu().numpy()
    estimator = LogisticRegression()
    if len(classes) == 2:
        estimator.coef_ = (weight[1] - weight[0])[None, :]
        estimator.intercept_ = np.array([bias[1] - bias[0]])
    else:
        estimator.coef_ = weight
        estimator.intercept_ = bias
    estimator.classes_ = np.asarray(classes)
    estimator.n_features_in_ = weight.shape[1]
    estimator.n_iter_ = np.array([0], dtype=np.int32)
    return estimator


def fit_head(
    features: torch.Tensor,
    labels: torch.Tensor,
    class_names: tuple[str, ...],
    *,
    C: float,
    random_state: int,
) -> nn.Linear:
    """Stage 1: an L2-regularised logistic regression on frozen features, as a torch head.

    Parameters
    ----------
    features : Tensor (n, d)
    labels : Tensor of int64 (n,)
        Codes into ``class_names``; every class needs at least one sample.
    class_names : tuple of str
    C : float
        Inverse regularisation strength (sklearn's ``C``).
    random_state : int

    Returns
    -------
    nn.Linear
        With ``len(class_names)`` outputs.
    """
    y = labels.numpy()
    missing = [name for code, name in enumerate(class_names) if not np.any(y == code)]
    if missing:
        raise DataError(
            f"the labelled training images have no example of class(es) {missing}; the head "
            "is first trained on them (source and labelled target images outside the "
            "validation split), so every class needs labelled images"
        )
    estimator = LogisticRegression(C=C, max_iter=2000, random_state=random_state)
    estimator.fit(features.double().numpy(), y)
    return sklearn_to_head(estimator)


def sklearn_to_head(estimator: LogisticRegression) -> nn.Linear:
    """The torch head giving the same probabilities as a linear sklearn classifier.

    A binary estimator becomes two logits ``[0, w·x + b]``, whose softmax is its sigmoid.
    """
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float32))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float32))
    if len(estimator.classes_) == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept]).astype(np.float32)
    head = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(coef))
        head.bias.copy_(torch.from_numpy(intercept))
    return head


def fold_linear(estimator: BaseEstimator) -> LogisticRegression:
    """One LogisticRegression on raw features equal to ``[scalers →] LogisticRegression``.

    A StandardScaler computes ``(x - mean) / scale``, so ``w · (x - mean) / scale + b`` is
    ``(w / scale) · x + (b - w · mean / scale)``: the folded estimator gives the same
    probabilities, and :func:`sklearn_to_head` turns it into an exact torch head.

    Parameters
    ----------
    estimator : fitted LogisticRegression, or Pipeline of StandardScaler steps ending in one
        A multinomial (or binary) logistic regression.

    Returns
    -------
    LogisticRegression
        A new fitted estimator holding numpy arrays only.

    Raises
    ------
    ConfigError
        If ``estimator`` is anything else (another classifier, another preprocessing step,
        a one-vs-rest multi-class logistic regression).
    """
    steps = [s for _, s in estimator.steps] if isinstance(estimator, SkPipeline) else [estimator]
    *scalers, last = steps
    if not isinstance(last, LogisticRegression) or not all(
        isinstance(s, StandardScaler) for s in scalers
    ):
        raise ConfigError(
            f"{' → '.join(type(s).__name__ for s in steps)} is not a logistic regression on "
            "standardised features; only such a model has an exact linear torch head "
            "(fit the run with --classifier logreg)"
        )
    if len(last.classes_) > 2 and getattr(last, "multi_class", "auto") == "ovr":
        raise ConfigError("a one-vs-rest LogisticRegression has no softmax head; refit it")
    coef = np.atleast_2d(np.asarray(last.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(last.intercept_, dtype=np.float64))
    for scaler in reversed(scalers):
        mean = scaler.mean_ if scaler.with_mean else np.zeros(coef.shape[1])
        scale = scaler.scale_ if scaler.with_std else np.ones(coef.shape[1])
        coef = coef / scale
        intercept = intercept - coef @ mean
    folded = LogisticRegression()
    folded.coef_, folded.intercept_ = coef, intercept
    folded.classes_ = np.asarray(last.classes_)
    folded.n_features_in_ = coef.shape[1]
    folded.n_iter_ = np.array([0], dtype=np.int32)
    return folded
