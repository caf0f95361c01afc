"""Every registered method, discovered from the registry, honours the domain contract."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from medtransfer.adapt import METHODS
from medtransfer.models.classifiers import make_classifier

N_SOURCE, N_TARGET, N_LABELLED = 90, 60, 12


def make_problem(n_classes: int | None, seed: int = 0):
    """Shifted source/target with a constant and a duplicated column (degenerate features)."""
    rng = np.random.default_rng(seed)
    d = 4
    Xs = rng.normal(size=(N_SOURCE, d))
    Xt = rng.normal(size=(N_TARGET, d)) * 1.2 + 0.4
    w = rng.normal(size=(d, n_classes or 1))

    def labels(X):
        score = X @ w
        return X @ w[:, 0] if n_classes is None else np.argmax(score, axis=1)

    X = np.vstack([Xs, Xt])
    X = np.column_stack([X, np.full(len(X), 3.0), X[:, 0]])
    y = np.concatenate([labels(Xs), labels((Xt - 0.4) / 1.2)])
    if n_classes is None:
        y_fit = y.astype(float)
        y_fit[N_SOURCE + N_LABELLED :] = np.nan
    else:
        y_fit = y.astype(int)
        y_fit[N_SOURCE + N_LABELLED :] = -1
    domain = np.r_[np.ones(N_SOURCE), -2 * np.ones(N_TARGET)].astype(int)
    return X, y, y_fit, domain


def build(name: str, task: str = "classification", seed: int = 0):
    return METHODS.get(name).build(make_classifier("logreg", task, seed), seed)


def fit_quietly(estimator, X, y, domain):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, y, sample_domain=domain)


# "auto" registers when medtransfer.select is imported, which depends on collection order; it
# chooses among these methods and has its own tests (tests/select).
CLASSIFICATION = [n for n, m in METHODS.items() if "classification" in m.tasks and n != "auto"]
REGRESSION = [n for n, m in METHODS.items() if "regression" in m.tasks and n != "auto"]


def test_registry_declares_every_method_of_the_issue():
    expected = {
        "coral", "subspace_alignment", "tca", "jda", "ot_exact", "ot_entropic", "ot_linear",
        "mapping_network", "kmm", "kliep", "density_ratio", "adaptive_svm", "adaptive_logreg",
        "tradaboost", "label_shift", "site_standardize", "combat",
    }
    assert expected <= set(METHODS)
    for name in ("jda", "adaptive_svm", "adaptive_logreg", "tradaboost", "label_shift"):
        assert METHODS.get(name).tasks == ("classification",)
    for name in ("adaptive_svm", "adaptive_logreg", "tradaboost"):
        assert METHODS.get(name).needs_target_labels


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_contract(name, n_classes):
    X, y, y_fit, domain = make_problem(n_classes)
    estimator = build(name)
    assert fit_quietly(estimator, X, y_fit, domain) is estimator
    target = X[N_SOURCE:]
    proba = estimator.predict_proba(target)
    # A model that learnt from y = -1 rows would have -1 among its classes.
    assert list(estimator.classes_) == list(range(n_classes))
    assert proba.shape == (N_TARGET, n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-8)
    assert set(np.unique(estimator.predict(target))) <= set(range(n_classes))
    accuracy = np.mean(estimator.predict(target) == y[N_SOURCE:])
    assert accuracy > 1.5 / n_classes, f"{name}: accuracy {accuracy:.2f} near chance"


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_same_seed_same_numbers(name):
    X, _, y_fit, domain = make_problem(3, seed=1)
    first = fit_quietly(build(name, seed=7), X, y_fit, domain).predict_proba(X[N_SOURCE:])
    second = fit_quietly(build(name, seed=7), X, y_fit, domain).predict_proba(X[N_SOURCE:])
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", [n for n in CLASSIFICATION if n != "source_only"])
def test_labelled_target_rows_are_learnt_from(name):
    X, _, y_fit, domain = make_problem(2, seed=2)
    flipped = y_fit.copy()
    rows = slice(N_SOURCE, N_SOURCE + N_LABELLED)
    flipped[rows] = 1 - flipped[rows]
    before = fit_quietly(build(name), X, y_fit, domain).predict_proba(X[N_SOURCE:])
    after = fit_quietly(build(name), X, flipped, domain).predict_proba(X[N_SOURCE:])
    assert np.abs(before - after).max() > 1e-6


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_contract(name):
    X, y, y_fit, domain = make_problem(None)
    estimator = fit_quietly(build(name, "regression"), X, y_fit, domain)
    prediction = estimator.predict(X[N_SOURCE:])
    assert prediction.shape == (N_TARGET,)
    assert np.isfinite(prediction).all()
    assert np.corrcoef(prediction, y[N_SOURCE:])[0, 1] > 0.5
