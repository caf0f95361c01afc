"""Clinical utility: decision curves, an operating point carried to new cases, and PPV/NPV
at a stated prevalence.

Net benefit at threshold probability t (Vickers & Elkin, Med Decis Making 2006) counts true
positives and charges each false positive t / (1 - t) of a true positive:
``NB(t) = TP/n - FP/n * t / (1 - t)``. Treating everyone scores ``prevalence - (1 -
prevalence) t / (1 - t)``, treating no one 0.
"""

from __future__ import annotations

import numpy as np

from medtransfer.evaluate.bootstrap import bootstrap_indices
from medtransfer.evaluate.metrics import ratio
from medtransfer.evaluate.resampling import percentile_interval
from medtransfer.params import AnyOf, Interval, check_value

THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)
OPERATING_MEASURES = ("sensitivity", "specificity", "ppv", "npv")


def net_benefit(y_true, p_positive, thresholds=THRESHOLDS) -> np.ndarray:
    """Net benefit of treating the cases whose predicted risk is at least each threshold."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(p_positive, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    treated = p[None, :] >= t[:, None]
    tp = (treated & (y == 1)).sum(axis=1) / len(y)
    fp = (treated & (y == 0)).sum(axis=1) / len(y)
    return tp - fp * t / (1 - t)


def decision_curve(y_true, p_by_model: dict[str, np.ndarray],
                   thresholds=THRESHOLDS) -> dict[str, np.ndarray | dict]:
    """Net benefit of each model, of treating all and of treating none, per threshold."""
    y = np.asarray(y_true, dtype=int)
    t = np.asarray(thresholds, dtype=float)
    prevalence = float(np.mean(y == 1))
    return {"thresholds": t, "treat_all": prevalence - (1 - prevalence) * t / (1 - t),
            "treat_none": np.zeros_like(t),
            "models": {name: net_benefit(y, p, t) for name, p in p_by_model.items()}}


PREVALENCE = AnyOf(None, Interval(float, 0, 1, closed="neither"), hint=(
    "the expected share of positive cases where the model will be used, e.g. 0.15"))


def check_prevalence(prevalence: float | None, owner: str = "operating_point") -> None:
    """Refuse a prevalence that is not a proportion strictly between 0 and 1."""
    check_value(owner, "prevalence", prevalence, PREVALENCE)


def adjusted_values(sensitivity: float, specificity: float, prevalence: float) -> dict:
    """PPV and NPV at ``prevalence`` from sensitivity and specificity (Bayes' rule)."""
    pos, neg = sensitivity * prevalence, (1 - specificity) * (1 - prevalence)
    tn, fn = specificity * (1 - prevalence), (1 - sensitivity) * prevalence
    return {"ppv": ratio(pos, pos + neg), "npv": ratio(tn, tn + fn)}


def operating_measures(y: np.ndarray, p: np.ndarray, threshold: float,
                       prevalence: float | None) -> dict[str, float]:
    """Sensitivity, specificity, PPV, NPV at ``threshold`` (and PPV/NPV at ``prevalence``)."""
    called = p >= threshold
    tp, fp = np.sum(called & (y == 1)), np.sum(called & (y == 0))
    fn, tn = np.sum(~called & (y == 1)), np.sum(~called & (y == 0))
    found = {"sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp),
             "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn)}
    if prevalence is not None:
        adjusted = adjusted_values(found["sensitivity"], found["specificity"], prevalence)
        found.update({f"{k}_at_prevalence": v for k, v in adjusted.items()})
    return found


def operating_point(
    y_true, p_positive, threshold: float, *, prevalence: float | None = None,
    n_resamples: int = 500, random_state: int | None = 0,
) -> dict[str, dict]:
    """Sensitivity, specificity, PPV and NPV at a fixed ``threshold``, with stratified
    bootstrap 95% intervals; with ``prevalence`` also ``ppv_at_prevalence`` and
    ``npv_at_prevalence``, the predictive values where the share of positives is
    ``prevalence`` (from the same sensitivity and specificity)."""
    check_prevalence(prevalence)
    y, p = np.asarray(y_true, dtype=int), np.asarray(p_positive, dtype=float)
    point = operating_measures(y, p, threshold, prevalence)
    draws = [operating_measures(y[i], p[i], threshold, prevalence)
             for i in bootstrap_indices(y, n_resamples=n_resamples, random_state=random_state)]
    result = {}
    for name, value in point.items():
        low, high = percentile_interval(np.array([d[name] for d in draws]))
        result[name] = {"value": value, "low": low, "high": high}
    return result
