"""Few-label cross-validation, the paired bootstrap, and k = 0 scorers with abstention."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, roc_auc_score

from medtransfer.adapt.baselines import SourceOnly, TargetOnly
from medtransfer.data.sample_domain import target_type
from medtransfer.errors import DataError
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.unsupervised import agreement_choice, score_without_labels
from medtransfer.select.validation import (
    _batch_metric,
    balanced_brier,
    metric,
    out_of_fold,
    paired_bootstrap,
    target_folds,
    validate_methods,
)


def stacked(seed: int = 0, n_s: int = 120, n_t: int = 80, k: int = 30, n_classes: int = 2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_s + n_t, 4))
    y = np.digitize(X[:, 0] + 0.5 * rng.normal(size=n_s + n_t),
                    np.quantile(X[:, 0], np.linspace(0, 1, n_classes + 1)[1:-1]))
    sd = np.r_[np.ones(n_s), -2 * np.ones(n_t)].astype(int)
    y_hidden = y.copy()
    y_hidden[n_s + k :] = -1
    return X, y_hidden, sd, y


def test_folds_use_only_labelled_target_rows_and_every_test_fold_has_every_class():
    _, y, sd, _ = stacked()
    folds = target_folds(y, sample_domain=sd, task="classification", n_splits=5, n_repeats=2,
                         random_state=0)
    labelled = set(np.flatnonzero((sd < 0) & (y != -1)))
    assert len(folds) == 10
    for train, test in folds:
        assert set(train) | set(test) == labelled and not set(train) & set(test)
        assert set(y[test]) == {0, 1}


def test_grouped_folds_keep_each_patient_in_one_fold():
    _, y, sd, _ = stacked(k=40)
    groups = np.r_[np.arange(120), 1000 + np.arange(80) // 2]  # two visits per target patient
    folds = target_folds(y, sample_domain=sd, task="classification", groups=groups,
                         n_splits=4, n_repeats=2, random_state=1)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])


def test_a_class_with_one_labelled_target_sample_is_named_with_the_fix():
    _, y, sd, _ = stacked()
    ones = np.flatnonzero((sd < 0) & (y == 1))
    y[ones[1:]] = -1
    with pytest.raises(DataError, match=r"class 1 has 1; need at least 2.*--target-labels 0"):
        target_folds(y, sample_domain=sd, task="classification")


def test_held_in_rows_train_every_fold_and_their_class_is_not_scored():
    X, y, sd, _ = stacked(n_classes=3)
    rare = np.flatnonzero((sd < 0) & (y == 2))
    y[rare[1:]] = -1  # one labelled sample of class 2: too few to hold out
    with pytest.raises(DataError, match="class 2 has 1"):
        target_folds(y, sample_domain=sd, task="classification")
    folds = target_folds(y, sample_domain=sd, task="classification", n_repeats=2,
                         random_state=0, held_in=rare[:1])
    for train, test in folds:
        assert rare[0] in train and rare[0] not in test
        assert set(y[test]) == {0, 1}
    # the unscored class's probability mass is dropped and the rest renormalised
    method = SourceOnly(make_classifier("logreg", random_state=0))
    pred, error = out_of_fold(method, X, y, sample_domain=sd, folds=folds, task="classification")
    assert error is None and pred.shape[1] == 2
    np.testing.assert_allclose(pred.sum(axis=1), 1.0)


def test_too_few_labelled_patients_are_reported():
    _, y, sd, _ = stacked()
    groups = np.r_[np.arange(120), np.zeros(80)]  # one patient for all target rows
    with pytest.raises(DataError, match="only 1 labelled target sample"):
        target_folds(y, sample_domain=sd, task="classification", groups=groups)


def test_out_of_fold_predictions_hide_each_fold_and_match_sklearn_auroc():
    X, y, sd, _ = stacked()
    folds = target_folds(y, sample_domain=sd, task="classification", n_repeats=1,
                         random_state=0)
    method = TargetOnly(make_classifier("logreg", random_state=0))
    pred, error = out_of_fold(method, X, y, sample_domain=sd, folds=folds, task="classification")
    rows = np.flatnonzero((sd < 0) & (y != -1))
    assert error is None and pred.shape == (30, 2)
    # refitting on everything but one fold reproduces that fold's predictions
    _train, test = folds[0]
    y_fit = y.copy()
    y_fit[test] = -1
    model = TargetOnly(make_classifier("logreg", random_state=0)).fit(X, y_fit, sample_domain=sd)
    np.testing.assert_allclose(pred[np.searchsorted(rows, test)], model.predict_proba(X[test]))
    results = validate_methods({"t": method}, X, y, sample_domain=sd, folds=folds,
                               task="classification")
    assert results["t"]["score"] == pytest.approx(roc_auc_score(y[rows], pred[:, 1]))


def test_a_failing_method_is_recorded_not_raised():
    X, y, sd, _ = stacked()
    y_str = y.astype(float)
    y_str[0] = np.inf  # a label the classifier cannot take
    folds = target_folds(y, sample_domain=sd, task="classification", n_repeats=1)
    pred, error = out_of_fold(SourceOnly(make_classifier("logreg")), X, y_str, sample_domain=sd,
                              folds=folds, task="classification")
    assert error is not None and np.isnan(pred).all()


def test_batch_metrics_equal_sklearn_on_each_resample():
    rng = np.random.default_rng(0)
    y3 = rng.integers(0, 3, size=40)
    p3 = rng.dirichlet(np.ones(3), size=40)
    idx = rng.integers(0, 40, size=(5, 40))
    idx = np.sort(idx, axis=1)
    keep = [i for i in range(5) if len(set(y3[idx[i]])) == 3]
    batch = _batch_metric(y3, p3, idx[keep], "classification")
    for b, i in zip(batch, keep, strict=True):
        assert b == pytest.approx(metric(y3[idx[i]], p3[idx[i]], "classification"))
    y2 = (y3 > 0).astype(int)
    p2 = np.c_[1 - p3[:, 0], p3[:, 0]]
    assert _batch_metric(y2, p2, np.arange(40)[None], "classification")[0] == pytest.approx(
        roc_auc_score(y2, p2[:, 1]))
    yr, pr = rng.normal(size=40), rng.normal(size=(40, 1))
    assert _batch_metric(yr, pr, np.arange(40)[None], "regression")[0] == pytest.approx(
        -mean_absolute_error(yr, pr[:, 0]))


def test_balanced_brier_is_the_class_mean_of_squared_errors_on_each_resample():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, size=30)
    p = rng.dirichlet(np.ones(3), size=30)
    idx = rng.integers(0, 30, size=(4, 30))
    for row, value in zip(idx, balanced_brier(y, p, idx), strict=True):
        loss = np.sum((p[row] - np.eye(3)[y[row]]) ** 2, axis=1)
        expected = -np.mean([loss[y[row] == c].mean() for c in np.unique(y[row])])
        assert value == pytest.approx(expected)
    twice = np.r_[np.arange(30), np.arange(5)]  # rows 0-4 counted twice = weight 2
    weight = np.r_[np.full(5, 2.0), np.ones(25)]
    assert metric(y, p, "classification", weight, scoring="brier") == pytest.approx(
        metric(y[twice], p[twice], "classification", scoring="brier"))
    assert metric(y, np.eye(3)[y], "classification", scoring="brier") == 0


def test_brier_scoring_sees_a_misplaced_class_boundary_that_auroc_cannot():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(15), np.ones(15)].astype(int)
    s = 3 * y + rng.normal(0, 1, 30)
    placed = 1 / (1 + np.exp(-(s - 1.5)))
    moved = 1 / (1 + np.exp(-(s - 4.0)))  # the same ranking, most positives called negative
    a, b = np.c_[1 - placed, placed], np.c_[1 - moved, moved]
    auroc = paired_bootstrap(y, a, b, task="classification", random_state=0)
    brier = paired_bootstrap(y, a, b, task="classification", random_state=0, scoring="brier")
    assert auroc["mean"] == 0 and auroc["lower"] == 0
    assert brier["mean"] > 0.1 and brier["lower"] > 0


def test_paired_bootstrap_separates_a_better_method_from_an_equal_one():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    good = np.c_[1 - (y + rng.normal(0, 0.5, 40)), y + rng.normal(0, 0.5, 40)]
    bad = np.c_[1 - (y + rng.normal(0, 3, 40)), y + rng.normal(0, 3, 40)]
    better = paired_bootstrap(y, good, bad, task="classification", random_state=0)
    same = paired_bootstrap(y, good, good, task="classification", random_state=0)
    assert better["lower"] > 0 and better["mean"] > 0.1 and better["p_value"] < 0.05
    assert same["mean"] == 0 and same["lower"] == 0 and same["p_value"] == 1
    assert better == paired_bootstrap(y, good, bad, task="classification", random_state=0)


def test_regression_folds_and_task_inference():
    rng = np.random.default_rng(0)
    y = np.r_[rng.normal(size=50), rng.normal(size=10), np.full(30, np.nan)]
    sd = np.r_[np.ones(50), -np.ones(40)].astype(int)
    assert target_type(y) == "regression"
    assert target_type(np.array([0, 1, -1])) == "classification"
    assert target_type(np.array([0.0, 1.0, 1.0])) == "classification"
    folds = target_folds(y, sample_domain=sd, task="regression", n_splits=5, n_repeats=1)
    assert sorted(np.concatenate([te for _, te in folds])) == list(range(50, 60))


def test_unsupervised_scorers_give_a_value_for_every_scorer_and_split():
    X, y, sd, _ = stacked(k=0)
    methods = {"source_only": SourceOnly(make_classifier("logreg", random_state=0))}
    results = score_without_labels(methods, X, y, sample_domain=sd, task="classification",
                                   n_repeats=2, random_state=0)
    scores = results["source_only"]["scores"]
    assert results["source_only"]["error"] is None
    assert len(scores) == 5 and all(len(v) == 2 and np.isfinite(v).all() for v in scores.values())


def _results(table: dict[str, dict[str, float]]) -> dict[str, dict]:
    return {m: {"scores": {s: [v] for s, v in row.items()}} for m, row in table.items()}


def test_agreement_abstains_when_scorers_disagree_and_chooses_when_unanimous():
    split = _results({"source_only": {"a": 0.5, "b": 0.5}, "x": {"a": 0.6, "b": 0.4}})
    verdict = agreement_choice(split)
    assert verdict["abstained"] and verdict["choice"] == "source_only"
    assert "abstained" in verdict["reason"] and verdict["votes"]["x"] == {"a": True, "b": False}
    agree = _results({"source_only": {"a": 0.5, "b": 0.5}, "x": {"a": 0.6, "b": 0.7},
                      "z": {"a": 0.9, "b": 0.8}})
    verdict = agreement_choice(agree)
    assert not verdict["abstained"] and verdict["choice"] == "z"
    lonely = _results({"source_only": {"a": 0.5, "b": np.nan}, "x": {"a": 0.9, "b": 0.9}})
    assert agreement_choice(lonely)["abstained"]
