"""Registry of the final predictors a transfer method trains (SVM first, as in the recipe)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from medtransfer.models.svm import PlattSVC
from medtransfer.registry import Registry

ClassifierFactory = Callable[[str, int | None], BaseEstimator]
CLASSIFIERS: Registry[ClassifierFactory] = Registry("classifier", "medtransfer methods")


@CLASSIFIERS.register("svm")
def svm(task: str = "classification", random_state: int | None = None) -> BaseEstimator:
    """RBF support-vector machine on standardised features (Platt-scaled probabilities)."""
    if task == "regression":
        return make_pipeline(StandardScaler(), SVR(C=1.0))
    return make_pipeline(
        StandardScaler(),
        PlattSVC(C=1.0, class_weight="balanced", random_state=random_state),
    )


@CLASSIFIERS.register("logreg")
def logreg(task: str = "classification", random_state: int | None = None) -> BaseEstimator:
    """L2-regularised logistic regression (ridge regression for continuous targets)."""
    if task == "regression":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    return make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=1.0, max_iter=2000, class_weight="balanced", random_state=random_state
        ),
    )


@CLASSIFIERS.register("boosting")
def boosting(task: str = "classification", random_state: int | None = None) -> BaseEstimator:
    """Histogram gradient boosting, a strong default for tables (copes with NaN)."""
    if task == "regression":
        return HistGradientBoostingRegressor(max_iter=200, random_state=random_state)
    return HistGradientBoostingClassifier(
        max_iter=200, class_weight="balanced", random_state=random_state
    )


def make_classifier(
    name: str, task: str = "classification", random_state: int | None = None
) -> BaseEstimator:
    """Build the registered predictor ``name`` for ``task`` ("classification"/"regression")."""
    return CLASSIFIERS.get(name)(task, random_state)


def fit_weighted(estimator: BaseEstimator, X, y, sample_weight=None) -> BaseEstimator:
    """Fit ``estimator`` with per-sample weights, routed to the last step of a Pipeline.

    Metadata routing is switched off for the fit: skada turns it on process-wide when imported,
    and a Pipeline then refuses ``step__sample_weight``.
    """
    if sample_weight is None:
        return estimator.fit(X, y)
    with config_context(enable_metadata_routing=False):
        if hasattr(estimator, "steps"):
            last = estimator.steps[-1][0]
            return estimator.fit(X, y, **{f"{last}__sample_weight": sample_weight})
        return estimator.fit(X, y, sample_weight=sample_weight)


def full_proba(model: BaseEstimator, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over every class code (0 for classes the model never saw)."""
    proba = np.zeros((len(X), n_classes))
    proba[:, model.classes_.astype(int)] = model.predict_proba(X)
    return proba
