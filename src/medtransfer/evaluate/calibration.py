"""Calibration: binned expected calibration error, reliability diagrams and recalibration.

Binary tasks measure the calibration of the positive-class probability; multi-class tasks
that of the top-label confidence (Guo et al., ICML 2017).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.metrics import check_predictions
from medtransfer.params import Constraints, Options, check_params

RECALIBRATION_METHODS = ("temperature", "platt", "isotonic")
EPS = 1e-12


def confidence_and_outcome(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """The probability being judged and whether the event happened, per case."""
    p = np.asarray(proba, dtype=float)
    k = 2 if p.ndim == 1 else p.shape[1]
    y, p = check_predictions(y_true, p, [str(i) for i in range(k)])
    if k == 2:
        return p[:, 1], (y == 1).astype(float)
    top = p.argmax(axis=1)
    return p[np.arange(len(y)), top], (top == y).astype(float)


def reliability_diagram(y_true, proba, *, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Per-bin mean predicted probability, observed frequency and count (equal-width bins).

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True labels (codes).
    proba : array-like, shape (n, K) or (n,)
        Predicted probabilities (binary: the positive column alone is accepted).
    n_bins : int, default 10
        Number of equal-width bins over [0, 1].

    Returns
    -------
    dict
        ``edges`` (n_bins + 1,), and per bin ``predicted``, ``observed`` (NaN when empty) and
        ``count``.
    """
    if int(n_bins) < 1:
        raise ConfigError(f"n_bins={n_bins}; use a positive number of bins such as 10")
    conf, hit = confidence_and_outcome(y_true, proba)
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, int(n_bins) - 1)
    count = np.bincount(which, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(which, weights=conf, minlength=n_bins) / count
        observed = np.bincount(which, weights=hit, minlength=n_bins) / count
    return {"edges": edges, "predicted": predicted, "observed": observed, "count": count}


def expected_calibration_error(y_true, proba, *, n_bins: int = 10) -> float:
    """Binned expected calibration error: count-weighted mean |observed - predicted|.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True labels (codes).
    proba : array-like, shape (n, K) or (n,)
        Predicted probabilities.
    n_bins : int, default 10
        Number of equal-width bins.

    Returns
    -------
    float
        ECE in [0, 1].
    """
    diagram = reliability_diagram(y_true, proba, n_bins=n_bins)
    filled = diagram["count"] > 0
    gap = np.abs(diagram["observed"][filled] - diagram["predicted"][filled])
    return float(np.sum(gap * diagram["count"][filled]) / diagram["count"].sum())


def as_matrix(proba) -> np.ndarray:
    """Probabilities as (n, K); a 1-D array is the positive column of a binary task."""
    p = np.asarray(proba, dtype=float)
    return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p


class Recalibrator(TransformerMixin, BaseEstimator):
    """Recalibrate predicted probabilities with a few labelled target cases.

    Parameters
    ----------
    method : {"temperature", "platt", "isotonic"}, default "temperature"
        ``temperature``: one scalar T dividing the log-probabilities (keeps the ranking).
        ``platt``: logistic regression on the log-probabilities (binary: on the logit).
        ``isotonic``: monotone fit per class (one-vs-rest), renormalised.

    Attributes
    ----------
    n_classes_ : int
    temperature_ : float
        Fitted temperature (``method="temperature"``).
    model_ : estimator or list of estimators
        Fitted Platt or isotonic model(s).
    """

    _parameter_constraints: ClassVar[Constraints] = {"method": Options(*RECALIBRATION_METHODS)}

    def __init__(self, method: str = "temperature") -> None:
        self.method = method

    def fit(self, X, y) -> Recalibrator:
        """Learn the recalibration map from probabilities ``X`` (n, K) and labels ``y``."""
        check_params(self)
        p = as_matrix(X)
        yy, p = check_predictions(y, p, [str(i) for i in range(p.shape[1])])
        if np.unique(yy).size < 2:
            raise DataError(
                f"recalibration needs labelled cases of at least two classes; got only class "
                f"{np.unique(yy).tolist()}; label more target cases"
            )
        self.n_classes_ = p.shape[1]
        getattr(self, f"_fit_{self.method}")(np.log(np.clip(p, EPS, 1.0)), yy)
        return self

    def _fit_temperature(self, logp: np.ndarray, y: np.ndarray) -> None:
        def nll(log_t: float) -> float:
            return -np.mean(log_softmax(logp / np.exp(log_t), axis=1)[np.arange(len(y)), y])

        best = minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded")
        self.temperature_ = float(np.exp(best.x))

    def _fit_platt(self, logp: np.ndarray, y: np.ndarray) -> None:
        self.model_ = LogisticRegression(C=1e4, max_iter=1000).fit(self._platt_features(logp), y)

    def _fit_isotonic(self, logp: np.ndarray, y: np.ndarray) -> None:
        p = np.exp(logp)
        self.model_ = [
            IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[:, c], y == c)
            for c in self._isotonic_columns()
        ]

    def _isotonic_columns(self) -> list[int]:
        # binary: one monotone map of the positive probability, as in the classic recipe
        return [1] if self.n_classes_ == 2 else list(range(self.n_classes_))

    def _platt_features(self, logp: np.ndarray) -> np.ndarray:
        if self.n_classes_ == 2:
            return (logp[:, 1] - logp[:, 0])[:, None]
        return logp

    def transform(self, X) -> np.ndarray:
        """Recalibrated probabilities, shape (n, K), rows summing to one."""
        check_is_fitted(self, "n_classes_")
        p = as_matrix(X)
        if p.shape[1] != self.n_classes_:
            raise DataError(
                f"probabilities have {p.shape[1]} columns but the recalibrator was fitted on "
                f"{self.n_classes_}; pass the same model's probabilities"
            )
        logp = np.log(np.clip(p, EPS, 1.0))
        if self.method == "temperature":
            return softmax(logp / self.temperature_, axis=1)
        if self.method == "platt":
            return self.model_.predict_proba(self._platt_features(logp))
        cols = self._isotonic_columns()
        q = np.column_stack([m.predict(p[:, c]) for c, m in zip(cols, self.model_, strict=True)])
        if self.n_classes_ == 2:
            return np.column_stack([1.0 - q[:, 0], q[:, 0]])
        total = q.sum(axis=1, keepdims=True)
        # a case every class model maps to zero keeps its original probabilities
        return np.where(total > 0, q / np.where(total > 0, total, 1.0), p)
