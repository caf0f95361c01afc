"""The component models of each effect learner, fitted as TransferPipelines.

Every learner shares one method, chosen jointly (:class:`~medtransfer.runs.effect.EffectPipeline`),
and fits one or more TransferPipelines with it:

- **t** (T-learner): one outcome model per arm, mu0 and mu1; effect mu1(x) - mu0(x).
- **s** (S-learner): one outcome model f(x, t) on both arms' rows with the treatment as a
  feature; effect f(x, 1) - f(x, 0).
- **dr** (DR-learner, Kennedy 2020): both arms' models and a propensity e(x), cross-fitted
  on K folds of the labelled rows, give each labelled row the AIPW pseudo-outcome
  mu1 - mu0 + t (y - mu1) / e - (1 - t) (y - mu0) / (1 - e); a regression pipeline of the
  pseudo-outcome on x is the effect.
- **x** (X-learner, Kuenzel et al. 2019): imputed effects y - mu0(x) for the treated rows and
  mu1(x) - y for the controls, one regression pipeline each (tau1, tau0), combined with the
  propensity g(x): g tau0 + (1 - g) tau1.

The effect regressions learn from the labelled source and target rows (where the
pseudo-outcomes exist), with every target row's features still given for the adaptation.
The propensity is a logistic model of the treatment on the control arm's features and a
source/target indicator (the source is often observational, the target a trial), kept within
[5%, 95%] with an :class:`~medtransfer.runs.effect_overlap.OverlapWarning` saying how many
rows were trimmed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, clone

from medtransfer.adapt import get_method
from medtransfer.data.domain import Domain
from medtransfer.evaluate.policy_value import MIN_PROPENSITY, propensity_model
from medtransfer.models import make_classifier
from medtransfer.params import Options
from medtransfer.runs.effect_intervals import ARMS, ComponentRows, outcome, refit_components
from medtransfer.runs.effect_overlap import warn_trimmed
from medtransfer.runs.pipeline import TransferPipeline

if TYPE_CHECKING:
    from medtransfer.runs.effect import EffectPipeline

LEARNERS = Options("t", "s", "x", "dr")
JOINT, EFFECT = "joint", "effect"
EFFECT_TREATED, EFFECT_CONTROL = "effect_treated", "effect_control"
COMPONENTS = {"t": ARMS, "s": (JOINT,), "dr": (*ARMS, EFFECT),
              "x": (*ARMS, EFFECT_TREATED, EFFECT_CONTROL)}
# the components whose models give the effect: what the bootstrap refits
REFITTED = {"t": ARMS, "s": (JOINT,), "dr": (EFFECT,), "x": (EFFECT_TREATED, EFFECT_CONTROL)}

Fitted = dict[str, tuple[Domain, Domain]]


@dataclass
class EffectRows:
    """The rows an effect learner fits from.

    Attributes
    ----------
    source : Domain
        The labelled source rows whose treatment is recorded (treatment column kept).
    target : Domain
        Every target row (treatment column kept).
    source_arm : ndarray
        0 or 1 per source row.
    target_arm : ndarray
        0, 1 or NaN per target row.
    arm_ids : dict of str to list of str
        The labelled target ids of each arm.
    """

    source: Domain
    target: Domain
    source_arm: np.ndarray
    target_arm: np.ndarray
    arm_ids: dict[str, list[str]]

    @property
    def labelled_ids(self) -> list[str]:
        """Every labelled target id, control first."""
        return [i for arm in ARMS for i in self.arm_ids[arm]]

    @property
    def labelled(self) -> np.ndarray:
        """Positions of the labelled target rows, in target order."""
        return np.flatnonzero(np.isin(self.target.ids.astype(str), self.labelled_ids))

    def treatment(self) -> np.ndarray:
        """The arm of every labelled row: source rows, then labelled target rows."""
        return np.r_[self.source_arm, self.target_arm[self.labelled]]


def fit_learner(effect: EffectPipeline, template: TransferPipeline, rows: EffectRows) -> Fitted:
    """Fit every component pipeline of ``effect.learner`` into ``effect.pipelines_`` with the
    shared method of ``template``; return the (source, target) each was fitted on."""
    features_target = effect.without_treatment(rows.target)
    if effect.learner == "s":
        fitted: Fitted = {JOINT: (rows.source, rows.target)}
        ids = {JOINT: rows.labelled_ids}
    else:
        fitted = {arm: (effect.without_treatment(rows.source.subset(
            np.flatnonzero(rows.source_arm == value))), features_target)
            for value, arm in enumerate(ARMS)}
        ids = dict(rows.arm_ids)
    _fit_all(effect, template, fitted, ids)
    if effect.learner in ("x", "dr"):
        pseudo = (_dr_outcomes if effect.learner == "dr" else _imputed_effects)(
            effect, rows, fitted)
        regression = regression_template(template, len(rows.labelled))
        effect_fitted = {name: _labelled(rows, features_target, *values, effect)
                         for name, values in pseudo.items()}
        _fit_all(effect, regression, effect_fitted,
                 {name: ids for name, (_, _, ids) in pseudo.items()})
        fitted.update(effect_fitted)
    return fitted


def refit_learner(effect: EffectPipeline, fitted: Fitted, *, n_refits: int,
                  random_state: int | None) -> list[tuple[BaseEstimator, ...]]:
    """The bootstrap refits of ``effect.refitted_components``
    (:func:`~medtransfer.runs.effect_intervals.refit_components`).

    The X-learner's are refitted jointly with its arms: each refit resamples both arms' rows,
    refits mu0 and mu1, imputes the effects again with them and refits tau1 and tau0 on the
    same rows, so the intervals carry the arms' error, which enters its imputed effects at
    first order (the propensity that combines them is held fixed). The DR-learner's
    pseudo-outcomes are held fixed: the nuisance models' error enters them at second order.
    """
    if effect.learner != "x":
        return refit_components(effect, fitted, n_refits=n_refits, random_state=random_state)
    rng = np.random.default_rng(random_state)
    joint = _XRefit.build(effect, fitted)
    return [joint.refit(rng) for _ in range(int(n_refits))]


@dataclass
class _XRefit:
    """Each arm's rows as features of its own model, of the other arm's and of its effect
    model, and their observed outcomes."""

    effect: EffectPipeline
    arms: dict[str, ComponentRows]
    taus: dict[str, ComponentRows]
    other_features: dict[str, np.ndarray]
    observed: dict[str, np.ndarray]

    @classmethod
    def build(cls, effect: EffectPipeline, fitted: Fitted) -> _XRefit:
        taus = {ARMS[1]: EFFECT_TREATED, ARMS[0]: EFFECT_CONTROL}
        other_features, observed = {}, {}
        for arm, other in zip(ARMS, ARMS[::-1], strict=True):
            source, target = fitted[arm]
            labelled = np.isin(target.ids.astype(str),
                               effect.pipelines_[arm].labelled_target_ids_)
            model = effect.pipelines_[other]
            other_features[arm] = np.vstack([model.features(source),
                                             model.features(target)[labelled]])
            y = np.r_[source.labels, target.labels[labelled]]
            observed[arm] = y.astype(float) if source.is_regression else (y == 1).astype(float)
        return cls(effect, {arm: ComponentRows.build(effect.pipelines_[arm], *fitted[arm])
                            for arm in ARMS},
                   {arm: ComponentRows.build(effect.pipelines_[name], *fitted[name])
                    for arm, name in taus.items()}, other_features, observed)

    def refit(self, rng: np.random.Generator) -> tuple[BaseEstimator, BaseEstimator]:
        """(tau1, tau0) refitted on one resample of the rows, with the effects imputed by
        the arms refitted on it."""
        rows = {arm: self.arms[arm].resample(rng) for arm in ARMS}
        mu = {arm: self.arms[arm].fit_rows(*rows[arm]) for arm in ARMS}
        taus = {}
        for arm, other in zip(ARMS, ARMS[::-1], strict=True):
            predicted = outcome(self.effect.pipelines_[other], mu[other],
                                self.other_features[arm])
            imputed = (self.observed[arm] - predicted if arm == "treated"
                       else predicted - self.observed[arm])
            n_source = len(self.taus[arm].y_source)
            taus[arm] = self.taus[arm].fit_rows(*rows[arm], y_source=imputed[:n_source],
                                                y_labelled=imputed[n_source:])
        return taus["treated"], taus["control"]


def _fit_all(effect: EffectPipeline, template: TransferPipeline, fitted: Fitted,
             ids: dict[str, list[str]]) -> None:
    for name, (source, target) in fitted.items():
        effect.pipelines_[name] = clone(template).fit(source, target, target_labels=ids[name])
        effect.n_rows_.setdefault(name, {"source": len(source), "target": len(ids[name])})


def regression_template(template: TransferPipeline, k: int) -> TransferPipeline:
    """``template`` (the shared method) for an effect regression: task regression on the
    untransformed scale, keeping only the method parameters the regression has."""
    built = get_method(template.method, "regression", k).build(
        make_classifier(template.classifier, "regression", template.random_state),
        template.random_state)
    params = {key: value for key, value in (template.method_params or {}).items()
              if key in built.get_params()}
    return clone(template).set_params(task="regression", target_transform="none",
                                      recalibrate=None, method_params=params or None)


def _labelled(rows: EffectRows, features_target: Domain, source_rows: np.ndarray,
              values: np.ndarray, ids: list[str], effect: EffectPipeline) -> tuple[Domain, Domain]:
    """The (source, target) of an effect regression: ``values`` (one per row of
    ``source_rows`` of the source, then one per labelled target id ``ids``) as labels."""
    source = effect.without_treatment(rows.source.subset(source_rows))
    labels = np.full(len(rows.target), np.nan)
    at = np.flatnonzero(np.isin(rows.target.ids.astype(str), ids))
    labels[at] = values[len(source_rows):]
    return (replace(source, labels=values[:len(source_rows)], class_names=None),
            replace(features_target, labels=labels, class_names=None))


def _observed(effect: EffectPipeline, rows: EffectRows) -> np.ndarray:
    """Observed outcome of every labelled row on the arms' scale (1 for the second class)."""
    y = np.r_[rows.source.labels, rows.target.labels[rows.labelled]]
    return y.astype(float) if rows.source.is_regression else (y == 1).astype(float)


def _arm_features(effect: EffectPipeline, rows: EffectRows, fitted: Fitted) -> dict:
    """Each arm pipeline's features of every labelled row (source rows, then target)."""
    source = effect.without_treatment(rows.source)
    return {arm: np.vstack([effect.pipelines_[arm].features(source),
                            effect.pipelines_[arm].features(fitted[arm][1])[rows.labelled]])
            for arm in ARMS}


def _imputed_effects(effect: EffectPipeline, rows: EffectRows, fitted: Fitted) -> dict:
    """The X-learner's imputed effects: y - mu0(x) for treated rows, mu1(x) - y for controls;
    also fits the propensity g(x) that combines the two effect models."""
    X = _arm_features(effect, rows, fitted)
    y, t = _observed(effect, rows), rows.treatment()
    mu = {arm: outcome(effect.pipelines_[arm], None, X[arm]) for arm in ARMS}
    imputed = np.where(t == 1, y - mu["control"], mu["treated"] - y)
    covariates = propensity_covariates(X["control"], len(rows.source))
    effect.propensity_model_ = propensity_model(effect.random_state).fit(covariates, t)
    n_source = len(rows.source)
    out = {}
    for value, name in ((1, EFFECT_TREATED), (0, EFFECT_CONTROL)):
        in_arm = t == value
        out[name] = (np.flatnonzero(in_arm[:n_source]), imputed[in_arm],
                     rows.arm_ids[ARMS[value]])
    return out


def _dr_outcomes(effect: EffectPipeline, rows: EffectRows, fitted: Fitted) -> dict:
    """The DR-learner's AIPW pseudo-outcome of every labelled row, its arms' models and
    propensity cross-fitted on ``effect.n_folds`` folds."""
    X = _arm_features(effect, rows, fitted)
    y, t = _observed(effect, rows), rows.treatment()
    folds = np.random.default_rng(effect.random_state).permutation(len(t)) % effect.n_folds
    mu = {arm: _cross_fitted_arm(effect, arm, value, fitted, X[arm], t, folds)
          for value, arm in enumerate(ARMS)}
    covariates = propensity_covariates(X["control"], len(rows.source))
    e = np.empty(len(t))
    for k in range(effect.n_folds):
        model = propensity_model(effect.random_state).fit(covariates[folds != k], t[folds != k])
        e[folds == k] = model.predict_proba(covariates[folds == k])[:, 1]
    e = trim_propensity(e, effect.treatment, "the labelled source and target rows",
                        "the DR pseudo-outcomes")
    pseudo = (mu["treated"] - mu["control"] + t * (y - mu["treated"]) / e
              - (1 - t) * (y - mu["control"]) / (1 - e))
    return {EFFECT: (np.arange(len(rows.source)), pseudo, rows.labelled_ids)}


def _cross_fitted_arm(effect: EffectPipeline, arm: str, value: int, fitted: Fitted,
                      X: np.ndarray, t: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions of ``arm``'s outcome at every labelled row: the arm's fixed
    model refitted without each fold's rows of the arm."""
    pipeline = effect.pipelines_[arm]
    component = ComponentRows.build(pipeline, *fitted[arm])
    n_source = len(component.y_source)
    in_arm = folds[t == value]  # the arm's rows: its source rows, then its target rows
    source_folds, target_folds = in_arm[:n_source], in_arm[n_source:]
    predicted = np.empty(len(t))
    for k in range(effect.n_folds):
        model = component.fit_rows(np.flatnonzero(source_folds != k),
                                   np.flatnonzero(target_folds != k))
        predicted[folds == k] = outcome(pipeline, model, X[folds == k])
    return predicted


def propensity_covariates(features: np.ndarray, n_source: int | None = None) -> np.ndarray:
    """The propensity model's covariates: ``features`` and whether a row is a target row
    (the first ``n_source`` rows are source rows; None: every row is a target row)."""
    in_target = np.ones(len(features))
    if n_source is not None:
        in_target[:n_source] = 0.0
    return np.column_stack([features, in_target])


def trim_propensity(e: np.ndarray, treatment: str, where: str, purpose: str) -> np.ndarray:
    """``e`` kept within [MIN_PROPENSITY, 1 - MIN_PROPENSITY], warning how many were moved."""
    trimmed = np.clip(e, MIN_PROPENSITY, 1 - MIN_PROPENSITY)
    warn_trimmed(int(np.sum(trimmed != e)), len(e), where, treatment, purpose)
    return trimmed


def fixed_propensity(model: BaseEstimator, features: np.ndarray) -> np.ndarray:
    """The fitted propensity ``model``'s P(treated | x) of target rows with control-arm
    ``features``, trimmed as at fit."""
    e = model.predict_proba(propensity_covariates(features))[:, 1]
    return np.clip(e, MIN_PROPENSITY, 1 - MIN_PROPENSITY)
