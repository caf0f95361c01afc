"""Per-subgroup performance (site, sex, age band) with bootstrap intervals."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from medtransfer.errors import DataError
from medtransfer.evaluate.bootstrap import evaluate_predictions
from medtransfer.evaluate.metrics import check_predictions

AGE_EDGES = (40, 50, 60, 70)


def age_bands(age, edges: Sequence[float] = AGE_EDGES) -> pd.Series:
    """Ages binned into readable bands ("<40", "40-49", ..., ">=70"); missing stays missing.

    Parameters
    ----------
    age : array-like of float
        Ages in years.
    edges : sequence of float, default (40, 50, 60, 70)
        Increasing band boundaries.

    Returns
    -------
    pandas.Series
        Band label per case (string dtype, NA where age is missing).
    """
    a = pd.to_numeric(pd.Series(age), errors="coerce").to_numpy(dtype=float)
    e = list(edges)
    labels = [f"<{e[0]:g}"]
    labels += [f"{lo:g}-{hi - 1:g}" for lo, hi in itertools.pairwise(e)]
    labels.append(f">={e[-1]:g}")
    idx = np.searchsorted(np.asarray(e, dtype=float), a, side="right")
    band = np.array(labels, dtype=object)[np.minimum(idx, len(labels) - 1)]
    out = pd.Series(band, dtype="string")
    return out.mask(np.isnan(a))


def subgroup_metrics(
    y_true,
    proba,
    *,
    class_names: Sequence[str],
    subgroups: pd.DataFrame,
    groups=None,
    n_resamples: int = 200,
    threshold: float | None = None,
    random_state: int | None = 0,
    min_size: int = 10,
) -> pd.DataFrame:
    """Every metric within each subgroup, with a bootstrap 95% interval.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True labels (codes into ``class_names``).
    proba : array-like, shape (n, K) or (n,)
        Predicted probabilities.
    class_names : sequence of str
        Class names.
    subgroups : DataFrame
        One column per attribute (e.g. ``site``, ``sex``, ``age_band`` from
        :func:`age_bands`), one row per case. Missing values form no subgroup.
    groups : array-like, optional
        Patient id per case; resampling is then by patient.
    n_resamples : int, default 200
        Bootstrap resamples per subgroup.
    threshold : float, optional
        Binary operating threshold (default 0.5).
    random_state : int or None, default 0
        Seed of the resampling.
    min_size : int, default 10
        Subgroups with fewer cases are listed with their size only (metrics NaN): intervals
        on a handful of cases would mislead.

    Returns
    -------
    pandas.DataFrame
        Long format: attribute, subgroup, n, metric, value, low, high.
    """
    y, p = check_predictions(y_true, proba, class_names)
    table = pd.DataFrame(subgroups).reset_index(drop=True)
    if len(table) != len(y):
        raise DataError(
            f"subgroups has {len(table)} rows but there are {len(y)} cases; pass one row per case"
        )
    g = None if groups is None else np.asarray(groups)
    rows = []
    for attribute in table.columns:
        for value, index in table.groupby(attribute, dropna=True).indices.items():
            rows += subgroup_rows(
                attribute, value, index, y, p, g,
                {"class_names": class_names, "n_resamples": n_resamples,
                 "threshold": threshold, "random_state": random_state},
                min_size,
            )
    return pd.DataFrame(rows, columns=["attribute", "subgroup", "n", "metric", "value", "low",
                                       "high"])


def subgroup_rows(attribute, value, index, y, p, g, kwargs: dict, min_size: int) -> list[dict]:
    """Rows of the subgroup table for the cases ``index`` of one subgroup."""
    base = {"attribute": str(attribute), "subgroup": str(value), "n": int(index.size)}
    if index.size < min_size:
        return [{**base, "metric": "n", "value": float(index.size), "low": np.nan,
                 "high": np.nan}]
    sub_groups = None if g is None else g[index]
    result = evaluate_predictions(y[index], p[index], groups=sub_groups, **kwargs)
    return [{**base, "metric": name, **ci} for name, ci in result.items()]
