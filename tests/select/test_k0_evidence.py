"""k = 0 selection by agreement between adapted models, with a class-balance sanity check."""

import numpy as np

from medtransfer.adapt import METHODS
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.k0_evidence import (
    agreement_choice_on_target,
    prior_shift,
    target_predictions,
)

SOURCE = np.repeat([0, 1, 2], 10)


def preds(**labels):
    return {n: {"pred": np.asarray(p)} for n, p in labels.items()}


def test_the_method_the_others_agree_with_replaces_source_only():
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    off = truth.copy()
    off[:4] = [1, 2, 0, 1]
    results = preds(source_only=off, a=truth, b=truth, c=np.where(np.arange(10) < 2, 2, truth))
    verdict = agreement_choice_on_target(results, SOURCE)
    assert verdict["choice"] == "a" and not verdict["abstained"]
    assert verdict["agreement"]["a"] > verdict["agreement"]["source_only"] + 0.02


def test_a_collapsed_method_is_not_eligible_however_much_it_agrees():
    collapsed = np.zeros(10, dtype=int)
    results = preds(source_only=np.arange(10) % 3, a=collapsed, b=collapsed, c=collapsed)
    assert prior_shift(collapsed, SOURCE) > 0.5
    verdict = agreement_choice_on_target(results, SOURCE)
    assert verdict["choice"] == "source_only" and verdict["abstained"]
    assert "further than 0.5" in verdict["reason"]


def test_a_gain_below_the_margin_keeps_source_only():
    base = np.arange(10) % 3
    other = base.copy()
    other[0] = 1
    verdict = agreement_choice_on_target(preds(source_only=base, a=other, b=base), SOURCE,
                                         margin=0.2)
    assert verdict["choice"] == "source_only" and "less than 0.2 more" in verdict["reason"]
    assert agreement_choice_on_target(preds(source_only=base, a=base), SOURCE)["abstained"]


def test_target_predictions_cover_the_unlabelled_target_and_record_failures():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(40, 3)), rng.normal(size=(20, 3)) + 1])
    y = np.r_[(X[:40, 0] > 0).astype(int), np.full(20, -1)]
    sd = np.r_[np.ones(40), -np.ones(20)].astype(int)
    final = make_classifier("logreg", random_state=0)
    methods = {"source_only": METHODS.get("source_only").build(final, 0),
               "target_only": METHODS.get("target_only").build(final, 0)}
    results = target_predictions(methods, X, y, sample_domain=sd)
    expected = final.fit(X[:40], y[:40]).predict(X[40:])
    np.testing.assert_array_equal(results["source_only"]["pred"], expected)
    assert results["target_only"]["pred"] is None
    assert "needs labelled target samples" in results["target_only"]["error"]
