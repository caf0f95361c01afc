"""The final predictor's regularisation, chosen by cross-validation on labelled source rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from medtransfer.models.classifiers import make_classifier
from medtransfer.select.predictor import C_GRID, default_grid, tune_on_source


def noisy_source(seed: int = 0, n_s: int = 120, n_t: int = 60, d: int = 40):
    """One weak signal among many noise columns: strong regularisation wins on the source."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_s + n_t, d))
    y_all = (X[:, 0] + 1.5 * rng.normal(size=n_s + n_t) > 0).astype(int)
    y = np.r_[y_all[:n_s], np.full(n_t, -1)]
    y[n_s : n_s + 10] = 1 - y_all[n_s : n_s + 10]  # target labels the tuning must not read
    sample_domain = np.r_[np.ones(n_s), -2 * np.ones(n_t)].astype(int)
    return X, y, sample_domain


def test_default_grid_names_the_c_of_a_classifier_and_nothing_else():
    grid = default_grid(make_classifier("logreg"), "classification")
    assert list(grid) == ["logisticregression__C"]
    assert grid["logisticregression__C"] == sorted(set(C_GRID), reverse=True)
    assert default_grid(LogisticRegression(C=5.0), "classification")["C"][0] == 5.0
    assert default_grid(make_classifier("logreg", "regression"), "regression") == {}
    assert default_grid(SVC(), "classification") == {}  # its C wants another grid


@pytest.mark.slow
def test_the_chosen_value_is_the_best_source_cv_score_and_target_labels_are_not_read():
    X, y, sd = noisy_source()
    grid = default_grid(make_classifier("logreg"), "classification")
    tuned, evidence = tune_on_source(make_classifier("logreg"), X, y, sample_domain=sd,
                                     grid=grid, task="classification", random_state=0)
    means = {s["value"]: s["mean"] for s in evidence["scores"]}
    assert evidence["tuned"] and evidence["value"] == max(means, key=means.get)
    assert tuned.get_params()["logisticregression__C"] == evidence["value"] < 1.0
    assert evidence["n_source"] == 120 and "120 labelled source rows" in evidence["reason"]
    y_other = y.copy()
    y_other[sd < 0] = -1  # the same choice, scores and all, without any target label
    _, again = tune_on_source(make_classifier("logreg"), X, y_other, sample_domain=sd,
                              grid=grid, task="classification", random_state=0)
    assert again["scores"] == evidence["scores"]


def test_nothing_to_tune_or_too_few_source_rows_leave_the_predictor_as_given():
    X, y, sd = noisy_source()
    estimator = make_classifier("logreg")
    same, evidence = tune_on_source(estimator, X, y, sample_domain=sd, grid={},
                                    task="classification")
    assert same is estimator and not evidence["tuned"]
    y_rare = y.copy()
    y_rare[np.flatnonzero((sd > 0) & (y == 1))[1:]] = 0  # one source row of class 1
    same, evidence = tune_on_source(estimator, X, y_rare, sample_domain=sd,
                                    grid=default_grid(estimator, "classification"),
                                    task="classification")
    assert same is estimator and "too few labelled source rows" in evidence["reason"]
