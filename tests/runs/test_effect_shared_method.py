"""Both arms of an effect refit what auto chose, with calibrated risks for binary outcomes."""

from __future__ import annotations

from types import SimpleNamespace

from medtransfer.adapt.baselines import Pooled
from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.models import make_classifier
from medtransfer.runs.effect import EffectPipeline, shared_method
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
