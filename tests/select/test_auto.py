"""AutoTransfer: honest choice, fallback to baselines, k = 0 voting, leakage, bad input."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from medtransfer.adapt.base import METHODS, get_method
from medtransfer.adapt.baselines import Pooled, SourceOnly, TargetOnly
from medtransfer.errors import ConfigError, DataError
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.auto import REFERENCES, AutoTransfer

HEART = "/work/shared/data/heart_disease_uci.csv"


def planted(seed: int, *, shift: bool, k: int = 24, d: int = 20, n_s: int = 300, n_t: int = 240,
            flip: bool = False):
    """Source N(0, I); target the same law with three label-relevant features rescaled.

    The rescaling is a pure covariance shift, which CORAL undoes exactly. (A column shrunk
    far below the others stays small after CORAL, as in Sun et al. and skada's pipeline,
    where a linear model's penalty discounts it: hence x0.5, not a near-constant column.)
    """
    rng = np.random.default_rng(seed)
    w = np.zeros(d)
    w[:3] = [1.0, 1.0, -1.0]
    Zs, Zt = rng.normal(size=(n_s, d)), rng.normal(size=(n_t, d))
    ys = (Zs @ w + 0.3 * rng.normal(size=n_s) > 0).astype(int)
    yt = (Zt @ w + 0.3 * rng.normal(size=n_t) > 0).astype(int)
    scale = np.ones(d)
    if shift:
        scale[:3] = [8.0, 0.5, 4.0]
    if flip:  # the source's labels mean the opposite: only target labels can help
        ys = 1 - ys
    X = np.r_[Zs, Zt * scale]
    y = np.r_[ys, np.full(n_t, -1)]
    y[n_s : n_s + k] = yt[:k]
    sample_domain = np.r_[np.ones(n_s), -2 * np.ones(n_t)].astype(int)
    test = np.arange(n_s + k, n_s + n_t)
    return X, y, sample_domain, test, yt[k:]


def coral() -> list[str]:
    return ["coral"]


@pytest.mark.slow
def test_keeps_the_no_transfer_reference_when_there_is_no_shift():
    X, y, sd, _, _ = planted(0, shift=False)
    auto = AutoTransfer(candidates=coral(), random_state=0).fit(X, y, sample_domain=sd)
    ev = auto.evidence_
    # with labelled target samples the reference is the source plus those samples
    assert auto.choice_ == ev["baseline"] == ev["baseline_anchor"]["anchor"] == "all_labelled"
    assert set(ev["baseline_comparisons"]) == {"source_only", "target_only", "pooled"}
    assert ev["comparisons"]["coral"]["lower"] <= 0
    assert all(c["lower"] <= 0 for c in ev["baseline_comparisons"].values())
    assert "keeping all_labelled" in ev["reason"]
    assert isinstance(auto.estimator_, Pooled) and auto.estimator_.target_share is None
    credible = AutoTransfer(candidates=coral(), baseline_rule="credible", random_state=0)
    assert credible.fit(X, y, sample_domain=sd).choice_ == "source_only"


@pytest.mark.slow
def test_falls_back_to_the_baseline_that_credibly_beats_source_only():
    X, y, sd, _, _ = planted(0, shift=False, flip=True)
    auto = AutoTransfer(candidates=coral(), random_state=0).fit(X, y, sample_domain=sd)
    ev = auto.evidence_
    assert auto.choice_ == ev["baseline"] == "target_only"
    assert ev["baseline_comparisons"]["target_only"]["lower"] > 0
    best_cv = AutoTransfer(candidates=[], baseline_rule="best_cv", random_state=0)
    best_cv.fit(X, y, sample_domain=sd)
    means = {n: r["score"] for n, r in best_cv.evidence_["methods"].items() if r["error"] is None}
    assert best_cv.choice_ == max(means, key=means.get)
    with pytest.raises(ConfigError, match=r"\(baseline_rule='best'\): expected one of 'auto'"):
        AutoTransfer(baseline_rule="best").fit(X, y, sample_domain=sd)


@pytest.mark.slow
def test_picks_coral_when_it_fixes_a_planted_covariance_shift():
    X, y, sd, test, y_test = planted(0, shift=True)
    auto = AutoTransfer(candidates=coral(), random_state=0).fit(X, y, sample_domain=sd)
    assert auto.choice_ == "coral", auto.evidence_["reason"]
    assert auto.evidence_["baseline"] == "all_labelled"
    assert auto.evidence_["comparisons"]["coral"]["lower"] > 0
    source_only = SourceOnly(make_classifier("logreg", random_state=0)).fit(X, y, sample_domain=sd)
    auc_auto = roc_auc_score(y_test, auto.predict_proba(X[test])[:, 1])
    auc_source = roc_auc_score(y_test, source_only.predict_proba(X[test])[:, 1])
    assert auc_auto > auc_source + 0.05


@pytest.mark.slow
def test_without_target_labels_the_target_agreement_decides():
    X, y, sd, _, _ = planted(1, shift=True, k=0)
    auto = AutoTransfer(candidates=["coral", "site_standardize", "subspace_alignment"],
                        random_state=0).fit(X, y, sample_domain=sd)
    ev = auto.evidence_
    assert ev["mode"] == "target_agreement" and ev["k"] == 0
    assert set(ev["agreement"]) == {"source_only", "coral", "site_standardize",
                                    "subspace_alignment"}
    eligible = {n: a for n, a in ev["agreement"].items()
                if n != "source_only" and ev["prior_shift"][n] <= 0.5}
    best = max(eligible, key=eligible.get)
    if eligible[best] - ev["agreement"]["source_only"] >= 0.01:
        assert auto.choice_ == best and not ev["abstained"]
    else:
        assert auto.choice_ == "source_only" and ev["abstained"]


@pytest.mark.slow
def test_evidence_is_json_and_the_same_seed_gives_the_same_numbers():
    X, y, sd, _, _ = planted(2, shift=True)
    first = AutoTransfer(candidates=coral(), n_repeats=2, random_state=3)
    again = AutoTransfer(candidates=coral(), n_repeats=2, random_state=3)
    first.fit(X, y, sample_domain=sd)
    again.fit(X, y, sample_domain=sd)
    text = json.dumps(first.evidence_, allow_nan=False)
    assert json.loads(text)["choice"] == first.choice_
    assert first.evidence_["methods"]["coral"]["oof"] == again.evidence_["methods"]["coral"]["oof"]
    assert first.evidence_["comparisons"] == again.evidence_["comparisons"]
    assert first.evidence_["folds"] == again.evidence_["folds"]


@pytest.mark.slow
def test_time_budget_spent_skips_the_remaining_candidates():
    X, y, sd, _, _ = planted(0, shift=True)
    auto = AutoTransfer(candidates=coral(), time_budget=-1, random_state=0)
    auto.fit(X, y, sample_domain=sd)
    [entry] = auto.evidence_["skipped"]
    assert entry["name"] == "coral" and "time budget of -1 s spent" in entry["reason"]
    assert auto.choice_ in REFERENCES


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression that records every (X, y) it is fitted on."""

    calls: ClassVar[list[tuple[np.ndarray, np.ndarray]]] = []

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X, y, sample_weight=None):
        RecordingClassifier.calls.append((np.array(X, copy=True), np.array(y, copy=True)))
        self.model_ = LogisticRegression(C=self.C).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def leaked_rows(calls, X_test) -> int:
    """Number of (fit call, test row) pairs where a test row was fitted with a real label."""
    leaks = 0
    for X_fit, y_fit in calls:
        seen = (X_fit[:, None, :] == X_test[None, :, :]).all(axis=2).any(axis=1)
        leaks += int(np.sum(seen & (y_fit != -1)))
    return leaks


@pytest.mark.parametrize(("candidates", "n_repeats", "n_s"), [
    # one candidate on a smaller source keeps the honesty check in the fast tier
    pytest.param(["coral"], 1, 100, id="one-candidate"),
    pytest.param(["coral", "density_ratio", "kmm", "label_shift", "adaptive_logreg"], 2, 300,
                 id="five-candidates", marks=pytest.mark.slow),
])
def test_target_test_labels_never_reach_any_fit(candidates, n_repeats, n_s):
    X, y, sd, test, y_test = planted(3, shift=True, n_s=n_s, n_t=120)
    RecordingClassifier.calls.clear()
    auto = AutoTransfer(RecordingClassifier(), candidates, random_state=0, n_repeats=n_repeats,
                        estimator_grid={"C": [1.0, 0.1]})  # the tuning fits are checked too
    auto.fit(X, y, sample_domain=sd)
    assert not auto.evidence_["skipped"] and auto.evidence_["final_predictor"]["tuned"]
    calls = list(RecordingClassifier.calls)
    assert len(calls) > 10
    assert leaked_rows(calls, X[test]) == 0
    k = int(np.sum((sd < 0) & (y != -1)))
    target_rows = X[sd < 0][: k]
    labelled_target_seen = [leaked_rows([c], target_rows) for c in calls]
    assert min(labelled_target_seen) < k  # cross-validation fits hid the held-out part of k
    # the detector does see a leak when test labels are handed to a fit
    RecordingClassifier.calls.clear()
    y_leaky = y.copy()
    y_leaky[test] = y_test
    TargetOnly(RecordingClassifier()).fit(X, y_leaky, sample_domain=sd)
    assert leaked_rows(RecordingClassifier.calls, X[test]) == len(test)


@pytest.mark.slow
def test_grouped_real_heart_data_runs_and_keeps_patients_together():
    table = pd.read_csv(HEART)
    cols = ["age", "trestbps", "thalch", "oldpeak"]
    table = table.dropna(subset=cols)
    src = table[table["dataset"] == "Cleveland"]
    tgt = table[table["dataset"] == "Hungary"].sample(120, random_state=0)
    X = np.r_[src[cols].to_numpy(float), tgt[cols].to_numpy(float)]
    y_t = (tgt["num"].to_numpy() > 0).astype(int)
    y = np.r_[(src["num"].to_numpy() > 0).astype(int), np.full(len(tgt), -1)]
    y[len(src) : len(src) + 30] = y_t[:30]
    sd = np.r_[np.ones(len(src)), -2 * np.ones(len(tgt))].astype(int)
    groups = np.r_[src["id"].to_numpy(), np.repeat(np.arange(15), 8)]
    auto = AutoTransfer(candidates=[], n_repeats=1, random_state=0)
    auto.fit(X, y, sample_domain=sd, groups=groups)
    for fold in auto.evidence_["folds"]:
        assert not set(groups[fold["train"]]) & set(groups[fold["test"]])
    assert auto.choice_ in REFERENCES
    assert auto.predict_proba(X[len(src) + 30 :]).shape == (90, 2)


@pytest.mark.slow
def test_too_few_labels_in_a_class_keep_source_only_and_say_why():
    X, y, sd, _, _ = planted(0, shift=False, flip=True)
    ones = np.flatnonzero((sd < 0) & (y == 1))
    y[ones[2:]] = -1  # two labelled target samples of class 1 remain
    auto = AutoTransfer(candidates=coral(), random_state=0).fit(X, y, sample_domain=sd)
    assert auto.choice_ == "source_only" and auto.evidence_["mode"] == "too_few_labels"
    assert "only 2 labelled target sample(s)" in auto.evidence_["reason"]
    assert [s["name"] for s in auto.evidence_["skipped"]] == [
        "target_only", "pooled", "all_labelled", "coral"]


@pytest.mark.slow
def test_two_classes_with_three_labels_each_are_still_compared():
    X, y, sd, _, _ = planted(0, shift=False, flip=True)
    ones = np.flatnonzero((sd < 0) & (y == 1))
    y[ones[3:]] = -1  # three labelled target samples of class 1 remain, fewer than 5
    auto = AutoTransfer(candidates=coral(), random_state=0).fit(X, y, sample_domain=sd)
    assert auto.evidence_["mode"] == "few_labels" and auto.evidence_["held_in"] is None
    assert {"source_only", "pooled", "all_labelled", "coral"} <= set(auto.evidence_["methods"])
    assert all(len(f["test"]) for f in auto.evidence_["folds"])


@pytest.mark.slow
def test_a_rare_class_is_kept_labelled_in_training_and_the_others_are_compared():
    rng = np.random.default_rng(0)
    centres = 3 * np.eye(3, 6)
    ys, yt = rng.integers(0, 3, 300), rng.integers(0, 3, 150)
    X = np.r_[centres[ys] + rng.normal(size=(300, 6)), centres[yt] + rng.normal(size=(150, 6))]
    sd = np.r_[np.ones(300), -2 * np.ones(150)].astype(int)
    y = np.r_[ys, np.full(150, -1)]
    labelled = [np.flatnonzero(yt == c)[:n] for c, n in ((0, 10), (1, 10), (2, 2))]
    for rows in labelled:
        y[300 + rows] = yt[rows]
    auto = AutoTransfer(candidates=coral(), n_repeats=1, random_state=0)
    auto.fit(X, y, sample_domain=sd)
    ev = auto.evidence_
    assert ev["mode"] == "few_labels" and "coral" in ev["comparisons"]
    assert ev["held_in"].startswith("class 2: 2 labelled target sample(s)")
    for fold in ev["folds"]:
        assert set(300 + labelled[2]) <= set(fold["train"])
        assert not set(300 + labelled[2]) & set(fold["test"])
    assert auto.predict_proba(X[300:]).shape == (150, 3)


@pytest.mark.slow
def test_a_class_missing_from_the_labelled_target_samples_is_named():
    X, y, sd, _, _ = planted(0, shift=True)
    labelled = np.flatnonzero((sd < 0) & (y != -1))
    y[labelled[y[labelled] == 1]] = -1
    with pytest.raises(DataError, match="class 1 has 0; need at least 2"):
        AutoTransfer(candidates=[], random_state=0).fit(X, y, sample_domain=sd)


@pytest.mark.slow
def test_reserved_and_unknown_candidate_names_are_rejected():
    X, y, sd, _, _ = planted(0, shift=True)
    with pytest.raises(ConfigError, match=r"\['pooled'\] are reserved"):
        AutoTransfer(candidates={"pooled": LogisticRegression()}).fit(X, y, sample_domain=sd)
    with pytest.raises(ConfigError, match="Did you mean 'source_only'"):
        AutoTransfer(candidates=["source_onl"]).fit(X, y, sample_domain=sd)


def test_auto_is_a_registered_method():
    assert "auto" in METHODS
    built = get_method("auto").build(make_classifier("logreg"), 7)
    assert isinstance(built, AutoTransfer) and built.random_state == 7


@pytest.mark.slow
def test_the_final_predictor_is_tuned_on_the_source_and_every_method_uses_it():
    X, y, sd, _, _ = planted(0, shift=True, d=60, n_s=150)  # many noise columns
    auto = AutoTransfer(candidates=coral(), n_repeats=1, random_state=0)
    auto.fit(X, y, sample_domain=sd)
    tuning = auto.evidence_["final_predictor"]
    means = {s["value"]: s["mean"] for s in tuning["scores"]}
    assert tuning["param"] == "logisticregression__C"
    assert tuning["value"] == max(means, key=means.get)
    assert auto.estimator_.estimator.get_params()["logisticregression__C"] == tuning["value"]
    given = AutoTransfer(candidates=coral(), n_repeats=1, estimator_grid=None, random_state=0)
    given.fit(X, y, sample_domain=sd)
    assert not given.evidence_["final_predictor"]["tuned"]
    assert given.estimator_.estimator.get_params()["logisticregression__C"] == 1.0
    with pytest.raises(ConfigError, match="estimator_grid='small' must be 'auto', None or one"):
        AutoTransfer(estimator_grid="small").fit(X, y, sample_domain=sd)


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k != "time_s"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.parametrize("k", [24, 0])
def test_a_label_free_adaptation_runs_once_per_selection_with_the_same_evidence(k):
    from tests.adapt.test_fold_invariant import CountedLabelled, CountedSites

    X, y, sd, test, _ = planted(0, shift=True, k=k)
    evidence, predictions = [], []
    for cls in (CountedSites, CountedLabelled):  # the same method, reused / refitted
        cls.calls.clear()
        auto = AutoTransfer(candidates={"sites": cls(make_classifier("logreg"))}, n_splits=3,
                            n_repeats=1, estimator_grid=None, random_state=0)
        auto.fit(X, y, sample_domain=sd)
        evidence.append(_without_times(auto.evidence_))
        predictions.append(auto.predict_proba(X[test]))
        fits = (3 if k else 1) + (auto.choice_ == "sites")
        assert len(cls.calls) == (1 if cls is CountedSites else fits)
    assert evidence[0] == evidence[1]
    assert np.array_equal(*predictions)


def boundary_shift(seed: int, k: int = 30, n_s: int = 150, n_t: int = 120):
    """The target's feature 0 is offset by 1.5 (a device's calibration): the source's ranking
    of the cases still holds there, but its class boundary is in the wrong place."""
    rng = np.random.default_rng(seed)
    Zs, Zt = rng.normal(size=(n_s, 4)), rng.normal(size=(n_t, 4))
    ys, yt = (Zs[:, 0] > 0).astype(int), (Zt[:, 0] > 0).astype(int)
    X = np.r_[Zs, Zt + np.r_[1.5, 0, 0, 0]]
    y = np.r_[ys, np.full(n_t, -1)]
    y[n_s : n_s + k] = yt[:k]
    sample_domain = np.r_[np.ones(n_s), -2 * np.ones(n_t)].astype(int)
    return X, y, sample_domain, np.arange(n_s + k, n_s + n_t), yt[k:]


def test_brier_scoring_moves_a_source_boundary_that_auroc_keeps():
    X, y, sd, test, y_test = boundary_shift(0)
    chosen = {}
    for scoring in ("auroc", "brier"):
        auto = AutoTransfer(candidates=[], scoring=scoring, n_repeats=1, estimator_grid=None,
                            random_state=0).fit(X, y, sample_domain=sd)
        pred = auto.predict(X[test])
        chosen[scoring] = (auto.choice_, np.mean([np.mean(pred[y_test == c] == c) for c in (0, 1)]))
        assert auto.evidence_["scoring"] == scoring
    assert chosen["auroc"][0] == "all_labelled"  # AUROC cannot tell the references apart
    assert chosen["brier"][0] != "all_labelled"
    assert chosen["brier"][1] > chosen["auroc"][1] + 0.15
    with pytest.raises(ConfigError, match=r"\(scoring='log_loss'\): expected one of 'auroc'"):
        AutoTransfer(scoring="log_loss").fit(X, y, sample_domain=sd)
