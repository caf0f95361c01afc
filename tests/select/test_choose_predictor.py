"""The final predictor's family, chosen by cross-validation on the labelled source rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medtransfer.datasets.heart import heart_disease
from medtransfer.errors import ConfigError
from medtransfer.features.tabular import TabularEncoder
from medtransfer.models.classifiers import CLASSIFIERS
from medtransfer.select.auto import AutoTransfer
from medtransfer.select.predictor import choose_predictor


@pytest.fixture(scope="module")
def cleveland_to_hungary():
    """Cleveland (source) and Hungary (target) encoded together, every label kept."""
    source, target = heart_disease("Cleveland"), heart_disease("Hungary")
    frame = pd.concat([source.inputs, target.inputs], ignore_index=True)
    sample_domain = np.r_[np.ones(len(source)), -2 * np.ones(len(target))].astype(int)
    encoder = TabularEncoder(zero_as_missing=("chol",)).fit(frame, sample_domain=sample_domain)
    y = np.r_[source.labels, target.labels].astype(int)
    return encoder.transform(frame), y, sample_domain


def _choose(X, y, sample_domain, random_state=0):
    name, estimator, evidence = choose_predictor(X, y, sample_domain=sample_domain,
                                                 task="classification",
                                                 random_state=random_state)
    evidence.pop("time_s")
    return name, estimator, evidence


def test_logistic_regression_wins_on_cleveland_with_the_best_recorded_score(
        cleveland_to_hungary):
    name, estimator, evidence = _choose(*cleveland_to_hungary)
    means = {family: record["mean"] for family, record in evidence["families"].items()}
    assert set(means) == set(CLASSIFIERS)
    assert name == evidence["chosen"] == "logreg"
    assert means["logreg"] == max(means.values())
    assert all(means["logreg"] - m > 0.02 for f, m in means.items() if f != "logreg")
    tuning = evidence["families"]["logreg"]["tuning"]
    assert estimator.get_params()["logisticregression__C"] == tuning["value"]
    assert evidence["n_source"] == 304 and evidence["reason"].startswith("logreg had the best")


def test_target_labels_do_not_change_the_choice(cleveland_to_hungary):
    X, y, sample_domain = cleveland_to_hungary
    target = sample_domain < 0
    flipped, hidden = y.copy(), y.copy()
    flipped[target] = 1 - y[target]
    hidden[target] = -1
    chosen = _choose(X, y, sample_domain)[2]
    assert _choose(X, flipped, sample_domain)[2] == chosen == _choose(X, hidden, sample_domain)[2]


def test_the_choice_is_reproducible_for_a_seed(cleveland_to_hungary):
    first, again = _choose(*cleveland_to_hungary, 3)[2], _choose(*cleveland_to_hungary, 3)[2]
    assert first == again
    assert _choose(*cleveland_to_hungary, 4)[2]["families"] != first["families"]  # new folds


def test_regression_scores_values_and_prefers_ridge_on_a_linear_outcome():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 6))
    y = X @ np.array([2.0, -1.0, 0.5, 0.0, 0.0, 0.0]) + 0.3 * rng.normal(size=160)
    y[120:] = np.nan  # unlabelled target rows
    sample_domain = np.r_[np.ones(120), -2 * np.ones(40)].astype(int)
    name, _, evidence = choose_predictor(X, y, sample_domain=sample_domain, task="regression",
                                         random_state=0)
    assert name == "logreg" and evidence["metric"] == "negative MAE"
    assert all(r["mean"] < 0 for r in evidence["families"].values())


def test_an_unknown_family_is_one_clear_error(cleveland_to_hungary):
    X, y, sample_domain = cleveland_to_hungary
    with pytest.raises(ConfigError, match=r"unknown classifier 'logregg'.*'logreg'"):
        choose_predictor(X, y, sample_domain=sample_domain, task="classification",
                         families=["svm", "logregg"])


def test_too_few_source_rows_fall_back_to_the_first_family(cleveland_to_hungary):
    X, y, sample_domain = cleveland_to_hungary
    y = y.copy()
    y[np.flatnonzero((sample_domain > 0) & (y == 1))[1:]] = 0  # one source row of class 1
    name, _, evidence = choose_predictor(X, y, sample_domain=sample_domain,
                                         task="classification", families=["svm", "logreg"])
    assert name == "svm" and "too few labelled source rows" in evidence["reason"]


def test_auto_transfer_chooses_the_family_before_comparing_methods(cleveland_to_hungary):
    X, y, sample_domain = cleveland_to_hungary
    y = y.copy()
    target = np.flatnonzero(sample_domain < 0)
    kept = np.r_[target[y[target] == 0][:10], target[y[target] == 1][:10]]
    y[np.setdiff1d(target, kept)] = -1  # 10 labelled target rows per class for auto
    auto = AutoTransfer("auto", candidates=[], n_repeats=1, random_state=0)
    auto.fit(X, y, sample_domain=sample_domain)
    chosen = auto.evidence_["final_predictor"]
    assert chosen["chosen"] == "logreg" and set(chosen["families"]) == set(CLASSIFIERS)
    with pytest.raises(ConfigError, match="estimator='svm'"):
        AutoTransfer("svm").fit(X, y, sample_domain=sample_domain)
