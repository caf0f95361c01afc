"""Calibration as an external-validation study reports it (binary outcomes).

Logistic recalibration of the outcome on the model's logit on the held-out cases
(Van Calster et al., J Clin Epidemiol 2016; Riley et al., BMJ 2024):

- **calibration-in-the-large** (CITL): the intercept ``a`` of ``logit P(y) = a + logit p``
  (the logit as an offset); 0 is ideal, positive means risks are underestimated;
- **calibration slope**: ``b`` in ``logit P(y) = a + b logit p``; 1 is ideal, below 1 means
  predictions too extreme (overfitting), above 1 too modest;
- **observed / expected** (O/E): events over the sum of predicted risks; 1 is ideal;
- a **smoothed calibration curve**: a logistic regression of the outcome on a cubic spline
  of the logit (a flexible calibration curve).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

from medtransfer.evaluate.bootstrap import bootstrap_indices
from medtransfer.evaluate.resampling import percentile_interval

EPS = 1e-6
MEASURES = ("calibration_in_the_large", "calibration_slope", "oe_ratio")


def logit(p) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(q / (1 - q))


def logistic_fit(y: np.ndarray, x: np.ndarray | None, offset: np.ndarray,
                 n_iter: int = 50) -> np.ndarray:
    """Maximum-likelihood coefficients of ``logit P(y) = offset + a [+ b x]`` by Newton's
    method; NaN where they do not exist (one class, or perfect separation)."""
    design = np.ones((len(y), 1)) if x is None else np.column_stack([np.ones(len(y)), x])
    beta = np.zeros(design.shape[1])
    if np.unique(y).size < 2:
        return np.full_like(beta, np.nan)
    for _ in range(n_iter):
        p = 1 / (1 + np.exp(-(offset + design @ beta)))
        w = p * (1 - p)
        hessian = design.T @ (design * w[:, None])
        try:
            step = np.linalg.solve(hessian, design.T @ (y - p))
        except np.linalg.LinAlgError:
            return np.full_like(beta, np.nan)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            return beta
        if np.max(np.abs(beta)) > 50:
            break
    return np.full_like(beta, np.nan)


def calibration_measures(y, p) -> dict[str, float]:
    """CITL, calibration slope and O/E of positive-class probabilities ``p``."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    lp = logit(p)
    citl = logistic_fit(y, None, lp)[0]
    slope = logistic_fit(y, lp, np.zeros_like(lp))[1]
    expected = float(p.sum())
    return {"calibration_in_the_large": float(citl), "calibration_slope": float(slope),
            "oe_ratio": float(y.sum() / expected) if expected > 0 else float("nan")}


def calibration_study(
    y_true, p_positive, *, n_resamples: int = 500, random_state: int | None = 0
) -> dict[str, dict]:
    """CITL, calibration slope and O/E with stratified bootstrap 95% intervals.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n,)
        Outcomes.
    p_positive : array-like, shape (n,)
        Predicted probability of the outcome.
    n_resamples : int, default 500
        Bootstrap resamples (cases drawn with replacement from all cases).
    random_state : int or None, default 0
        Seed of the resampling.

    Returns
    -------
    dict
        ``{measure: {"value", "low", "high"}}`` for each of :data:`MEASURES`.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(p_positive, dtype=float)
    point = calibration_measures(y, p)
    # one stratum: resampling within each class would fix the number of events and hide
    # most of the uncertainty of CITL and O/E
    draws = [calibration_measures(y[idx], p[idx]) for idx in bootstrap_indices(
        np.zeros(len(y)), n_resamples=n_resamples, random_state=random_state)]
    result = {}
    for name in MEASURES:
        low, high = percentile_interval(np.array([d[name] for d in draws]))
        result[name] = {"value": point[name], "low": low, "high": high}
    return result


def smoothed_calibration(y_true, p_positive, *, n_points: int = 50) -> dict[str, np.ndarray]:
    """A flexible calibration curve: observed risk against predicted risk.

    A logistic regression of the outcome on a cubic spline (4 knots at quantiles) of the
    logit, evaluated between the 2.5th and 97.5th percentiles of the predictions (beyond them
    the curve rests on too few cases).

    Returns
    -------
    dict
        ``predicted`` and ``observed`` (``n_points`` each); empty arrays with one class.
    """
    y = np.asarray(y_true, dtype=int)
    lp = logit(p_positive)
    if np.unique(y).size < 2:
        return {"predicted": np.array([]), "observed": np.array([])}
    curve = make_pipeline(
        SplineTransformer(n_knots=4, degree=3, knots="quantile", extrapolation="linear"),
        LogisticRegression(C=100.0, max_iter=2000),
    ).fit(lp[:, None], y)
    grid = np.linspace(*np.percentile(lp, [2.5, 97.5]), n_points)
    return {"predicted": 1 / (1 + np.exp(-grid)),
            "observed": curve.predict_proba(grid[:, None])[:, 1]}
