"""Adapt once, fit many: reuse a method's adaptation across folds that differ in target labels.

Cross-validation on the k labelled target samples refits every candidate with different target
rows labelled, while the rows, their domains and the source labels stay the same. A method
whose adaptation reads no target label (``adaptation_uses_target_labels`` False: CORAL, KMM,
the density ratio, ComBat, ...) then adapts identically in every fold and in the final fit,
so :class:`AdaptationCache` computes ``_adapt`` once and each later fit only refits the final
predictor on its labelled rows. On the image suites this adaptation is most of ``auto``'s time
(CORAL's covariances of 1,280 features, KMM's quadratic programme).

The cache belongs to one training set and lives as long as the caller holds it (``auto``:
one ``fit``); it keeps arrays in memory only, never on disk.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

from medtransfer.adapt.domain_estimator import AdaptedEstimator, DomainRows
from medtransfer.data.sample_domain import target_type

MAX_BYTES = 2**30  # adapted features kept at most; the newest entry is always kept


@dataclass(frozen=True)
class _Adaptation:
    """What one ``_adapt`` call produced: its outputs, the fitted state it set on the method
    (what ``_map_target`` / ``_map_domain`` / ``training_weights`` read) and its warnings."""

    features: np.ndarray
    weight: np.ndarray | None
    state: dict
    warnings: tuple[warnings.WarningMessage, ...]

    @property
    def nbytes(self) -> int:
        return self.features.nbytes + (0 if self.weight is None else self.weight.nbytes)


class AdaptationCache:
    """Fit transfer methods on one training set, adapting fold-invariant methods only once.

    ``fit(method, X, y, sample_domain=...)`` is ``method.fit(X, y, sample_domain=...)``,
    except for an :class:`~medtransfer.adapt.domain_estimator.AdaptedEstimator` whose
    adaptation reads no target label, fitted on the bound ``X`` (the same array object), the
    bound domain codes and the bound source labels: its ``_adapt`` then runs on the first
    such fit of those parameters, and later fits reuse its features, weights and fitted
    state. Which target rows are labelled may differ from fit to fit; that is the point.
    The results are those of a plain ``fit``, bit for bit, since ``_adapt`` of such a method
    is a function of what stays fixed. (With ``random_state=None`` the one adaptation is one
    random draw, reused.) Warnings of the adaptation are re-issued by every fit that reuses it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The stacked rows every fit will see (held, not copied).
    y : array-like of shape (n_samples,)
        Labels; only the source rows' are bound (target labels may change between fits).
    sample_domain : array-like of shape (n_samples,)
        Domain codes (skada's convention).
    max_bytes : int, default=2**30
        Adapted features (and weights) kept in all; the oldest entries are dropped past it,
        never the newest, so a large problem keeps one candidate's adaptation at a time.
    """

    def __init__(self, X: np.ndarray, y, sample_domain, *, max_bytes: int = MAX_BYTES) -> None:
        self._X = X
        self._domain = np.array(sample_domain, copy=True)
        self._y_source = np.array(np.asarray(y)[self._domain > 0], copy=True)
        self._max_bytes = max_bytes
        self._entries: dict[Hashable, _Adaptation] = {}
        self.hits = 0
        self.misses = 0

    def fit(self, method: BaseEstimator, X, y, *, sample_domain) -> BaseEstimator:
        """``method.fit(X, y, sample_domain=sample_domain)``, reusing a cached adaptation
        where the method and the inputs allow it (see the class docstring)."""
        if not self._reusable(method, X, y, sample_domain):
            return method.fit(X, y, sample_domain=sample_domain)
        key = (_params_key(method), target_type(y))
        return method._fit_adapted(X, y, sample_domain, self._adapter_for(key, method))

    def _reusable(self, method, X, y, sample_domain) -> bool:
        if (not isinstance(method, AdaptedEstimator) or method.adaptation_uses_target_labels
                or type(method).fit is not AdaptedEstimator.fit):  # a fit of its own: not ours
            return False
        domain, y = np.asarray(sample_domain), np.asarray(y)
        return (X is self._X and _same(domain, self._domain)
                and len(y) == len(domain) and _same(y[domain > 0], self._y_source))

    def _adapter_for(self, key: Hashable, method: AdaptedEstimator) -> Callable:
        def adapt(X: np.ndarray, y: np.ndarray, rows: DomainRows):
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                entry = self._store(key, _adapt_recorded(method, X, y, rows))
            else:
                self.hits += 1
                for name, value in entry.state.items():
                    setattr(method, name, value)
            for w in entry.warnings:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            return entry.features, entry.weight

        return adapt

    def _store(self, key: Hashable, entry: _Adaptation) -> _Adaptation:
        self._entries[key] = entry
        while len(self._entries) > 1 and sum(e.nbytes for e in self._entries.values()) > (
                self._max_bytes):
            del self._entries[next(iter(self._entries))]  # the oldest (dicts keep order)
        return entry


def _adapt_recorded(method: AdaptedEstimator, X, y, rows: DomainRows) -> _Adaptation:
    """Run ``method._adapt`` and record its outputs, the attributes it set and its warnings."""
    before = dict(vars(method))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features, weight = method._adapt(X, y, rows)
    state = {name: value for name, value in vars(method).items()
             if name not in before or before[name] is not value}
    return _Adaptation(features, weight, state, tuple(caught))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    floats = a.dtype.kind == "f" and b.dtype.kind == "f"
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=floats))


def _params_key(value) -> Hashable:
    """A hashable key equal for an estimator and its unfitted clones: type and parameters,
    recursively; an object it cannot compare by value keys by identity (a clone's deep copy
    then misses: no reuse, never a wrong one)."""
    if isinstance(value, BaseEstimator):
        params = value.get_params(deep=False)
        return type(value), tuple((name, _params_key(params[name])) for name in sorted(params))
    if isinstance(value, np.ndarray):
        return "ndarray", value.dtype.str, value.shape, value.tobytes()
    if isinstance(value, list | tuple):
        return type(value), tuple(_params_key(v) for v in value)
    if isinstance(value, dict):
        return dict, tuple((k, _params_key(value[k])) for k in sorted(value, key=repr))
    if isinstance(value, str | bytes | int | float | bool | type(None) | np.generic):
        return type(value), value
    return _Identity(value)


class _Identity:
    """Key part for an object compared by identity; holding it keeps its id from reuse."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Identity) and other.value is self.value
