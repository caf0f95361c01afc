"""Dosing metrics: MAE, PW20 and R², each with a seeded bootstrap 95% interval.

PW20 — the share of patients whose predicted dose is within ±20% of the dose they needed —
is the figure warfarin dosing studies report beside the mean absolute error (mg/week).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from medtransfer.errors import DataError
from medtransfer.evaluate.resampling import bootstrap_resamples, percentile_interval

Metric = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _check_doses(y_true, y_pred, positive: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Both as float arrays of equal length, finite, with positive true doses (any real
    true value when not ``positive``)."""
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        try:
            arrays.append(np.asarray(values, dtype=float).ravel())
        except (TypeError, ValueError):
            raise DataError(
                f"{name}: non-numeric dose value(s); expected weekly doses in mg as numbers: "
                "convert with pandas.to_numeric"
            ) from None
    true, pred = arrays
    if len(true) != len(pred) or len(true) == 0:
        raise DataError(
            f"y_true has {len(true)} doses and y_pred {len(pred)}; pass one prediction per "
            "patient (and at least one patient)"
        )
    for name, values in (("y_true", true), ("y_pred", pred)):
        if not np.all(np.isfinite(values)):
            raise DataError(
                f"{name}: {int(np.sum(~np.isfinite(values)))} missing or infinite value(s); "
                "drop those patients first (the IWPC formulas give NaN without age, height "
                "or weight)"
            )
    if positive and np.any(true <= 0):
        raise DataError(
            f"y_true: {int(np.sum(true <= 0))} dose(s) ≤ 0 mg/week; PW20 is relative to the "
            "true dose, which must be positive: drop or correct those patients"
        )
    return true, pred


# Metrics take (n_resamples, n) arrays so that all bootstrap resamples are scored at once.
def _mae(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(pred - true), axis=-1)


def _pw20(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(pred - true) <= 0.2 * true, axis=-1)


def _r2(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    residual = np.sum((true - pred) ** 2, axis=-1)
    total = np.sum((true - true.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.nan)


METRICS: dict[str, Metric] = {"mae": _mae, "pw20": _pw20, "r2": _r2}


def mae(y_true, y_pred) -> float:
    """Mean absolute error in mg/week."""
    return float(_mae(*_check_doses(y_true, y_pred)))


def pw20(y_true, y_pred) -> float:
    """Share of patients whose predicted dose is within ±20% of their true dose."""
    return within(y_true, y_pred, 0.2)


def within(y_true, y_pred, tolerance: float) -> float:
    """Share of patients whose predicted dose is within ±``tolerance`` (a fraction, 0.2 for
    PW20) of their true dose: PW15, PW20, PW25..."""
    true, pred = _check_doses(y_true, y_pred)
    return float(np.mean(np.abs(pred - true) <= tolerance * true))


def r2(y_true, y_pred) -> float:
    """Coefficient of determination of the dose (NaN if all true doses are equal)."""
    return float(_r2(*_check_doses(y_true, y_pred)))


def dosing_metrics(
    y_true,
    y_pred,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    groups=None,
    relative: bool = True,
) -> pd.DataFrame:
    """MAE, PW20 and R² with percentile bootstrap intervals.

    Parameters
    ----------
    y_true, y_pred : array-like of float
        True and predicted weekly doses (mg/week); true doses must be positive.
    n_bootstrap : int, default=1000
        Number of bootstrap resamples.
    confidence : float, default=0.95
        Coverage of the interval.
    random_state : int or None, default=0
        Seed of the resampling; the same seed gives the same interval.
    groups : array-like, optional
        Patient id of each row: whole patients are then resampled, so repeated measurements
        of one patient do not count as independent evidence. Without it, rows are resampled.
    relative : bool, default=True
        False leaves PW20 out (it is relative to the true value) and accepts any real true
        value: for an outcome that is not a positive dose (a change score, a z-scored lab).

    Returns
    -------
    DataFrame
        One row per metric ("mae", "pw20", "r2"; no "pw20" when not ``relative``) with
        columns ``metric``, ``value``, ``ci_low``, ``ci_high`` and ``n`` (rows).
    """
    true, pred = _check_doses(y_true, y_pred, positive=relative)
    if n_bootstrap < 1 or not 0 < confidence < 1:
        raise DataError(
            f"n_bootstrap={n_bootstrap}, confidence={confidence}: expected n_bootstrap ≥ 1 "
            "and 0 < confidence < 1 (e.g. 1000 and 0.95)"
        )
    resamples = bootstrap_resamples(len(true), groups=groups, n_resamples=n_bootstrap,
                                    random_state=random_state)
    records = []
    for name, metric in METRICS.items():
        if name == "pw20" and not relative:
            continue
        low, high = percentile_interval(
            resamples.apply(lambda idx, metric=metric: metric(true[idx], pred[idx])), confidence)
        records.append({"metric": name, "value": float(metric(true, pred)),
                        "ci_low": low, "ci_high": high, "n": len(true)})
    return pd.DataFrame.from_records(records)


def dosing_breakdown(
    y_true,
    y_pred,
    groups,
    *,
    by: str = "group",
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    patients=None,
) -> pd.DataFrame:
    """:func:`dosing_metrics` for every group (site, ancestry) and for all patients.

    Parameters
    ----------
    y_true, y_pred : array-like of float
        True and predicted weekly doses (mg/week).
    groups : array-like
        Group of each patient, e.g. ``domain.metadata["site"]`` or ``["race"]``.
    by : str, default="group"
        Name of the group column in the result.
    n_bootstrap, confidence, random_state
        As in :func:`dosing_metrics`; every group uses the same seed.
    patients : array-like, optional
        Patient id of each row, passed to :func:`dosing_metrics` as ``groups`` (whole
        patients resampled within each group).

    Returns
    -------
    DataFrame
        Columns ``by``, ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n``; the group
        "all" holds the figures over every patient.
    """
    true, pred = _check_doses(y_true, y_pred)
    groups = np.asarray(groups, dtype=object)
    if len(groups) != len(true):
        raise DataError(
            f"groups has {len(groups)} entries for {len(true)} patients; pass one group label "
            "per patient (e.g. domain.metadata['site'])"
        )
    patients = None if patients is None else np.asarray(patients)
    kwargs = {"n_bootstrap": n_bootstrap, "confidence": confidence, "random_state": random_state}
    tables = [dosing_metrics(true, pred, groups=patients, **kwargs).assign(**{by: "all"})]
    for group in sorted(set(groups), key=str):
        mask = groups == group
        within = None if patients is None else patients[mask]
        tables.append(dosing_metrics(true[mask], pred[mask], groups=within, **kwargs)
                      .assign(**{by: group}))
    table = pd.concat(tables, ignore_index=True)
    return table[[by, "metric", "value", "ci_low", "ci_high", "n"]]
