"""Stratified (optionally patient-level) bootstrap 95% intervals for every metric."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from rich.progress import Progress

from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.metrics import check_predictions, classification_metrics

MetricFn = Callable[[np.ndarray], dict[str, float]]


def group_strata(y: np.ndarray, groups) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Unique patients, the stratum of each (its highest label) and each patient's rows."""
    g = np.asarray(groups)
    if g.shape[0] != y.shape[0]:
        raise DataError(
            f"groups has {g.shape[0]} entries but there are {y.shape[0]} cases; pass one "
            "patient id per case"
        )
    codes, inverse = np.unique(g, return_inverse=True)
    order = np.argsort(inverse, kind="mergesort")
    rows = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    strata = np.array([y[r].max() for r in rows])
    return codes, strata, rows


def bootstrap_indices(
    y_true, *, groups=None, n_resamples: int = 1000, random_state: int | None = 0
) -> Iterator[np.ndarray]:
    """Yield ``n_resamples`` stratified bootstrap samples of case indices.

    Without ``groups`` each class keeps its size (cases drawn with replacement within the
    class). With ``groups`` (one patient id per case) whole patients are drawn, stratified by
    each patient's highest label, so all of a patient's cases enter a resample together.

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
    if int(n_resamples) < 1:
        raise ConfigError(f"n_resamples={n_resamples}; use a positive number such as 1000")
    y = np.asarray(y_true)
    if groups is None:
        yield from resample_matrix(y, int(n_resamples), random_state)
        return
    _, strata, rows = group_strata(y, groups)
    for picked in resample_matrix(strata, int(n_resamples), random_state):
        yield np.concatenate([rows[i] for i in picked])


def resample_matrix(strata: np.ndarray, n_resamples: int, random_state: int | None) -> np.ndarray:
    """(n_resamples, n) stratified draws with replacement, one numpy call for all of them.

    Row r equals what drawing ``rng.choice(members, members.size)`` for each stratum in turn,
    resample after resample, gives with the same seed: the draws of one call consume the
    generator element by element in the same order.
    """
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    pool = np.concatenate(members) if members else np.empty(0, dtype=np.intp)
    sizes = np.concatenate([np.full(m.size, m.size) for m in members]) if members else pool
    offsets = np.repeat(np.cumsum([0] + [m.size for m in members[:-1]]), [m.size for m in members])
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, np.broadcast_to(sizes, (n_resamples, pool.size)))
    return pool[offsets + draws]


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values, ignoring resamples where the metric is NaN."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


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
