"""Which adaptations ignore target labels (``uses_target_labels``), proved; the cache that
reuses them across folds gives the plain fit's results and adapts once."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from tests.adapt.test_common import CASES, N_SOURCE, N_TARGET, build, make_problem

import medtransfer.select  # noqa: F401  (registers "auto")
from medtransfer.adapt.domain_estimator import AdaptedEstimator, check_domain_inputs
from medtransfer.adapt.fold_invariant import AdaptationCache
from medtransfer.adapt.harmonize import SiteStandardized
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.validation import out_of_fold, target_folds

# Reviewed: each _adapt was read and found to use only X, the domain codes (and, passed on but
# ignored by CORAL / PCA / the linear Monge map, the labels). A change here needs that review.
LABEL_FREE = {"coral", "subspace_alignment", "ot_linear", "kmm", "kliep", "density_ratio",
              "site_standardize", "combat", "tca"}
# AdaptedEstimators whose adaptation does read target labels (class-aware OT plans,
# pseudo-labels seeded by the labelled target rows, class means pulling the map).
LABEL_READING = ["ot_exact", "ot_entropic", "jda", "mapping_network"]


def _declared_free(name: str, task: str) -> bool:
    method = build(name, task)
    return isinstance(method, AdaptedEstimator) and not method.adaptation_uses_target_labels


FREE_CASES = [(n, t) for n, t in CASES if _declared_free(n, t)]


def two_masks(task: str):
    """The problem with two disjoint sets of labelled target rows (12 and 8)."""
    X, y, y_fit, domain = make_problem(None if task == "regression" else 2)
    other = y_fit.copy()
    target = np.arange(N_SOURCE, N_SOURCE + N_TARGET)
    other[target] = np.nan if task == "regression" else -1
    other[target[20:28]] = y[target[20:28]]
    return X, y_fit, other, domain


def adapted(method, X, y, domain):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features, weight = clone(method)._adapt(*check_domain_inputs(X, y, domain))
    return features, weight


def test_the_label_free_declarations_are_the_reviewed_ones():
    assert {n for n, _ in FREE_CASES} == LABEL_FREE
    assert not any(_declared_free(n, "classification") for n in LABEL_READING)


@pytest.mark.parametrize(("name", "task"), FREE_CASES)
def test_a_label_free_adaptation_is_bit_identical_under_other_target_labels(name, task):
    X, y_a, y_b, domain = two_masks(task)
    method = build(name, task)
    features_a, weight_a = adapted(method, X, y_a, domain)
    features_b, weight_b = adapted(method, X, y_b, domain)
    assert np.array_equal(features_a, features_b)
    assert (weight_a is None) == (weight_b is None)
    assert weight_a is None or np.array_equal(weight_a, weight_b)


@pytest.mark.slow
@pytest.mark.parametrize("name", LABEL_READING)
def test_a_label_reading_adaptation_changes_with_the_target_labels(name):
    X, y_a, y_b, domain = two_masks("classification")
    method = build(name)
    features_a, _ = adapted(method, X, y_a, domain)
    features_b, _ = adapted(method, X, y_b, domain)
    assert not np.array_equal(features_a, features_b)


def folds_of(y, domain, task="classification"):
    return target_folds(y, sample_domain=domain, task=task, n_splits=3, n_repeats=2,
                        random_state=0)


@pytest.mark.parametrize(("name", "task"), FREE_CASES)
def test_cached_folds_predict_exactly_as_plain_folds(name, task):
    X, y, _, domain = two_masks(task)
    folds = folds_of(y, domain, task)
    method = build(name, task)
    cache = AdaptationCache(X, y, domain)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain, error = out_of_fold(method, X, y, sample_domain=domain, folds=folds, task=task)
        cached, cached_error = out_of_fold(method, X, y, sample_domain=domain, folds=folds,
                                           task=task, cache=cache)
    assert error is None and cached_error is None
    assert np.array_equal(plain, cached)
    assert (cache.misses, cache.hits) == (1, len(folds) - 1)


class CountedSites(SiteStandardized):
    """Site standardisation counting its adaptations (a class-level list survives clone)."""

    calls: list = []  # noqa: RUF012

    def _adapt(self, X, y, rows):
        self.calls.append(len(X))
        return super()._adapt(X, y, rows)


class CountedLabelled(CountedSites):
    uses_target_labels = True


def fit_all(cache, method, X, ys, domain):
    return [cache.fit(clone(method), X, y, sample_domain=domain) for y in ys]


def test_the_cache_adapts_a_label_free_method_once_and_restores_its_state():
    X, y_a, y_b, domain = two_masks("classification")
    method = CountedSites(make_classifier("logreg", "classification", 0))
    CountedSites.calls.clear()
    first, second = fit_all(AdaptationCache(X, y_a, domain), method, X, [y_a, y_b], domain)
    assert len(CountedSites.calls) == 1
    plain = clone(method).fit(X, y_b, sample_domain=domain)
    assert np.array_equal(second.transform_domains(X, domain), plain.transform_domains(X, domain))
    assert np.array_equal(second.predict_proba(X), plain.predict_proba(X))
    assert first.location_ is second.location_  # the same fitted state, not recomputed


@pytest.mark.parametrize("change", ["label_reading", "other_X", "source_labels", "params"])
def test_the_cache_refits_when_reuse_would_not_be_exact(change):
    X, y_a, y_b, domain = two_masks("classification")
    cls = CountedLabelled if change == "label_reading" else CountedSites
    method = cls(make_classifier("logreg", "classification", 0))
    cache = AdaptationCache(X, y_a, domain)
    CountedSites.calls.clear()
    cache.fit(clone(method), X, y_a, sample_domain=domain)
    if change == "other_X":
        X = X.copy()  # equal values, but not the array the cache is bound to
    elif change == "source_labels":
        y_b = y_b.copy()
        y_b[0] = 1 - y_b[0]
    elif change == "params":
        method = method.set_params(estimator__logisticregression__C=0.5)
    cache.fit(clone(method), X, y_b, sample_domain=domain)
    assert len(CountedSites.calls) == 2


def test_the_adaptation_warnings_are_repeated_by_each_reuse():
    X, y_a, y_b, domain = two_masks("classification")
    method = build("kmm").set_params(max_samples=30)  # subsampled: warns
    cache = AdaptationCache(X, y_a, domain)
    for y in (y_a, y_b):
        with pytest.warns(UserWarning, match="solved on 30 source"):
            cache.fit(clone(method), X, y, sample_domain=domain)


def test_the_cache_drops_the_oldest_adaptation_past_its_memory_limit():
    X, y_a, y_b, domain = two_masks("classification")
    cache = AdaptationCache(X, y_a, domain, max_bytes=X.nbytes)  # room for one adaptation
    site, combat = build("site_standardize"), build("combat")
    for method in (site, combat, combat, site):
        cache.fit(clone(method), X, y_b, sample_domain=domain)
    assert (cache.misses, cache.hits) == (3, 1)
