"""Parameter transfer with a few target labels: a source model, then a target model pulled to it.

The linear models (adaptive SVM / logistic regression) work on features standardised over
source + target rows, so that one weight vector means the same in both domains. They ignore
the ``estimator`` given to ``build``: the method *is* the predictor.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import check_domain_inputs, check_features
from medtransfer.errors import ConfigError
from medtransfer.models.adaptive import (
    AdaptiveLogisticRegression,
    AdaptiveSVC,
    TrAdaBoostClassifier,
)
from medtransfer.params import Constraints, Options, check_params

MODELS = {"svm": AdaptiveSVC, "logreg": AdaptiveLogisticRegression}


class SourceRegularizedTransfer(ClassifierMixin, BaseEstimator):
    """Fit a linear model on the source, then one on the labelled target rows regularised to it.

    Parameters
    ----------
    model : {"svm", "logreg"}, default="svm"
        Loss: hinge (adaptive SVM) or logistic.
    C : float, default=1.0
        Weight of the target loss against ``||w - w_source||^2``.
    source_C : float, default=1.0
        Regularisation of the source model.
    class_weight : dict, "balanced" or None, default="balanced"
        Class weights of both fits.

    Attributes
    ----------
    source_model_, target_model_ : fitted models
    classes_ : ndarray
    """

    _parameter_constraints: ClassVar[Constraints] = {"model": Options(*MODELS)}

    def __init__(
        self,
        model: str = "svm",
        C: float = 1.0,
        source_C: float = 1.0,
        class_weight: dict | str | None = "balanced",
    ) -> None:
        self.model = model
        self.C = C
        self.source_C = source_C
        self.class_weight = class_weight

    def fit(self, X, y, *, sample_domain) -> SourceRegularizedTransfer:
        """Fit the source model, then the target model regularised toward it."""
        check_params(self)
        X, y, rows = check_domain_inputs(X, y, sample_domain)
        if not rows.labelled_target.any():
            raise ConfigError(
                "parameter transfer needs labelled target rows (sample_domain < 0 and y != -1); "
                "pass --target-labels K with K > 0"
            )
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        cls = MODELS[self.model]
        source, target = rows.labelled_source, rows.labelled_target
        self.source_model_ = cls(C=self.source_C, class_weight=self.class_weight)
        self.source_model_.fit(Z[source], y[source])
        self.target_model_ = cls(
            C=self.C,
            source_coef=self.source_model_.coef_,
            source_intercept=self.source_model_.intercept_,
            classes=self.source_model_.classes_,
            class_weight=self.class_weight,
        ).fit(Z[target], y[target])
        self.classes_ = self.target_model_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def _target_features(self, X) -> np.ndarray:
        check_is_fitted(self, "target_model_")
        return self.scaler_.transform(check_features(X))

    def decision_function(self, X) -> np.ndarray:
        """Decision values of the target model."""
        features = self._target_features(X)  # checks the fit before target_model_ is read
        return self.target_model_.decision_function(features)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the target model."""
        features = self._target_features(X)
        return self.target_model_.predict_proba(features)

    def predict(self, X) -> np.ndarray:
        """Classes predicted by the target model."""
        features = self._target_features(X)
        return self.target_model_.predict(features)


@register_method(
    "adaptive_svm",
    "adaptive SVM: target linear SVM regularised toward the source SVM (Yang 2007)",
    needs_target_labels=True,
    tasks=("classification",),
)
def _adaptive_svm(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return SourceRegularizedTransfer("svm")


@register_method(
    "adaptive_logreg",
    "adaptive logistic regression: target weights regularised toward the source model",
    needs_target_labels=True,
    tasks=("classification",),
)
def _adaptive_logreg(estimator: BaseEstimator, random_state: int | None = None):
    return SourceRegularizedTransfer("logreg")


@register_method(
    "tradaboost",
    "TrAdaBoost: boosting that down-weights source rows the target disagrees with",
    needs_target_labels=True,
    tasks=("classification",),
)
def _tradaboost(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return TrAdaBoostClassifier(estimator, n_estimators=10, random_state=random_state)
