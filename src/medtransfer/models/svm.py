"""Support-vector classifier with Platt-scaled probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted, validate_data


class PlattSVC(ClassifierMixin, BaseEstimator):
    """An SVC whose decision values are mapped to probabilities by a logistic (Platt) fit.

    The logistic map is fitted on out-of-fold decision values when every class has at least
    ``n_folds`` samples, else on in-sample values (few-label targets), with the same class and
    sample weights as the SVM. With ``class_weight="balanced"`` the probabilities are those of
    classes of equal share, as a class-balanced logistic regression's are, so the most probable
    class is the balanced decision even for a rare outcome; with ``None`` they are risks at the
    training prevalence (what a difference of risks needs).

    Parameters
    ----------
    C : float, default=1.0
        SVM regularisation.
    kernel : str, default="rbf"
        SVM kernel.
    gamma : str or float, default="scale"
        RBF kernel width.
    class_weight : dict, "balanced" or None, default="balanced"
        Class weights of the SVM.
    n_folds : int, default=3
        Folds for the out-of-fold decision values.
    random_state : int or None
        Seed of the fold split.
    """

    def __init__(
        self,
        C: float = 1.0,
        kernel: str = "rbf",
        gamma: str | float = "scale",
        class_weight: dict | str | None = "balanced",
        n_folds: int = 3,
        random_state: int | None = None,
    ) -> None:
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.class_weight = class_weight
        self.n_folds = n_folds
        self.random_state = random_state

    def _svc(self) -> SVC:
        return SVC(C=self.C, kernel=self.kernel, gamma=self.gamma, class_weight=self.class_weight)

    def fit(self, X, y, sample_weight=None) -> PlattSVC:
        """Fit the SVM and its probability map."""
        X, y = validate_data(self, X, y)
        self.svc_ = self._svc().fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.svc_.classes_
        scores = self._out_of_fold_scores(X, y, sample_weight)
        weight = compute_sample_weight(self.class_weight, y)
        if sample_weight is not None:
            weight = weight * np.asarray(sample_weight, dtype=float)
        self.calibrator_ = LogisticRegression(C=100.0, max_iter=1000).fit(
            scores, y, sample_weight=weight)
        return self

    def _out_of_fold_scores(self, X, y, sample_weight) -> np.ndarray:
        if np.bincount(np.unique(y, return_inverse=True)[1]).min() < self.n_folds:
            return self._scores(self.svc_, X)
        scores = np.zeros((len(y), 1 if len(self.classes_) == 2 else len(self.classes_)))
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(X, y):
            weight = None if sample_weight is None else np.asarray(sample_weight)[train]
            scores[test] = self._scores(self._svc().fit(X[train], y[train], weight), X[test])
        return scores

    @staticmethod
    def _scores(svc: SVC, X) -> np.ndarray:
        scores = svc.decision_function(X)
        return scores.reshape(len(X), -1)

    def decision_function(self, X) -> np.ndarray:
        """Signed distance to the separating hyperplane(s)."""
        check_is_fitted(self, "svc_")
        return self.svc_.decision_function(validate_data(self, X, reset=False))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities."""
        check_is_fitted(self, "svc_")
        X = validate_data(self, X, reset=False)
        return self.calibrator_.predict_proba(self._scores(self.svc_, X))

    def predict(self, X) -> np.ndarray:
        """The most probable class."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
