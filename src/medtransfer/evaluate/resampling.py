"""Seeded bootstrap resamples of cases, by patient when patient ids are given.

Every interval in the package is built from these: :func:`bootstrap_resamples` draws the
resamples (stratified, patient-grouped), :func:`percentile_interval` turns resampled values
into an interval, :func:`paired_difference` scores two models on the very same resamples and
:func:`paired_p_value` tests their difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from medtransfer.errors import ConfigError, DataError

Statistic = Callable[[np.ndarray], np.ndarray]


class Resamples:
    """Bootstrap resamples of case indices.

    Parameters
    ----------
    indices : ndarray of shape (n_resamples, n) or list of ndarray
        One row of case indices per resample; a list when whole patients of unequal sizes
        were drawn, so that resamples differ in length.
    """

    def __init__(self, indices: np.ndarray | list[np.ndarray]):
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.indices)

    def apply(self, statistic: Statistic) -> np.ndarray:
        """``statistic(idx)`` of every resample, one entry (or row) per resample.

        ``statistic`` takes a 2-D index array, one resample per row, and returns one value
        per row (e.g. ``lambda idx: np.mean(err[idx], axis=-1)``): all resamples are scored
        in one call when they are of equal length, one by one (as a single row) otherwise.
        """
        if isinstance(self.indices, np.ndarray):
            return np.asarray(statistic(self.indices))
        return np.concatenate([np.asarray(statistic(idx[None, :])) for idx in self.indices])


def group_strata(strata: np.ndarray, groups) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Unique patients, the stratum of each (its highest stratum value) and each one's rows."""
    g = np.asarray(groups)
    if g.shape[0] != strata.shape[0]:
        raise DataError(
            f"groups has {g.shape[0]} entries but there are {strata.shape[0]} cases; pass one "
            "patient id per case"
        )
    codes, inverse = np.unique(g, return_inverse=True)
    order = np.argsort(inverse, kind="mergesort")
    rows = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    patient_strata = np.array([strata[r].max() for r in rows])
    return codes, patient_strata, rows


def bootstrap_resamples(
    strata,
    *,
    groups=None,
    n_resamples: int = 1000,
    random_state: int | None = 0,
    stratum_major: bool = False,
) -> Resamples:
    """Draw ``n_resamples`` stratified bootstrap resamples of case indices.

    Each stratum keeps its size: its cases are drawn with replacement within it. With
    ``groups`` (one patient id per case) whole patients are drawn instead, stratified by each
    patient's highest stratum value, so all of a patient's cases enter a resample together
    and the interval reflects how many patients, not how many rows, were seen.

    Parameters
    ----------
    strata : array-like of shape (n,) or int
        Stratum of each case (class labels for classification); an int ``n`` means ``n``
        cases in a single stratum (regression, or an unstratified bootstrap).
    groups : array-like of shape (n,), optional
        Patient id of each case.
    n_resamples : int, default=1000
        Number of resamples.
    random_state : int or None, default=0
        Seed; the same seed yields the same resamples.
    stratum_major : bool, default=False
        Order of the random draws: all resamples of one stratum before the next stratum,
        rather than resample by resample. Both give valid bootstraps; the flag exists so that
        the paired comparisons of :mod:`medtransfer.select` keep the draws (and hence the
        seeded choices) they have always made. With a single stratum both orders coincide.

    Returns
    -------
    Resamples
        An (n_resamples, n) index matrix without ``groups``; with ``groups``, one index
        array per resample (patients differ in their number of cases).
    """
    if int(n_resamples) < 1:
        raise ConfigError(f"n_resamples={n_resamples}; use a positive number such as 1000")
    n_resamples = int(n_resamples)
    s = np.zeros(strata, dtype=int) if isinstance(strata, int | np.integer) else np.asarray(strata)
    if groups is None:
        return Resamples(_stratified_draws(s, n_resamples, random_state, stratum_major))
    _, patient_strata, rows = group_strata(s, groups)
    picked = _stratified_draws(patient_strata, n_resamples, random_state, stratum_major)
    return Resamples([np.concatenate([rows[i] for i in patients]) for patients in picked])


def _stratified_draws(
    strata: np.ndarray, n_resamples: int, random_state: int | None, stratum_major: bool
) -> np.ndarray:
    """(n_resamples, n) stratified draws with replacement, in one numpy call per stratum or
    one for all.

    Resample by resample, row r equals drawing ``rng.choice(members, members.size)`` for
    each stratum in turn with the same seed: one call consumes the generator element by
    element in C order, as the per-stratum calls would.
    """
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    rng = np.random.default_rng(random_state)
    if not members:
        return np.empty((n_resamples, 0), dtype=np.intp)
    if stratum_major:
        return np.concatenate(
            [m[rng.integers(0, m.size, size=(n_resamples, m.size))] for m in members], axis=1)
    pool = np.concatenate(members)
    sizes = np.concatenate([np.full(m.size, m.size) for m in members])
    offsets = np.repeat(np.cumsum([0] + [m.size for m in members[:-1]]), [m.size for m in members])
    draws = rng.integers(0, np.broadcast_to(sizes, (n_resamples, pool.size)))
    return pool[offsets + draws]


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values, ignoring resamples where the value is NaN."""
    values = np.asarray(values)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def paired_difference(
    resamples: Resamples,
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    pred_a: np.ndarray,
    pred_b: np.ndarray,
) -> np.ndarray:
    """``statistic(idx, pred_a) - statistic(idx, pred_b)`` on every resample.

    Both models are scored on the very same cases of each resample, so the spread of the
    difference accounts for the correlation between their errors. ``statistic`` is
    vectorised over the rows of an index matrix, as in :meth:`Resamples.apply`.
    """
    return resamples.apply(lambda idx: statistic(idx, pred_a) - statistic(idx, pred_b))


def paired_p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value that the paired difference is zero.

    Twice the smaller share of resamples on either side of zero, with the +1 correction
    so a finite number of resamples never claims p = 0.
    """
    d = differences[np.isfinite(differences)]
    if d.size == 0:
        return float("nan")
    below = (np.sum(d <= 0) + 1) / (d.size + 1)
    above = (np.sum(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2 * min(below, above)))
