"""Label-shift correction: estimate the target class prior, then re-weight the posteriors.

Under label shift p(x | y) is shared and only p(y) moves. A classifier is trained on part of
the source; the held-out source rows calibrate its probabilities (a multinomial logistic fit
on their log-probabilities, so EM sees calibrated posteriors, Alexandari et al. 2020) and give
the confusion matrix of BBSE (Lipton et al. 2018). The target prior is estimated on the
unlabelled target rows by EM (Saerens et al. 2002) or BBSE, combined with the counts of the
labelled target rows, and posteriors are adjusted by ``pi_target / pi_source``. Works with
k = 0 target labels. Cost: one fit of the predictor plus O(n_target * classes) per EM run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import check_domain_inputs, check_features
from medtransfer.params import Constraints, Options, check_params
from medtransfer.shift.label_shift import bbse_weights

EPS = 1e-8


def em_step(proba: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """One EM step: the mean of the posteriors ``proba`` re-weighted by ``ratio``
    (``pi_current / pi_source``) and renormalised, i.e. the next prior estimate."""
    adjusted = proba * ratio
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    return adjusted.mean(axis=0)


def em_iterate(
    step: Callable[[np.ndarray], np.ndarray], source_prior: np.ndarray, n_iter: int = 200
) -> np.ndarray:
    """Iterate an EM ``step`` (ratio -> next prior, :func:`em_step` or a federated twin that
    asks the sites for it) from the source prior until the prior moves less than 1e-8."""
    prior = source_prior.copy()
    for _ in range(n_iter):
        new_prior = step(prior / source_prior)
        if np.abs(new_prior - prior).max() < 1e-8:
            return new_prior
        prior = new_prior
    return prior


def em_prior(proba: np.ndarray, source_prior: np.ndarray, n_iter: int = 200) -> np.ndarray:
    """Saerens-Latinne-Decaestecker EM estimate of the prior behind calibrated ``proba``."""
    return em_iterate(lambda ratio: em_step(proba, ratio), source_prior, n_iter)


def bbse_prior(
    confusion: np.ndarray, predicted_share: np.ndarray, source_prior: np.ndarray
) -> np.ndarray:
    """Black-box shift estimate: solve ``confusion @ w = predicted_share``, prior = w * pi_s.

    ``confusion[i, j]`` is the joint frequency of (predicted i, true j) on held-out source.
    """
    prior = bbse_weights(confusion, predicted_share) * source_prior
    return prior / prior.sum() if prior.sum() > 0 else source_prior.copy()


class LabelShiftCorrector(ClassifierMixin, BaseEstimator):
    """Train on the source, estimate the target class prior, adjust the posteriors.

    Parameters
    ----------
    estimator : classifier
        Predictor with ``predict_proba``.
    method : {"em", "bbse"}, default="em"
        Which prior estimate adjusts the posteriors (both are stored).
    holdout : float, default=0.3
        Share of labelled source rows held out for calibration and the confusion matrix.
    n_bootstrap : int, default=100
        Bootstrap resamples of the unlabelled target rows for the prior's 95% interval.
    random_state : int or None
        Seed of the split and the bootstrap.

    Attributes
    ----------
    source_prior_ : ndarray of shape (n_classes,)
    target_prior_ : ndarray of shape (n_classes,)
    target_prior_interval_ : ndarray of shape (2, n_classes)
        2.5% and 97.5% bootstrap percentiles of ``target_prior_``.
    prior_estimates_ : dict
        ``{"em": ..., "bbse": ...}`` point estimates.
    """

    _parameter_constraints: ClassVar[Constraints] = {"method": Options("em", "bbse")}

    def __init__(
        self,
        estimator: BaseEstimator,
        method: str = "em",
        holdout: float = 0.3,
        n_bootstrap: int = 100,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.holdout = holdout
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def fit(self, X, y, *, sample_domain) -> LabelShiftCorrector:
        """Fit on labelled source rows and estimate the prior of the target rows."""
        check_params(self)
        X, y, rows = check_domain_inputs(X, y, sample_domain)
        self._fit_source(X[rows.labelled_source], y[rows.labelled_source])
        unlabelled = self._calibrated(X[rows.unlabelled_target])
        counts = np.array([(y[rows.labelled_target] == c).sum() for c in self.classes_])
        self.prior_estimates_ = {m: self._prior(unlabelled, counts, m) for m in ("em", "bbse")}
        self.target_prior_ = self.prior_estimates_[self.method]
        self.target_prior_interval_ = self._bootstrap(unlabelled, counts)
        return self

    def _fit_source(self, X, y) -> None:
        train_X, held_X, train_y, held_y = train_test_split(
            X, y, test_size=self.holdout, stratify=y, random_state=self.random_state
        )
        self.estimator_ = clone(self.estimator).fit(train_X, train_y)
        self.classes_ = self.estimator_.classes_
        log_proba = np.log(np.clip(self.estimator_.predict_proba(held_X), EPS, 1.0))
        self.calibrator_ = LogisticRegression(C=10.0, max_iter=2000).fit(log_proba, held_y)
        held_proba = self._calibrated(held_X)
        self.source_prior_ = np.array([(held_y == c).mean() for c in self.classes_])
        predicted = np.argmax(held_proba, axis=1)
        truth = np.searchsorted(self.classes_, held_y)
        k = len(self.classes_)
        self.confusion_ = np.zeros((k, k))
        np.add.at(self.confusion_, (predicted, truth), 1.0 / len(held_y))

    def _calibrated(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        log_proba = np.log(np.clip(self.estimator_.predict_proba(X), EPS, 1.0))
        return self.calibrator_.predict_proba(log_proba)

    def _prior(self, proba: np.ndarray, counts: np.ndarray, method: str) -> np.ndarray:
        """Prior from the unlabelled rows, pooled with the labelled target counts."""
        if len(proba) == 0:
            return counts / counts.sum()
        if method == "em":
            estimate = em_prior(proba, self.source_prior_)
        else:
            share = np.bincount(np.argmax(proba, axis=1), minlength=len(self.classes_))
            estimate = bbse_prior(self.confusion_, share / len(proba), self.source_prior_)
        return (estimate * len(proba) + counts) / (len(proba) + counts.sum())

    def _bootstrap(self, proba: np.ndarray, counts: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        draws = [
            self._prior(proba[rng.integers(0, len(proba), len(proba))], counts, self.method)
            for _ in range(self.n_bootstrap)
        ]
        if not draws:
            return np.vstack([self.target_prior_, self.target_prior_])
        return np.percentile(np.asarray(draws), [2.5, 97.5], axis=0)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated posteriors re-weighted by ``target_prior_ / source_prior_``."""
        check_is_fitted(self, "target_prior_")
        adjusted = self._calibrated(check_features(X)) * (
            self.target_prior_ / np.maximum(self.source_prior_, EPS)
        )
        return adjusted / np.maximum(adjusted.sum(axis=1, keepdims=True), EPS)

    def predict(self, X) -> np.ndarray:
        """The most probable class under the target prior."""
        proba = self.predict_proba(X)  # checks the fit before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]


@register_method(
    "label_shift",
    "label-shift correction: EM/BBSE target prior, posteriors re-weighted (k = 0 works)",
    tasks=("classification",),
)
def _label_shift(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return LabelShiftCorrector(estimator, random_state=random_state)
