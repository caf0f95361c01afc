"""Which adaptations ignore target labels (``uses_target_labels``), proved."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from tests.adapt.test_common import CASES, N_SOURCE, N_TARGET, build, make_problem

import medtransfer.select  # noqa: F401  (registers "auto")
from medtransfer.adapt.domain_estimator import AdaptedEstimator, check_domain_inputs

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
