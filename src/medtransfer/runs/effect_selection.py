"""The one method and final-predictor family that every component of an effect learner fits.

An effect mixes two models' differences with the treatment's when its arms fit different
methods (one run reported +0.14 where the randomised estimate was +0.085 and arms sharing
source-only gave about 0), so :func:`choose_jointly` chooses once, on both arms' rows with
the treatment as a feature, and :func:`arm_template` gives every component that choice.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import clone

from medtransfer import artifacts
from medtransfer.adapt import get_method
from medtransfer.data.domain import Domain
from medtransfer.models import make_classifier
from medtransfer.runs.pipeline import TransferPipeline
from medtransfer.select.auto import ALL_LABELLED


def choose_jointly(template: TransferPipeline, source: Domain, target: Domain,
                   labelled_ids: list[str]) -> dict[str, Any]:
    """The one method and final-predictor family every component fits, and the evidence
    that chose them.

    With ``method="auto"`` or ``classifier="auto"`` one pipeline is fitted on both arms'
    rows with the treatment as a feature: its family is chosen on those labelled source
    rows (:func:`~medtransfer.select.predictor.choose_predictor`) and its ``auto`` then
    chooses the method; a given method is not fitted there (the family is chosen before
    any method).
    """
    chosen = {"chosen_method": template.method, "method_params": None, "evidence": None,
              "reason": f"--method {template.method} given",
              "classifier": template.classifier, "classifier_selection": None}
    if "auto" not in (template.method, template.classifier):
        return chosen
    joint = clone(template).set_params(baselines=False, point="mean")
    if template.method != "auto":
        joint.set_params(method="source_only", method_params=None)
    joint.fit(source, target, target_labels=labelled_ids)
    if template.classifier == "auto":
        chosen.update(classifier=joint.classifier_,
                      classifier_selection=artifacts.to_json(joint.classifier_selection_))
    if template.method != "auto":
        return chosen
    auto = joint.models_["auto"]
    name, params = shared_method(auto)
    return {**chosen, "chosen_method": name, "method_params": params,
            "evidence": artifacts.to_json(auto.evidence_),
            "reason": ("auto run once on both arms' rows with the treatment as a feature; "
                       f"both arms fit {auto.choice_}")}


def arm_template(template: TransferPipeline, selection: dict[str, Any]) -> TransferPipeline:
    """``template`` set to fit the shared method and family, with what the choice tuned."""
    name, family = selection["chosen_method"], selection["classifier"]
    given = template.method_params if template.method != "auto" else None
    arm = clone(template).set_params(method=name, classifier=family, point="mean")
    params = {**(given or {}), **(selection["method_params"] or {}),
              **_tuned_family(arm, selection["classifier_selection"]),
              **_unweighted_classes(arm, name)}
    return arm.set_params(method_params=params or None)


def _unweighted_classes(template: TransferPipeline, method: str) -> dict[str, None]:
    """Switch off class weighting in the arms of a binary outcome.

    The predictors weight classes to balance them, which moves every predicted risk toward
    0.5: fine for ranking patients, but a risk difference needs the risks themselves (on a
    simulated trial, balanced weights turned an effect of +0.25 into +0.07).
    """
    if template.task != "classification":
        return {}
    return {key: None for key in _method_params(template, method) if key.endswith("class_weight")}


def _tuned_family(template: TransferPipeline, selection: dict | None) -> dict[str, Any]:
    """The hyper-parameter that the joint family choice tuned (a logistic regression's C),
    as a parameter of ``template``'s method; empty when nothing was tuned."""
    tuning = ((selection or {}).get("families", {}).get(template.classifier) or {}).get("tuning")
    if not (tuning or {}).get("tuned"):
        return {}
    key = f"estimator__{tuning['param']}"
    return {key: tuning["value"]} if key in _method_params(template, template.method) else {}


def _method_params(template: TransferPipeline, method: str) -> dict[str, Any]:
    """The parameters of ``method`` built around ``template``'s final predictor."""
    predictor = make_classifier(template.classifier, template.task, template.random_state)
    return get_method(method, template.task, 1).build(predictor, template.random_state).get_params()


def shared_method(auto: Any) -> tuple[str, dict[str, Any] | None]:
    """The registered method and parameters that refit what a fitted ``auto`` chose.

    ``all_labelled`` is ``pooled`` with every row counting once; the final predictor's
    hyper-parameter that auto tuned on the source is carried over when the method exposes it.
    """
    name, params = auto.choice_, {}
    if name == ALL_LABELLED:
        name, params = "pooled", {"target_share": None}
    tuning = auto.evidence_.get("final_predictor") or {}
    key = f"estimator__{tuning.get('param')}"
    if tuning.get("tuned") and key in auto.estimator_.get_params():
        params[key] = tuning["value"]
    return name, params or None
