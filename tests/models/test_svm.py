import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from medtransfer.models.svm import PlattSVC

EXPECTED_FAILURES = {
    # out-of-fold Platt scaling depends on which rows land in which fold, so zero weights and
    # dropped rows change the folds
    "check_sample_weight_equivalence_on_dense_data": "folds depend on the rows present",
}


@pytest.mark.slow
@parametrize_with_checks(
    [PlattSVC(random_state=0)], expected_failed_checks=lambda e: EXPECTED_FAILURES
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_probabilities_rank_like_the_decision_function_and_are_calibrated():
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    model = PlattSVC(random_state=0).fit(X[:200], y[:200])
    proba = model.predict_proba(X[200:])[:, 1]
    assert np.allclose(model.predict_proba(X[200:]).sum(1), 1)
    assert roc_auc_score(y[200:], proba) == roc_auc_score(y[200:], model.decision_function(X[200:]))
    assert abs(proba.mean() - y[200:].mean()) < 0.1


def test_few_labels_fall_back_to_in_sample_calibration():
    X, y = make_classification(n_samples=5, n_features=4, n_informative=2, random_state=1)
    y = np.array([0, 1, 0, 1, 1])
    proba = PlattSVC(random_state=0).fit(X, y).predict_proba(X)
    assert proba.shape == (5, 2) and np.allclose(proba.sum(1), 1)


def test_balanced_weights_give_the_balanced_decision_on_a_rare_outcome():
    """The probability map is fitted with the SVM's class weights: a 10% outcome is not
    predicted away, and the unweighted model's probabilities stay risks at the prevalence."""
    X, y = make_classification(n_samples=1200, n_features=8, weights=[0.9], flip_y=0.1,
                               class_sep=0.5, random_state=0)
    fit, test = slice(0, 800), slice(800, None)
    balanced = PlattSVC(random_state=0).fit(X[fit], y[fit])
    unweighted = PlattSVC(class_weight=None, random_state=0).fit(X[fit], y[fit])
    assert balanced_accuracy_score(y[test], balanced.predict(X[test])) > (
        balanced_accuracy_score(y[test], unweighted.predict(X[test])) + 0.03)
    assert abs(unweighted.predict_proba(X[test])[:, 1].mean() - y[test].mean()) < 0.05
    assert balanced.predict_proba(X[test])[:, 1].mean() > 0.25


def test_sample_weights_reach_the_probability_map():
    X, y = make_classification(n_samples=400, n_features=6, random_state=2)
    weight = np.where(y == 1, 4.0, 1.0)
    plain = PlattSVC(class_weight=None, random_state=0).fit(X, y)
    weighted = PlattSVC(class_weight=None, random_state=0).fit(X, y, sample_weight=weight)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05
