"""Stratified (optionally patient-level) bootstrap 95% intervals for every classification metric."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from rich.progress import Progress

from medtransfer.evaluate.metrics import check_predictions, classification_metrics
from medtransfer.evaluate.resampling import bootstrap_resamples, percentile_interval

MetricFn = Callable[[np.ndarray], dict[str, float]]


def bootstrap_indices(
    y_true, *, groups=None, n_resamples: int = 1000, random_state: int | None = 0
) -> Iterator[np.ndarray]:
    """Yield ``n_resamples`` stratified bootstrap samples of case indices.

    Without ``groups`` each class keeps its size (cases drawn with replacement within the
    class). With ``groups`` (one patient id per case) whole patients are drawn, stratified by
    each patient's highest label, so all of a patient's cases enter a resample together.
    The draws are those of :func:`~medtransfer.evaluate.resampling.bootstrap_resamples`.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        Labels used as strata.
    groups : array-like, shape (n,), optional
        Patient id of each case.
    n_resamples : int, default 1000
        Number of resamples.
    random_state : int or None, default 0
        Seed; the same seed yields the same resamples.

    Yields
    ------
    ndarray of int
        Indices of one resample.
    """
    yield from bootstrap_resamples(
        np.asarray(y_true), groups=groups, n_resamples=n_resamples, random_state=random_state
    )


def bootstrap_distribution(
    metric_fn: MetricFn,
    y: np.ndarray,
    *,
    groups=None,
    n_resamples: int = 1000,
    random_state: int | None = 0,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Evaluate ``metric_fn(indices)`` on every resample; return one array per metric."""
    draws: list[dict[str, float]] = []
    samples = bootstrap_indices(
        y, groups=groups, n_resamples=n_resamples, random_state=random_state
    )
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("bootstrap", total=n_resamples)
        for idx in samples:
            draws.append(metric_fn(idx))
            bar.advance(task)
    return {name: np.array([d[name] for d in draws]) for name in draws[0]}


def evaluate_predictions(
    y_true,
    proba,
    *,
    class_names: Sequence[str],
    groups=None,
    n_resamples: int = 1000,
    threshold: float | None = None,
    random_state: int | None = 0,
    positive: int = 1,
    progress: bool = False,
) -> dict[str, dict]:
    """Every metric of :func:`classification_metrics` with a bootstrap 95% interval.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True labels (codes into ``class_names``).
    proba : array-like, shape (n, K) or (n,)
        Predicted probabilities.
    class_names : sequence of str
        Class names.
    groups : array-like, optional
        Patient id per case; resampling is then by patient.
    n_resamples : int, default 1000
        Bootstrap resamples.
    threshold : float, optional
        Binary operating threshold, fixed across resamples (default 0.5).
    random_state : int or None, default 0
        Seed of the resampling.
    positive : int, default 1
        Index of the positive class (binary).
    progress : bool, default False
        Show a rich progress bar.

    Returns
    -------
    dict
        ``{metric: {"value": point estimate, "low": 2.5th, "high": 97.5th percentile}}``.
    """
    y, p = check_predictions(y_true, proba, class_names)
    kwargs = {"class_names": class_names, "threshold": threshold, "positive": positive}
    point = classification_metrics(y, p, **kwargs)
    dist = bootstrap_distribution(
        lambda idx: classification_metrics(y[idx], p[idx], **kwargs),
        y, groups=groups, n_resamples=n_resamples, random_state=random_state,
        progress=progress,
    )
    result = {}
    for name, value in point.items():
        low, high = percentile_interval(dist[name])
        result[name] = {"value": value, "low": low, "high": high}
    return result
