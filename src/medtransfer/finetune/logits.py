"""Class logits of fitted medtransfer models: scores whose softmax is ``predict_proba``.

Probabilities saturate: a confident logistic model gives ``p = 1.0`` exactly in float64 once
its log-odds pass about 37, and the log-probability then carries no gradient. The logits
(decision values, mapped through any Platt calibrator) do not saturate, so Grad-CAM
explains them when the model's structure is known; :func:`logit_function` unwraps the
adapters and predictors medtransfer fits and returns None for anything else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline as SkPipeline

from medtransfer.adapt.baselines import Pooled, SourceOnly, TargetOnly
from medtransfer.adapt.domain_estimator import AdaptedEstimator
from medtransfer.errors import ConfigError
from medtransfer.finetune.head import fold_linear
from medtransfer.models.svm import PlattSVC
from medtransfer.select.auto import AutoTransfer

Logits = Callable[[np.ndarray], np.ndarray]


def logit_function(estimator: BaseEstimator) -> Logits | None:
    """``f(X) -> (n, K)`` logits with ``softmax(f(X)) == estimator.predict_proba(X)``.

    Known: LogisticRegression (binary or multinomial), PlattSVC, sklearn Pipelines of
    transformers ending in one, the baselines, every :class:`AdaptedEstimator` (its target
    mapping, then its predictor) and AutoTransfer (its chosen method). Binary models get
    logits ``[0, s]``.

    Returns
    -------
    callable or None
        None when the model's logits are not known; use its log-probabilities then.
    """
    if isinstance(estimator, LogisticRegression):
        if len(estimator.classes_) > 2 and getattr(estimator, "multi_class", "auto") == "ovr":
            return None
        return lambda X: _two_logits(estimator.decision_function(X))
    if isinstance(estimator, PlattSVC):
        calibrator = logit_function(estimator.calibrator_)
        return _then(lambda X: _column_scores(estimator.svc_.decision_function(X)), calibrator)
    if isinstance(estimator, SkPipeline):
        head = estimator[:-1]
        return _then(head.transform, logit_function(estimator.steps[-1][1]))
    if isinstance(estimator, SourceOnly | TargetOnly | Pooled | AutoTransfer):
        return logit_function(estimator.estimator_)
    if isinstance(estimator, AdaptedEstimator):
        return _then(estimator.transform_target, logit_function(estimator.estimator_))
    return None


def _then(first: Callable[[np.ndarray], np.ndarray], last: Logits | None) -> Logits | None:
    return None if last is None else (lambda X: last(first(X)))


def _column_scores(decision: np.ndarray) -> np.ndarray:
    decision = np.asarray(decision, dtype=np.float64)
    return decision.reshape(len(decision), -1)


def _two_logits(decision: np.ndarray) -> np.ndarray:
    decision = np.asarray(decision, dtype=np.float64)
    if decision.ndim == 1:
        return np.column_stack([np.zeros_like(decision), decision])
    return decision


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def linear_model_of(estimator: BaseEstimator | None, n_classes: int) -> LogisticRegression | None:
    """One LogisticRegression on the raw features equal to ``estimator``, or None.

    Found for a baseline (``source_only``, ``target_only``, ``pooled``, or AutoTransfer's
    choice of one) whose predictor is a logistic regression on standardised features, and
    whose classes are the codes 0..n_classes-1 in order; such a model has an exact torch
    head (:func:`~medtransfer.finetune.head.sklearn_to_head`).
    """
    if isinstance(estimator, AutoTransfer):
        estimator = getattr(estimator, "estimator_", None)
    if not isinstance(estimator, SourceOnly | TargetOnly | Pooled):
        return None
    try:
        folded = fold_linear(estimator.estimator_)
    except ConfigError:
        return None
    return folded if np.array_equal(folded.classes_, np.arange(n_classes)) else None
