"""Both arms of an effect refit what auto chose, with calibrated risks for binary outcomes."""

from __future__ import annotations

from types import SimpleNamespace

from medtransfer.adapt.baselines import Pooled
from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.models import make_classifier
from medtransfer.runs.effect import EffectPipeline
from medtransfer.runs.effect_selection import shared_method
from medtransfer.runs.pipeline import TransferPipeline


def test_auto_choice_maps_to_a_registered_method_with_the_tuned_predictor():
    tuned = {"tuned": True, "param": "logisticregression__C", "value": 0.03}
    auto = SimpleNamespace(choice_="all_labelled", evidence_={"final_predictor": tuned},
                           estimator_=Pooled(make_classifier("logreg"), target_share=None))
    assert shared_method(auto) == ("pooled", {"target_share": None,
                                              "estimator__logisticregression__C": 0.03})
    untuned = SimpleNamespace(choice_="coral", evidence_={"final_predictor": {"tuned": False}},
                              estimator_=None)
    assert shared_method(untuned) == ("coral", None)


def test_binary_arms_predict_unweighted_risks():
    trial = simulate_trial(300, 200, outcome="binary", random_state=2)
    template = TransferPipeline(method="source_only", classifier="logreg", baselines=False,
                                progress=False)
    effect = EffectPipeline("treated", template).fit(trial.source, trial.target, 20)
    for pipeline in effect.pipelines_.values():
        params = pipeline.models_["source_only"].get_params()
        assert params["estimator__logisticregression__class_weight"] is None
    weighted = TransferPipeline(method="source_only", classifier="logreg", baselines=False,
                                progress=False).fit(trial.source, trial.target)
    assert weighted.models_["source_only"].get_params()[
        "estimator__logisticregression__class_weight"] == "balanced"


def test_classifier_auto_is_chosen_once_on_both_arms_and_shared_by_every_component():
    trial = simulate_trial(300, 200, outcome="binary", random_state=2)
    template = TransferPipeline(method="source_only", classifier="auto", baselines=False,
                                progress=False)
    effect = EffectPipeline("treated", template, n_refits=0, learner="dr").fit(
        trial.source, trial.target, 20)
    selection = effect.selection_["classifier_selection"]
    family = effect.selection_["classifier"]
    assert family == selection["chosen"] and set(selection["families"]) >= {"logreg", "svm"}
    assert {p.classifier for p in effect.pipelines_.values()} == {family}
    assert effect.run_entries()["classifier_selection"]["chosen"] == family
    tuning = selection["families"]["logreg"]["tuning"]  # a logistic outcome: logreg wins
    for arm in ("control", "treated"):
        params = effect.pipelines_[arm].models_["source_only"].get_params()
        assert params[f"estimator__{tuning['param']}"] == tuning["value"] != 1.0
