"""What an effect run is scored by on rows whose treatment and outcome are recorded.

The effect of one patient is never observed, so no metric scores it directly. An effect run
is scored instead by its mean effect (with the refits' interval), the factual prediction
(the outcome under the arm each row had) and, when the run knows which way the outcome is
better, the value of acting on its recommendations: the mean outcome if the held-out patients
were treated as recommended, against treating all of them and treating none, by IPW and
doubly robust estimation (:mod:`medtransfer.evaluate.policy_value`) with the run's arms as
the outcome models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medtransfer.data.domain import Domain
from medtransfer.evaluate.effect_calibration import effect_calibration
from medtransfer.evaluate.policy_value import policy_values, propensity_scores
from medtransfer.runs.effect_overlap import warn_trimmed
from medtransfer.runs.frames import repeated_groups, score_models
from medtransfer.runs.recommend import recommend

if TYPE_CHECKING:
    from medtransfer.runs.effect import EffectPipeline

POLICY = ("treat where the recommendation is 'treated' (its whole 95% interval on the "
          "helpful side); patients it abstains on, or recommends control, are not treated")


def score_effect(effect: EffectPipeline, domain: Domain, predictions: pd.DataFrame,
                 n_resamples: int) -> dict[str, Any]:
    """The scores of ``effect`` on ``domain`` (the rows of ``predictions``, in order).

    Returns
    -------
    dict
        ``mean_effect`` (value, n, and with refits its interval); where treatment and
        outcome are recorded, ``factual`` (the metrics of the outcome under the arm each row
        had), ``calibration_by_quantile`` (:func:`calibration_by_quantile`) and, with
        ``effect.better`` set, ``policy_value`` (:func:`policy_value`).
    """
    value = predictions["effect"].to_numpy()
    metrics: dict[str, Any] = {"mean_effect": {"value": float(value.mean()), "n": len(value)}}
    if effect.has_refits():
        draws = effect.refit_draws(domain)
        low, high = draws.mean_interval()
        metrics["mean_effect"].update(low=low, high=high, n_refits=len(draws.mean),
                                      interval="bootstrap refits of both arms and of the rows")
    scored = scored_rows(domain, predictions)
    if not len(scored):
        return metrics
    metrics["factual"], threshold = _factual(effect, domain, predictions, scored, n_resamples)
    if threshold is not None:
        metrics["factual_threshold"] = threshold
    metrics["calibration_by_quantile"] = calibration_by_quantile(effect, domain, predictions,
                                                                 n_resamples)
    if effect.better is not None:
        metrics["policy_value"] = policy_value(effect, domain, predictions, n_resamples)
    return metrics


def scored_rows(domain: Domain, predictions: pd.DataFrame) -> np.ndarray:
    """Positions of the rows whose treatment and outcome are both recorded."""
    return np.flatnonzero(~np.isnan(predictions["treatment"].to_numpy(dtype=float))
                          & domain.labelled_mask)


def policy_value(effect: EffectPipeline, domain: Domain, predictions: pd.DataFrame,
                 n_resamples: int) -> dict[str, Any]:
    """Value of the run's recommendations against treat-all and treat-none on the rows of
    ``domain`` whose treatment and outcome are recorded.

    The recommendation follows ``effect.better``; the propensity ``effect.propensity``
    (a logistic model on the arms' features, the treated share, or a known probability).
    Propensities outside [5%, 95%] are moved to the bound with an :class:`OverlapWarning`
    that says how many.

    Returns
    -------
    dict
        What :func:`~medtransfer.evaluate.policy_value.policy_values` returns, with the
        ``policy`` in words, ``better``, ``propensity`` (how it was obtained) and
        ``estimators``; or ``{"not_estimated": why}`` when the run has no refits (the
        recommendation needs the effects' intervals).
    """
    if "effect_low" not in predictions:
        return {"not_estimated": "the run has no refitted arms, so no interval of the "
                                 "effects to recommend from (fit with --n-refits 200)"}
    rows = scored_rows(domain, predictions)
    frame = recommend(predictions.iloc[rows], effect.better)
    treatment = frame["treatment"].to_numpy(dtype=float)
    covariates = effect.covariates(domain)[rows]
    scores, described = propensity_scores(treatment, covariates, propensity=effect.propensity,
                                          random_state=effect.random_state)
    groups = domain.patient_ids
    result = policy_values(
        _outcome(effect, domain, rows), treatment,
        (frame["recommended"] == "treated").to_numpy(dtype=int),
        frame["outcome_control"].to_numpy(), frame["outcome_treated"].to_numpy(), scores,
        groups=repeated_groups(None if groups is None else groups[rows]),
        n_resamples=n_resamples, random_state=effect.random_state)
    warn_trimmed(result["n_clipped"], result["n"], repr(domain.name), effect.treatment,
                 "the policy values")
    return {"policy": POLICY, "better": effect.better, "propensity": described,
            "estimators": {"ipw": "inverse-propensity weighting (normalised)",
                           "dr": "doubly robust (AIPW), the run's arms as outcome models"},
            **result}


def calibration_by_quantile(effect: EffectPipeline, domain: Domain, predictions: pd.DataFrame,
                            n_resamples: int) -> dict[str, Any]:
    """Observed against predicted effect in quintiles of the predicted effect, on the rows of
    ``domain`` whose treatment and outcome are recorded
    (:func:`~medtransfer.evaluate.effect_calibration.effect_calibration`).

    The observed effect of a bin is the mean DR pseudo-outcome (the run's arms as outcome
    models) when ``effect.propensity`` is given (a known allocation probability, or the
    treated share: a randomised trial), else the difference in means of the arms, which
    assumes the arms are comparable within a bin.
    """
    rows = scored_rows(domain, predictions)
    frame = predictions.iloc[rows]
    treatment = frame["treatment"].to_numpy(dtype=float)
    propensity = None
    if effect.propensity != "logistic":
        propensity, _ = propensity_scores(treatment, propensity=effect.propensity)
    groups = domain.patient_ids
    return effect_calibration(
        frame["effect"].to_numpy(), treatment, _outcome(effect, domain, rows),
        mu0=frame["outcome_control"].to_numpy(), mu1=frame["outcome_treated"].to_numpy(),
        propensity=propensity, groups=repeated_groups(None if groups is None else groups[rows]),
        n_resamples=n_resamples, random_state=effect.random_state)


def _outcome(effect: EffectPipeline, domain: Domain, rows: np.ndarray) -> np.ndarray:
    """Observed outcomes of ``rows`` on the arms' scale: values, or 1 for the second class."""
    labels = domain.labels[rows]
    if effect.outcome_pipeline.task == "regression":
        return labels.astype(float)
    return (labels == 1).astype(float)


def _factual(effect: EffectPipeline, domain: Domain, predictions: pd.DataFrame,
             scored: np.ndarray, n_resamples: int) -> tuple[dict, dict | None]:
    """Metrics of the outcome predicted under the arm each scored row had and, for a binary
    outcome, the decision threshold they were computed at (:func:`prevalence_threshold`)."""
    control = effect.outcome_pipeline
    treated = predictions["treatment"].to_numpy()[scored] == 1
    factual = np.where(treated, predictions["outcome_treated"].to_numpy()[scored],
                       predictions["outcome_control"].to_numpy()[scored])
    block = pd.DataFrame({"model": "factual", "label": predictions["label"].to_numpy()[scored]})
    threshold = None
    if control.task == "regression":
        block["prediction"] = factual
    else:
        for column, p in zip(control.class_names_, (1 - factual, factual), strict=True):
            block[f"p_{column}"] = p
        threshold = prevalence_threshold(factual)
    scores = score_models(domain.subset(scored), block, n_resamples, task=control.task,
                          class_names=control.class_names_, random_state=control.random_state,
                          threshold=None if threshold is None else threshold["value"])
    return scores["factual"], threshold


def prevalence_threshold(risk: np.ndarray) -> dict[str, Any]:
    """The decision threshold of a binary effect run's predicted risks: their mean.

    The arms are fitted without class weights, so their outputs are risks on the scale of
    the outcome's prevalence; predicting the event where the risk exceeds the prevalence
    (estimated by the mean risk, no outcome read) is the decision that weighs both classes
    alike. At 0.5 a rare outcome is predicted for almost no one (balanced accuracy 0.5).
    """
    return {"value": float(np.mean(risk)),
            "rule": "the mean predicted risk of the scored rows (the estimated prevalence): "
                    "the event is predicted where a row's risk is above it"}
