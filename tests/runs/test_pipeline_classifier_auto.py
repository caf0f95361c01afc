"""``classifier="auto"``: the family is chosen on the source, used by every model, stored."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.data import Domain
from medtransfer.datasets.heart import heart_disease
from medtransfer.params import ParameterError
from medtransfer.runs.pipeline import TransferPipeline


@pytest.fixture(scope="module")
def sites():
    return heart_disease("Cleveland"), heart_disease("Hungary")


@pytest.fixture(scope="module")
def fitted(sites):
    source, target = sites
    return TransferPipeline(method="source_only", classifier="auto", progress=False).fit(
        source, target, target_labels=10)


def _shuffled_labels(domain: Domain, seed: int) -> Domain:
    labels = np.random.default_rng(seed).permutation(domain.labels)
    return dataclasses.replace(domain, labels=labels)


def test_every_model_uses_the_family_chosen_on_the_source(fitted):
    assert fitted.classifier_ == fitted.classifier_selection_["chosen"] == "logreg"
    chosen_c = fitted.classifier_selection_["families"]["logreg"]["tuning"]["value"]
    assert set(fitted.models_) == {"source_only", "target_only", "pooled"}
    for model in fitted.models_.values():
        final = model.estimator_.steps[-1][1]
        assert isinstance(final, LogisticRegression) and final.get_params()["C"] == chosen_c
    entries = fitted.run_entries()
    assert entries["classifier"] == "logreg"
    assert entries["classifier_selection"]["reason"].startswith("logreg had the best")


def test_target_labels_do_not_change_the_family_choice(sites, fitted):
    source, target = sites
    other = TransferPipeline(method="source_only", classifier="auto", progress=False,
                             baselines=False).fit(source, _shuffled_labels(target, 1), 10)
    drop = {"time_s"}
    assert ({k: v for k, v in other.classifier_selection_.items() if k not in drop}
            == {k: v for k, v in fitted.classifier_selection_.items() if k not in drop})


def test_a_saved_run_stores_the_family_and_predicts_the_same(sites, fitted, tmp_path):
    target = sites[1]
    fitted.save(tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["pipeline"]["classifier"] == "auto"
    assert manifest["chosen_classifier"] == "logreg"
    loaded = TransferPipeline.load(tmp_path / "run", progress=False)
    assert loaded.classifier_ == "logreg"
    np.testing.assert_array_equal(loaded.predict_proba(target), fitted.predict_proba(target))


@pytest.mark.slow
def test_auto_method_compares_its_methods_with_the_chosen_predictor(sites, fitted):
    source, target = sites
    pipeline = TransferPipeline(method="auto", classifier="auto", progress=False,
                                baselines=False,
                                method_params={"candidates": ["coral"], "n_repeats": 1})
    pipeline.fit(source, target, target_labels=10)
    auto = pipeline.models_["auto"]
    assert pipeline.classifier_selection_["chosen"] == fitted.classifier_
    assert auto.evidence_["final_predictor"]["tuned"] is False  # tuned once, by the choice
    final = auto.estimator.steps[-1][1]
    assert isinstance(final, LogisticRegression)
    chosen_c = fitted.classifier_selection_["families"]["logreg"]["tuning"]["value"]
    assert final.get_params()["C"] == chosen_c


def test_an_unknown_classifier_is_refused_before_any_work(sites):
    source, target = sites
    with pytest.raises(ParameterError, match=r"classifier='logregg'.*'auto'.*did you mean"):
        TransferPipeline(classifier="logregg", progress=False).fit(source, target)
