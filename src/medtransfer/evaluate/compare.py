"""Paired comparison of two models on the same cases (e.g. adapted vs source-only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medtransfer.evaluate.bootstrap import bootstrap_distribution
from medtransfer.evaluate.delong import delong_test
from medtransfer.evaluate.metrics import check_predictions, classification_metrics
from medtransfer.evaluate.resampling import paired_p_value, percentile_interval


def compare_models(
    y_true,
    proba_a,
    proba_b,
    *,
    class_names: Sequence[str],
    groups=None,
    n_resamples: int = 1000,
    threshold: float | None = None,
    random_state: int | None = 0,
    positive: int = 1,
    progress: bool = False,
) -> dict[str, dict]:
    """Paired bootstrap comparison of model A against model B on the same cases.

    Both models are scored on the very same resamples, so the interval of the difference
    accounts for the correlation between them. For binary tasks the AUROC entry also carries
    DeLong's paired test.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True labels (codes into ``class_names``).
    proba_a, proba_b : array-like, shape (n, K) or (n,)
        Probabilities of model A (e.g. adapted) and model B (e.g. source-only).
    class_names : sequence of str
        Class names.
    groups : array-like, optional
        Patient id per case; resampling is then by patient.
    n_resamples : int, default 1000
        Bootstrap resamples.
    threshold : float, optional
        Binary operating threshold applied to both models (default 0.5).
    random_state : int or None, default 0
        Seed of the resampling.
    positive : int, default 1
        Index of the positive class (binary).
    progress : bool, default False
        Show a rich progress bar.

    Returns
    -------
    dict
        ``{metric: {"a", "b", "difference", "low", "high", "p_value"}}`` where difference is
        a - b with its 95% paired bootstrap interval; binary ``auroc`` adds ``delong_p``.
    """
    y, pa = check_predictions(y_true, proba_a, class_names)
    _, pb = check_predictions(y_true, proba_b, class_names)
    kwargs = {"class_names": class_names, "threshold": threshold, "positive": positive}
    point_a = classification_metrics(y, pa, **kwargs)
    point_b = classification_metrics(y, pb, **kwargs)

    def difference(idx: np.ndarray) -> dict[str, float]:
        ma = classification_metrics(y[idx], pa[idx], **kwargs)
        mb = classification_metrics(y[idx], pb[idx], **kwargs)
        return {name: ma[name] - mb[name] for name in ma}

    dist = bootstrap_distribution(
        difference, y, groups=groups, n_resamples=n_resamples, random_state=random_state,
        progress=progress,
    )
    result = {}
    for name in point_a:
        low, high = percentile_interval(dist[name])
        result[name] = {
            "a": point_a[name], "b": point_b[name], "difference": point_a[name] - point_b[name],
            "low": low, "high": high, "p_value": paired_p_value(dist[name]),
        }
    if len(class_names) == 2:
        pos = int(positive)
        result["auroc"]["delong_p"] = delong_test((y == pos).astype(int), pa[:, pos], pb[:, pos])[
            "p_value"
        ]
    return result
