"""Permutation feature importance for tables, ranked, with feature names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.inspection import permutation_importance
from sklearn.utils.validation import check_is_fitted

from medtransfer.errors import ConfigError, DataError


@dataclass(frozen=True)
class FeatureImportance:
    """How much the score drops when one feature's values are shuffled.

    Attributes
    ----------
    feature : str
    mean, std : float
        Mean and standard deviation of the score drop over the repeats.
    rank : int
        1 for the most important feature.
    """

    feature: str
    mean: float
    std: float
    rank: int


def rank_features(
    estimator: BaseEstimator,
    X: pd.DataFrame | np.ndarray,
    y: np.ndarray,
    *,
    feature_names: Sequence[str] | None = None,
    scoring: str | None = None,
    n_repeats: int = 5,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> list[FeatureImportance]:
    """Permutation importance of every feature, most important first.

    Wraps :func:`sklearn.inspection.permutation_importance`; use held-out rows (the target
    test set) so that the ranking describes what the model relies on where it is used.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
    X : DataFrame or ndarray (n, d)
    y : ndarray (n,)
    feature_names : sequence of str or None
        Names for ndarray columns; a DataFrame's columns by default.
    scoring : str or None
        sklearn scorer name (e.g. "roc_auc"); None uses the estimator's ``score``.
    n_repeats, random_state, n_jobs
        As in sklearn; the same ``random_state`` gives the same ranking.

    Returns
    -------
    list of FeatureImportance
    """
    names = _names(X, feature_names)
    if len(X) != len(y):
        raise DataError(
            f"X has {len(X)} rows but y has {len(y)} labels; pass one label per row"
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise ConfigError(
            f"{type(estimator).__name__} is not fitted; call fit before ranking features"
        ) from None
    result = permutation_importance(
        estimator, X, y, scoring=scoring, n_repeats=n_repeats, random_state=random_state,
        n_jobs=n_jobs,
    )
    order = np.argsort(-result.importances_mean, kind="stable")
    return [
        FeatureImportance(names[i], float(result.importances_mean[i]),
                          float(result.importances_std[i]), rank)
        for rank, i in enumerate(order, start=1)
    ]


def _names(X: pd.DataFrame | np.ndarray, feature_names: Sequence[str] | None) -> list[str]:
    n_columns = X.shape[1]
    if feature_names is None:
        if isinstance(X, pd.DataFrame):
            return [str(c) for c in X.columns]
        return [f"x{i}" for i in range(n_columns)]
    if len(feature_names) != n_columns:
        raise ConfigError(
            f"{len(feature_names)} feature_names for {n_columns} columns of X; pass one name "
            "per column (or none to use the DataFrame's columns)"
        )
    return [str(c) for c in feature_names]
