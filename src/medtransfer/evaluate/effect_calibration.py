"""Calibration of predicted treatment effects by quantile: does a predicted effect come true?

One patient's effect is never observed, but a group's is: the rows are binned by their
predicted effect (quintiles by default), and in each bin the observed effect is estimated
from the rows' recorded arms and outcomes, beside the bin's mean predicted effect. A
calibrated model's bins lie on the diagonal; a model that only ranks patients well gives
observed effects rising with the bins but off it.

The observed effect of a bin is

- the **difference in means** of the treated and the control rows in it, when the arms are
  comparable within the bin (a randomised trial); or
- the mean **doubly robust (AIPW) pseudo-outcome** mu1 - mu0 + t (y - mu1) / e -
  (1 - t) (y - mu0) / (1 - e), when the propensities e are given: unbiased with the right
  propensities whatever the outcome models mu0, mu1 (the run's, fitted on other rows).

Intervals are percentile intervals over patient-grouped bootstrap resamples of the rows,
stratified by arm (:mod:`medtransfer.evaluate.resampling`); the bins are fixed by the
predictions, which are held fixed.
"""

from __future__ import annotations

import numpy as np

from medtransfer.errors import DataError
from medtransfer.evaluate.policy_value import MIN_PROPENSITY
from medtransfer.evaluate.resampling import bootstrap_resamples, percentile_interval

ESTIMATORS = {"difference": "difference in means of the arms in each bin",
              "dr": "mean doubly robust (AIPW) pseudo-outcome in each bin"}


def effect_calibration(
    predicted: np.ndarray, treatment: np.ndarray, outcome: np.ndarray, *,
    mu0: np.ndarray | None = None, mu1: np.ndarray | None = None,
    propensity: np.ndarray | None = None, n_bins: int = 5, groups: np.ndarray | None = None,
    n_resamples: int = 1000, random_state: int | None = 0,
) -> dict:
    """Observed against predicted effect in ``n_bins`` quantile bins of ``predicted``.

    Parameters
    ----------
    predicted : ndarray of shape (n,)
        Predicted effect (treated minus control) of each row.
    treatment : ndarray of shape (n,)
        The arm each row had: 1 treated, 0 control.
    outcome : ndarray of shape (n,)
        Observed outcome (0/1 for a binary outcome).
    mu0, mu1 : ndarray of shape (n,), optional
        Predicted outcomes under control and treatment; needed with ``propensity``.
    propensity : ndarray of shape (n,), optional
        P(treated | x) of each row, kept within [MIN_PROPENSITY, 1 - MIN_PROPENSITY]:
        the observed effect is then the mean DR pseudo-outcome, else the difference in means.
    n_bins : int, default=5
        Quantile bins (5: quintiles); fewer when predictions tie.
    groups : ndarray of shape (n,), optional
        Patient id of each row: whole patients are resampled.
    n_resamples : int, default=1000
        Bootstrap resamples of the intervals.
    random_state : int or None, default=0
        Seed of the resamples.

    Returns
    -------
    dict
        ``estimator`` (in words), ``n`` and ``bins``: per bin its ``low`` and ``high``
        predicted edges, ``n``, ``n_treated``, ``predicted`` (mean) and ``observed``
        ``{value, low, high}`` (NaN where a bin lacks an arm); ``n_covered``: bins whose
        observed interval holds their mean predicted effect.
    """
    tau, t, y = (np.asarray(a, dtype=float) for a in (predicted, treatment, outcome))
    if tau.shape != t.shape or y.shape != t.shape or not np.isin(t, (0, 1)).all():
        raise DataError("effect calibration: predicted, treatment (1 or 0) and outcome must "
                        f"hold one value per row each; got lengths {[len(tau), len(t), len(y)]}")
    edges = np.unique(np.quantile(tau, np.linspace(0, 1, n_bins + 1)))
    if len(edges) == 1:  # one predicted effect for every row: one bin
        edges = np.repeat(edges, 2)
    bin_of = np.clip(np.searchsorted(edges, tau, side="right") - 1, 0, max(len(edges) - 2, 0))
    if propensity is None:
        estimator, statistic = "difference", _difference(y, t, bin_of, len(edges) - 1)
    else:
        e = np.clip(np.asarray(propensity, dtype=float), MIN_PROPENSITY, 1 - MIN_PROPENSITY)
        pseudo = (mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e))
        estimator, statistic = "dr", _bin_means(pseudo, bin_of, len(edges) - 1)
    draws = bootstrap_resamples(t.astype(int), groups=groups, n_resamples=n_resamples,
                                random_state=random_state).apply(statistic)
    observed = statistic(np.arange(len(t))[None, :])[0]
    bins = []
    for b in range(len(edges) - 1):
        low, high = percentile_interval(draws[:, b])
        in_bin = bin_of == b
        bins.append({"low": float(edges[b]), "high": float(edges[b + 1]),
                     "n": int(in_bin.sum()), "n_treated": int(t[in_bin].sum()),
                     "predicted": float(tau[in_bin].mean()),
                     "observed": {"value": float(observed[b]), "low": low, "high": high}})
    covered = sum(b["observed"]["low"] <= b["predicted"] <= b["observed"]["high"] for b in bins)
    return {"estimator": ESTIMATORS[estimator], "n": len(t), "bins": bins,
            "n_covered": int(covered)}


def _bin_means(values: np.ndarray, bin_of: np.ndarray, n_bins: int):
    """Statistic: per resample (row of a 2-D index array), the mean of ``values`` per bin."""
    def statistic(idx: np.ndarray) -> np.ndarray:
        return np.stack([_masked_mean(values[idx], bin_of[idx] == b) for b in range(n_bins)],
                        axis=-1)
    return statistic


def _difference(y: np.ndarray, t: np.ndarray, bin_of: np.ndarray, n_bins: int):
    """Statistic: per resample, treated minus control mean outcome per bin."""
    def statistic(idx: np.ndarray) -> np.ndarray:
        yi, ti, bi = y[idx], t[idx], bin_of[idx]
        return np.stack([_masked_mean(yi, (bi == b) & (ti == 1))
                         - _masked_mean(yi, (bi == b) & (ti == 0)) for b in range(n_bins)],
                        axis=-1)
    return statistic


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of ``values`` where ``mask`` along the last axis (NaN where none)."""
    count = mask.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (values * mask).sum(axis=-1) / count, np.nan)
