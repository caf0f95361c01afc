"""The shared shape of a transfer method: adapt on source + target, then fit the final predictor.

Every method here is fitted as ``fit(X, y, *, sample_domain)`` under skada's convention and
predicts on target rows with ``predict(X)`` (no ``sample_domain``: X is taken as target data).
Unlike skada's default pipelines, which mask every target label before the final estimator,
the final predictor here learns from the labelled source rows AND the labelled target rows;
rows with ``y = -1`` (or NaN for regression) only ever contribute their features.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from medtransfer.errors import DataError
from medtransfer.models.classifiers import fit_weighted


@dataclass(frozen=True)
class DomainRows:
    """Domain codes and boolean row masks of one stacked training set (skada convention)."""

    codes: np.ndarray
    source: np.ndarray
    target: np.ndarray
    labelled_source: np.ndarray
    labelled_target: np.ndarray

    @property
    def labelled(self) -> np.ndarray:
        """Rows whose label the final predictor may learn from."""
        return self.labelled_source | self.labelled_target

    @property
    def unlabelled_target(self) -> np.ndarray:
        """Target rows without a label."""
        return self.target & ~self.labelled_target


def is_regression_target(y: np.ndarray) -> bool:
    """Float labels are continuous (NaN = unlabelled); integer ones are classes (-1: none)."""
    return np.asarray(y).dtype.kind == "f"


def check_features(X, what: str = "X") -> np.ndarray:
    """Return ``X`` as a finite 2-D float array or raise a DataError naming the fault."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise DataError(
            f"{what} must be a 2-D array (samples x features), got shape {X.shape}; "
            "reshape it, e.g. X.reshape(len(X), -1)"
        )
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{what} holds a missing or infinite value (row {row}, column {col}); "
            "encode missing values first, e.g. with medtransfer.features.TabularEncoder"
        )
    return X


def check_domain_inputs(X, y, sample_domain) -> tuple[np.ndarray, np.ndarray, DomainRows]:
    """Validate a stacked training set and return (X, y, row masks)."""
    X = check_features(X)
    y = np.asarray(y)
    domain = np.asarray(sample_domain)
    if len(y) != len(X) or len(domain) != len(X):
        raise DataError(
            f"X has {len(X)} rows but y has {len(y)} and sample_domain {len(domain)}; "
            "pass one label and one domain code per row"
        )
    if (domain == 0).any():
        raise DataError(
            "sample_domain contains 0; use a positive code for source rows and a negative "
            "code for target rows (skada's convention)"
        )
    labelled = ~np.isnan(y) if is_regression_target(y) else y != -1
    source, target = domain > 0, domain < 0
    rows = DomainRows(domain, source, target, source & labelled, target & labelled)
    if not rows.labelled_source.any() or not rows.target.any():
        raise DataError(
            f"need labelled source rows (sample_domain > 0) and target rows (sample_domain < 0); "
            f"got {int(rows.labelled_source.sum())} labelled source and "
            f"{int(rows.target.sum())} target rows"
        )
    return X, y, rows


def _final_has(attr: str):
    def check(self) -> bool:
        return hasattr(self.estimator, attr)

    return check


class AdaptedEstimator(BaseEstimator, ABC):
    """Base class: an adaptation step, then ``estimator`` fitted on the labelled rows.

    Subclasses implement ``_adapt(X, y, rows) -> (features, weights or None)`` for the
    training rows and ``_map_target(X)`` for new target rows.

    Parameters
    ----------
    estimator : estimator
        Final predictor (see ``medtransfer.models.make_classifier``).
    """

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    @abstractmethod
    def _adapt(self, X, y, rows: DomainRows) -> tuple[np.ndarray, np.ndarray | None]:
        """Features the final predictor learns from, and per-row weights (or None)."""

    def _map_target(self, X: np.ndarray) -> np.ndarray:
        return X

    def fit(self, X, y, *, sample_domain) -> AdaptedEstimator:
        """Adapt on all rows, then fit the final predictor on the labelled ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked source and target features.
        y : array-like of shape (n_samples,)
            Labels; -1 (classification) or NaN (regression) for unlabelled target rows.
        sample_domain : array-like of shape (n_samples,)
            > 0 for source rows, < 0 for target rows.

        Returns
        -------
        self
        """
        X, y, rows = check_domain_inputs(X, y, sample_domain)
        features, weight = self._adapt(X, y, rows)
        keep = rows.labelled
        weight = None if weight is None else weight[keep]
        # Weights are passed as step__sample_weight, which metadata routing (switched on by
        # anyone importing skada) would reject.
        with config_context(enable_metadata_routing=False):
            self.estimator_ = fit_weighted(clone(self.estimator), features[keep], y[keep], weight)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def transform_target(self, X) -> np.ndarray:
        """Target rows in the space the final predictor works in."""
        check_is_fitted(self, "estimator_")
        return self._map_target(check_features(X))

    def predict(self, X) -> np.ndarray:
        """Predict target rows."""
        return self.estimator_.predict(self.transform_target(X))

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of target rows."""
        return self.estimator_.predict_proba(self.transform_target(X))


def subsample_rows(
    mask: np.ndarray, max_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices of at most ``max_samples`` rows of ``mask``, drawn without replacement."""
    index = np.flatnonzero(mask)
    if len(index) <= max_samples:
        return index
    return np.sort(rng.choice(index, max_samples, replace=False))
