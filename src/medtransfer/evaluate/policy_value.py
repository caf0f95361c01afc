"""The value of a treatment policy, and of treating everyone or no one, from observed data.

A policy says, for each patient, whether to treat (1) or not (0). Its value is the mean
outcome if every patient were treated as it says; each patient shows only the outcome of the
arm they had, so the value is estimated from the patients whose arm matches the policy,
weighted by how unlikely that arm was (the propensity e(x) = P(treated | x)):

- **IPW** (inverse-propensity weighting, normalised): the weighted mean outcome of the
  matching patients, each weighted 1 / P(their arm | x). Unbiased whatever the outcome
  models, as long as the propensities are right.
- **DR** (doubly robust, AIPW): the outcome model's prediction under the policy's arm for
  every patient, corrected by the weighted residual of the matching patients. Consistent if
  either the propensities or the outcome models are right, and usually tighter than IPW.

Intervals are percentile intervals over patient-grouped bootstrap resamples of the rows
(:mod:`medtransfer.evaluate.resampling`), stratified by arm so each resample keeps both arms;
the differences policy - treat-all and policy - treat-none are paired (scored on the very
same resamples). The outcome models and propensities are held fixed across resamples: the
outcome models were fitted on other rows, and an estimated propensity held fixed makes the
IPW interval, if anything, conservative.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.errors import DataError
from medtransfer.evaluate.resampling import (
    bootstrap_resamples,
    paired_difference,
    paired_p_value,
    percentile_interval,
)
from medtransfer.params import AnyOf, Interval, Options, check_value

ESTIMATORS = ("ipw", "dr")
PROPENSITY = AnyOf(Options("logistic", "share"), Interval(float, 0, 1, closed="neither"),
                   hint="a known share such as 0.5 for a randomised trial")
# propensities are kept within [MIN_PROPENSITY, 1 - MIN_PROPENSITY]: a weight of 1 / 0.01
# would let one patient decide the value (the same 5% bound as the overlap warning)
MIN_PROPENSITY = 0.05


def propensity_scores(
    treatment: np.ndarray, covariates: np.ndarray | None = None, *,
    propensity: str | float = "logistic", random_state: int | None = 0,
) -> tuple[np.ndarray, dict]:
    """P(treated | x) of every row, and how it was obtained.

    Parameters
    ----------
    treatment : ndarray of shape (n,)
        1 treated, 0 control.
    covariates : ndarray of shape (n, d), optional
        Needed for ``propensity="logistic"``.
    propensity : "logistic", "share" or float, default="logistic"
        "logistic": a logistic model of the treatment on the (standardised) covariates,
        for observational data; "share": the treated share of the rows, for a randomised
        trial whose allocation ratio is not given; a number in (0, 1): the known
        allocation probability of a randomised trial.
    random_state : int or None, default=0
        Seed of the logistic model's solver.

    Returns
    -------
    scores : ndarray of shape (n,)
    description : dict
        ``kind`` ("known", "share" or "logistic"), and the mean, lowest and highest score.
    """
    check_value("policy_values", "propensity", propensity, PROPENSITY)
    t = _arms(treatment, "treatment")
    if propensity == "logistic":
        if covariates is None:
            raise DataError("propensity='logistic' needs the covariates of every row")
        model = propensity_model(random_state)
        scores = model.fit(np.asarray(covariates, dtype=float), t).predict_proba(covariates)[:, 1]
        kind = "logistic"
    else:
        share = t.mean() if propensity == "share" else float(propensity)
        scores, kind = np.full(len(t), share), ("share" if propensity == "share" else "known")
    return scores, {"kind": kind, "mean": float(scores.mean()), "min": float(scores.min()),
                    "max": float(scores.max())}


def propensity_model(random_state: int | None = 0) -> Pipeline:
    """The unfitted model of ``propensity="logistic"``: a logistic regression of the
    treatment on standardised covariates."""
    return make_pipeline(StandardScaler(), LogisticRegression(random_state=random_state))


def policy_values(
    outcome: np.ndarray, treatment: np.ndarray, policy: np.ndarray, mu0: np.ndarray,
    mu1: np.ndarray, propensity: np.ndarray, *, groups: np.ndarray | None = None,
    n_resamples: int = 1000, random_state: int | None = 0,
) -> dict:
    """IPW and DR values of ``policy``, treat-all and treat-none, with 95% intervals and the
    paired differences policy - treat-all and policy - treat-none.

    Parameters
    ----------
    outcome : ndarray of shape (n,)
        Observed outcome of each row (0/1 for a binary outcome: the value is then a risk).
    treatment : ndarray of shape (n,)
        The arm each row had: 1 treated, 0 control.
    policy : ndarray of shape (n,)
        The arm the policy gives each row: 1 or 0.
    mu0, mu1 : ndarray of shape (n,)
        Predicted outcome of each row under control and under treatment (the DR estimator's
        outcome models; fitted on other rows).
    propensity : ndarray of shape (n,)
        P(treated | x) of each row (:func:`propensity_scores`); kept within
        [MIN_PROPENSITY, 1 - MIN_PROPENSITY].
    groups : ndarray of shape (n,), optional
        Patient id of each row: whole patients are resampled.
    n_resamples : int, default=1000
        Bootstrap resamples of the intervals.
    random_state : int or None, default=0
        Seed of the resamples.

    Returns
    -------
    dict
        ``values``: for "policy", "treat_all" and "treat_none", per estimator ("ipw",
        "dr"), ``{value, low, high}``; ``differences``: for "policy - treat_all" and
        "policy - treat_none", per estimator, ``{value, low, high, p_value}``; ``n``,
        ``share_treated`` (of the policy) and ``n_clipped`` (propensities moved to the bound).
    """
    t, d = _arms(treatment, "treatment"), _arms(policy, "policy")
    y = np.asarray(outcome, dtype=float)
    arrays = [np.asarray(a, dtype=float) for a in (mu0, mu1, propensity)]
    if any(a.shape != y.shape for a in (t, d, *arrays)) or not np.isfinite(y).all():
        lengths = [len(a) for a in (y, t, d, *arrays)]
        raise DataError("policy value: outcome, treatment, policy, mu0, mu1 and propensity "
                        f"must hold one finite value per row each; got lengths {lengths}")
    e = np.clip(arrays[2], MIN_PROPENSITY, 1 - MIN_PROPENSITY)
    estimate = _Estimate(y, t, arrays[0], arrays[1], e)
    resamples = bootstrap_resamples(t.astype(int), groups=groups, n_resamples=n_resamples,
                                    random_state=random_state)
    policies = {"policy": d, "treat_all": np.ones_like(d), "treat_none": np.zeros_like(d)}
    values, differences = {}, {}
    for name, arms in policies.items():
        values[name] = {}
        for est in ESTIMATORS:
            draws = resamples.apply(lambda idx, a=arms, k=est: estimate(k, idx, a))
            low, high = percentile_interval(draws)
            values[name][est] = {"value": float(estimate(est, None, arms)), "low": low,
                                 "high": high}
    for other in ("treat_all", "treat_none"):
        differences[f"policy - {other}"] = {}
        for est in ESTIMATORS:
            draws = paired_difference(resamples, lambda idx, a, k=est: estimate(k, idx, a),
                                      d, policies[other])
            low, high = percentile_interval(draws)
            differences[f"policy - {other}"][est] = {
                "value": values["policy"][est]["value"] - values[other][est]["value"],
                "low": low, "high": high, "p_value": paired_p_value(draws)}
    clipped = int(np.sum(arrays[2] != e))
    return {"n": len(y), "share_treated": float(d.mean()), "n_clipped": clipped,
            "values": values, "differences": differences}


class _Estimate:
    """The IPW and DR values of any policy on any rows of one data set."""

    def __init__(self, y: np.ndarray, t: np.ndarray, mu0: np.ndarray, mu1: np.ndarray,
                 e: np.ndarray) -> None:
        self.y, self.t, self.mu0, self.mu1, self.e = y, t, mu0, mu1, e

    def __call__(self, estimator: str, idx: np.ndarray | None, policy: np.ndarray):
        """Value by ``estimator`` on rows ``idx`` (every row for None; one value per row of
        a 2-D index array)."""
        treat = policy == 1
        weight = (self.t == policy) / np.where(treat, self.e, 1 - self.e)
        predicted = np.where(treat, self.mu1, self.mu0)
        rows = slice(None) if idx is None else idx
        if estimator == "ipw":
            w = weight[rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.sum(w * self.y[rows], axis=-1) / np.sum(w, axis=-1)
        return np.mean(predicted[rows] + weight[rows] * (self.y[rows] - predicted[rows]),
                       axis=-1)


def _arms(values: np.ndarray, what: str) -> np.ndarray:
    arms = np.asarray(values, dtype=float)
    if not np.isin(arms, (0, 1)).all():
        raise DataError(f"policy value: {what} must be 1 (treated) or 0 (control) in every "
                        f"row; found {sorted({str(v) for v in arms[~np.isin(arms, (0, 1))]})[:5]}")
    return arms.astype(int)
