"""The three reference points every adapted model is compared with.

``source_only`` trains on the source, ``target_only`` on the k labelled target samples, and
``pooled`` on both, weighting the target so that it counts as much as the source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from medtransfer.adapt.base import register_method
from medtransfer.data.sample_domain import domain_masks
from medtransfer.errors import ConfigError
from medtransfer.models.classifiers import fit_weighted


class _SubsetEstimator(BaseEstimator, ABC):
    """Fit a clone of ``estimator`` on a subset of rows chosen from ``sample_domain``."""

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    @abstractmethod
    def _rows(
        self, y: np.ndarray, sample_domain: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows to learn from, and their weights (None for equal weights)."""

    def fit(self, X, y, *, sample_domain) -> _SubsetEstimator:
        """Fit on the rows this baseline learns from."""
        X, y = np.asarray(X), np.asarray(y)
        rows, weight = self._rows(y, np.asarray(sample_domain))
        self.estimator_ = fit_weighted(clone(self.estimator), X[rows], y[rows], weight)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        self.n_train_ = int(rows.sum())
        return self

    def predict(self, X) -> np.ndarray:
        """Predict with the fitted estimator."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(np.asarray(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities from the fitted estimator."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(np.asarray(X))


class SourceOnly(_SubsetEstimator):
    """Train on the labelled source rows only (no transfer)."""

    def _rows(self, y, sample_domain):
        source, _ = domain_masks(y, sample_domain)
        return source, None


class TargetOnly(_SubsetEstimator):
    """Train on the labelled target rows only (ignore the source)."""

    def _rows(self, y, sample_domain):
        _, target = domain_masks(y, sample_domain)
        if not target.any():
            raise ConfigError(
                "method 'target_only' needs labelled target samples; pass --target-labels K > 0"
            )
        return target, None


class Pooled(_SubsetEstimator):
    """Train on source and labelled target rows; the target's total weight equals the source's.

    Parameters
    ----------
    estimator : estimator
        Final predictor.
    target_share : float or None, default=0.5
        Share of the total training weight given to the labelled target rows; None: every
        row counts once (the target's share is then its share of the rows).
    """

    def __init__(self, estimator: BaseEstimator, target_share: float | None = 0.5) -> None:
        super().__init__(estimator)
        self.target_share = target_share

    def _rows(self, y, sample_domain):
        source, target = domain_masks(y, sample_domain)
        rows = source | target
        n_s, n_t = source.sum(), target.sum()
        if n_t == 0 or self.target_share is None:
            return rows, None
        weight = np.where(
            target[rows],
            self.target_share * (n_s + n_t) / n_t,
            (1 - self.target_share) * (n_s + n_t) / n_s,
        )
        return rows, weight


@register_method("source_only", "train on the source only (no transfer; the baseline)")
def _source_only(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return SourceOnly(estimator)


@register_method(
    "target_only", "train on the k labelled target samples only", needs_target_labels=True
)
def _target_only(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return TargetOnly(estimator)


@register_method(
    "pooled",
    "train on source + labelled target, target weighted to half the total",
)
def _pooled(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return Pooled(estimator)
