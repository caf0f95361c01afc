"""Treatment effects carried across populations by learners made of TransferPipelines.

:class:`~medtransfer.models.effects.TLearner` is the T-learner on feature arrays; this is the
same model on table Domains, and the S-, X- and DR-learners beside it
(:mod:`medtransfer.runs.effect_learners`). With the default T-learner each treatment arm
gets its own TransferPipeline (encoder, transfer method, final predictor), fitted on the
source rows of that arm, the labelled target rows of that arm and every target row's
features; the effect of treatment for a patient is the difference of the two arms' predicted
outcomes, CATE(x) = mu1(x) - mu0(x). Every component model of every learner fits the one
method chosen jointly. Saved, it is one folder holding one pipeline artifact per component,
hash-listed like any run;
:func:`~medtransfer.runs.fit.fit_run` (``medtransfer fit --treatment-col``) adds the held-out
predictions, their intervals and their scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from medtransfer import artifacts
from medtransfer.data.domain import Domain
from medtransfer.data.sampling import choose_labelled
from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.policy_value import PROPENSITY
from medtransfer.params import (
    AnyOf,
    Constraints,
    InstanceOf,
    Interval,
    Options,
    check_params,
)
from medtransfer.runs.base import RunModel
from medtransfer.runs.effect_files import read_effect, write_effect
from medtransfer.runs.effect_intervals import (
    ARMS,
    EffectDraws,
    effect_draws,
    outcome,
)
from medtransfer.runs.effect_learners import (
    EFFECT,
    EFFECT_CONTROL,
    EFFECT_TREATED,
    JOINT,
    LEARNERS,
    REFITTED,
    EffectRows,
    fit_learner,
    fixed_propensity,
    refit_learner,
)
from medtransfer.runs.effect_overlap import warn_poor_overlap
from medtransfer.runs.effect_scores import score_effect
from medtransfer.runs.effect_selection import arm_template, choose_jointly
from medtransfer.runs.pipeline import TransferPipeline
from medtransfer.runs.recommend import BETTER


class EffectPipeline(BaseEstimator, RunModel):
    """Conditional treatment effect of table rows, by a T-, S-, X- or DR-learner whose
    component models are TransferPipelines sharing one method.

    Parameters
    ----------
    treatment : str
        Column of both domains' tables: 1 treated, 0 control, empty when not recorded. It
        selects the arm and is not a feature of the arms' models.
    pipeline : TransferPipeline, optional
        Unfitted template copied for each arm (default: ``TransferPipeline()``); its
        ``method`` and ``classifier`` may be "auto", chosen once for every component. Its
        ``task`` decides the outcome: regression reads predicted values, classification the
        probability of the second class (a risk difference; binary outcomes only).
    n_refits : int, default=200
        Bootstrap refits of both arms kept after ``fit`` for the intervals of the effects
        and of their mean (:mod:`medtransfer.runs.effect_intervals`); 0 for none.
    better : {"higher", "lower"}, optional
        Which way the outcome is better ("lower" for the risk of an adverse event). With it
        (and refits), :meth:`score` also gives the value of treating as recommended against
        treat-all and treat-none (:mod:`medtransfer.runs.effect_scores`).
    propensity : "logistic", "share" or float, default="logistic"
        P(treated | x) for those policy values: a logistic model on the arms' features
        (observational data), the treated share, or the known allocation probability of a
        randomised trial (0.5).
    learner : {"t", "s", "x", "dr"}, default="t"
        "t": one outcome model per arm, effect mu1 - mu0; "s": one outcome model with the
        treatment as a feature, effect f(x, 1) - f(x, 0); "x": the X-learner (imputed
        effects per arm combined by the propensity); "dr": the DR-learner (a regression of
        cross-fitted AIPW pseudo-outcomes). See :mod:`medtransfer.runs.effect_learners`.
    n_folds : int, default=5
        Folds of the DR-learner's cross-fitted arms and propensity.

    Attributes
    ----------
    pipelines_ : dict of str to TransferPipeline
        The fitted component pipelines, all fitting the same method: "control" and
        "treated" (t, x, dr), "joint" (s), "effect" (dr), "effect_treated" and
        "effect_control" (x; regressions of the imputed effects).
    propensity_model_ : estimator
        X-learner only: the fitted propensity g(x) that combines its two effect models.
    selection_ : dict
        The method and final-predictor family every component fits (``chosen_method``,
        ``method_params``, ``classifier``), why, and the evidence of ``auto`` and of
        ``classifier="auto"`` when they chose them
        (:func:`~medtransfer.runs.effect_selection.choose_jointly`).
    n_rows_ : dict
        Labelled rows per arm and domain that each pipeline learnt from, and the rows left
        out because their treatment was not recorded.
    labelled_target_ids_ : list of str
        The target rows whose outcomes either arm learnt from.
    refits_ : list of tuple of estimator
        The chosen models of the components that give the effect (``refitted_components``:
        both arms for t, the one model for s, the effect regressions for x and dr) refitted
        on ``n_refits`` bootstrap resamples; saved with the run
        (``refits/control/000.skops`` ...) and loaded back, so a loaded run gives
        intervals too. The X- and DR-learners' pseudo-outcomes are held fixed across the
        refits (the nuisance models' error is not resampled).
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "treatment": InstanceOf(str, what="a column name"),
        "pipeline": AnyOf(None, InstanceOf(TransferPipeline, what="a TransferPipeline")),
        "n_refits": AnyOf(Options(0), Interval(int, 2, None, hint="200 or more for a 95% "
                                                                   "interval")),
        "better": AnyOf(None, BETTER),
        "propensity": PROPENSITY,
        "learner": LEARNERS,
        "n_folds": Interval(int, 2, None, hint="5"),
    }

    def __init__(self, treatment: str, pipeline: TransferPipeline | None = None,
                 n_refits: int = 200, better: str | None = None,
                 propensity: str | float = "logistic", learner: str = "t",
                 n_folds: int = 5) -> None:
        self.treatment = treatment
        self.pipeline = pipeline
        self.n_refits = n_refits
        self.better = better
        self.propensity = propensity
        self.learner = learner
        self.n_folds = n_folds

    @property
    def random_state(self) -> int:
        """The component models' seed."""
        if getattr(self, "pipelines_", None):
            return next(iter(self.pipelines_.values())).random_state
        return (self.pipeline or TransferPipeline()).random_state

    def fit(
        self, source: Domain, target: Domain, target_labels: int | Sequence[str] = 0
    ) -> EffectPipeline:
        """Choose one method and family for every component, then fit the components.

        With ``method="auto"`` the method is chosen once, jointly: ``auto`` runs on both
        arms' rows together with the treatment as a feature (an S-learner of the same data),
        and every component then fits what it chose, so the effect never mixes two methods.
        ``classifier="auto"`` chooses the final predictor's family on the same rows.

        Parameters
        ----------
        source, target : Domain
            Table domains holding the ``treatment`` column; the source is labelled.
        target_labels : int or sequence of str, default=0
            k target outcomes to use, drawn as :meth:`TransferPipeline.fit` draws them among
            the target rows whose treatment is recorded (an outcome without its arm cannot be
            used), or the ids of those rows. Every target row's features are used.
        """
        check_params(self)
        template = self.pipeline if self.pipeline is not None else TransferPipeline()
        arm_source = self.arms(source, "source")
        arm_target = self.arms(target, "target")
        warn_poor_overlap(arm_target, self.treatment, target.name)
        labelled = self._labelled_positions(template, target, arm_target, target_labels)
        source_rows = ~np.isnan(arm_source) & source.labelled_mask
        self.n_rows_ = {"treatment_not_recorded": {
            "source": int((np.isnan(arm_source) & source.labelled_mask).sum()),
            "target": int(np.isnan(arm_target).sum())}}
        arm_ids = {}
        for value, arm in enumerate(ARMS):
            in_source = int((source_rows & (arm_source == value)).sum())
            arm_ids[arm] = [str(i) for i in target.ids[labelled[arm_target[labelled] == value]]]
            if not in_source:
                raise DataError(
                    f"source {source.name!r} has no labelled {arm} rows ({self.treatment!r} "
                    f"= {value}); a T-learner needs outcomes in both arms"
                )
            self.n_rows_[arm] = {"source": in_source, "target": len(arm_ids[arm])}
        self._check_target_arms(arm_ids)
        rows = EffectRows(source.subset(np.flatnonzero(source_rows)), target,
                          arm_source[source_rows], arm_target, arm_ids)
        self.selection_ = choose_jointly(template, rows.source, target, rows.labelled_ids)
        self.pipelines_ = {}
        fitted_on = fit_learner(self, arm_template(template, self.selection_), rows)
        self.labelled_target_ids_ = sorted(rows.labelled_ids)
        self.refits_ = [] if not self.n_refits else refit_learner(
            self, fitted_on, n_refits=self.n_refits, random_state=self.random_state)
        return self

    def _labelled_positions(self, template: TransferPipeline, target: Domain,
                            arm_target: np.ndarray, target_labels: int | Sequence[str]):
        """k outcomes drawn stratified by arm (each arm gets one when k allows), or the ids'."""
        recorded = np.flatnonzero(~np.isnan(arm_target))
        if not isinstance(target_labels, int | np.integer) or not target_labels:
            return recorded[template.labelled_positions(target.subset(recorded), target_labels)]
        if target.labels is None:
            return template.labelled_positions(target, target_labels)  # raises its message
        usable = recorded[target.labelled_mask[recorded]]
        arms = Domain(target.name, "table", target.inputs.iloc[usable], target.ids[usable],
                      labels=arm_target[usable].astype(int), class_names=ARMS)
        return np.sort(usable[choose_labelled(arms, int(target_labels),
                                              template.random_state)])

    def _check_target_arms(self, arm_ids: dict[str, list[str]]) -> None:
        """Labelled target rows in one arm only would let that arm alone learn the target."""
        counts = {arm: len(ids) for arm, ids in arm_ids.items()}
        if sum(counts.values()) and min(counts.values()) == 0:
            empty = min(counts, key=counts.get)
            raise DataError(
                f"the labelled target rows are all in one arm of {self.treatment!r} "
                f"({counts}); none is {empty}, so only one arm could learn the target: label "
                "target rows of both arms (or pass --target-labels 0)"
            )

    def arms(self, domain: Domain, role: str = "data") -> np.ndarray:
        """Treatment arm of every row of ``domain``: 1.0, 0.0 or NaN (not recorded).

        ``role`` names the domain in error messages ("source", "target").
        """
        if domain.kind != "table":
            raise ConfigError(f"{role} {domain.name!r} holds images; EffectPipeline needs "
                              "tables with a treatment column")
        if self.treatment not in domain.inputs:
            raise DataError(
                f"{role} {domain.name!r} has no column {self.treatment!r}; the treatment "
                f"column must be among its features ({list(domain.inputs.columns)[:8]} ...)"
            )
        values = domain.inputs[self.treatment]
        arm = pd.to_numeric(values, errors="coerce")
        wrong = values.notna() & ~arm.isin([0, 1])
        if wrong.any():
            bad = sorted({str(v) for v in values[wrong]})
            raise DataError(
                f"{role} {domain.name!r}: column {self.treatment!r} holds {bad[:5]}; expected "
                "1 (treated), 0 (control) or an empty cell (not recorded)"
            )
        return arm.to_numpy(dtype=float)

    def without_treatment(self, domain: Domain) -> Domain:
        """``domain`` without the treatment column (the features of every model but S's)."""
        if self.treatment not in domain.inputs:
            return domain
        return replace(domain, inputs=domain.inputs.drop(columns=[self.treatment]))

    def _with_treatment(self, domain: Domain, value: float) -> Domain:
        """``domain`` with every row's treatment set to ``value`` (the S-learner's input)."""
        return replace(domain, inputs=domain.inputs.assign(**{self.treatment: value}))

    def _check_fitted(self) -> None:
        check_is_fitted(self, "pipelines_")

    @property
    def refitted_components(self) -> tuple[str, ...]:
        """The components whose models give the effect: those the bootstrap refits."""
        return REFITTED[self.learner]

    def _component_domain(self, domain: Domain, name: str, t: float | None) -> Domain:
        return self.without_treatment(domain) if t is None else self._with_treatment(domain, t)

    def component_features(self, domain: Domain) -> dict[tuple[str, float | None], np.ndarray]:
        """Features of ``domain`` for each refitted component, keyed (name, treatment): the
        treatment is set to 0 and to 1 for the S-learner's model, None for the others."""
        values = (0.0, 1.0) if self.learner == "s" else (None,)
        return {(name, t): self.pipelines_[name].features(self._component_domain(domain, name, t))
                for name in self.refitted_components for t in values}

    def covariates(self, domain: Domain) -> np.ndarray:
        """The features a propensity model of ``domain``'s treatment reads: the control
        arm's (the S-learner's with the treatment set to 0, so it tells nothing)."""
        if self.learner == "s":
            return self.pipelines_[JOINT].features(self._with_treatment(domain, 0.0))
        return self.pipelines_["control"].features(self.without_treatment(domain))

    @property
    def outcome_pipeline(self) -> TransferPipeline:
        """A pipeline of the outcome: its task and class names are the run's."""
        self._check_fitted()
        return self.pipelines_[JOINT if self.learner == "s" else "control"]

    def predict_outcomes(self, domain: Domain) -> tuple[np.ndarray, np.ndarray]:
        """Predicted outcomes (mu0, mu1) of every row under control and under treatment:
        the arms' models, or the S-learner's model with the treatment set to 0 and to 1."""
        self._check_fitted()
        if self.learner == "s":
            return tuple(self._outcome(self.pipelines_[JOINT], self._with_treatment(domain, t))
                         for t in (0.0, 1.0))
        features = self.without_treatment(domain)
        return tuple(self._outcome(self.pipelines_[arm], features) for arm in ARMS)

    @staticmethod
    def _outcome(pipeline: TransferPipeline, domain: Domain) -> np.ndarray:
        if pipeline.task == "classification" and len(pipeline.class_names_) != 2:
            raise ConfigError(f"a treatment effect on {len(pipeline.class_names_)} classes "
                              "is not one number; use a binary outcome or a regression task")
        return np.asarray(outcome(pipeline, None, pipeline.features(domain)), dtype=float)

    def effect_of(self, predict: Callable[[str, float | None], np.ndarray],
                  domain: Domain) -> np.ndarray:
        """The learner's effect of every row of ``domain`` from ``predict(name, t)``, the
        prediction of component ``name`` (with the treatment set to ``t`` for the S-learner).

        t: mu1 - mu0; s: f(x, 1) - f(x, 0); dr: the pseudo-outcome regression; x:
        g tau0 + (1 - g) tau1 with the propensity g of target rows.
        """
        if self.learner == "t":
            return predict("treated", None) - predict("control", None)
        if self.learner == "s":
            return predict(JOINT, 1.0) - predict(JOINT, 0.0)
        if self.learner == "dr":
            return predict(EFFECT, None)
        g = fixed_propensity(self.propensity_model_, self.covariates(domain))
        return g * predict(EFFECT_CONTROL, None) + (1 - g) * predict(EFFECT_TREATED, None)

    def predict(self, domain: Domain) -> np.ndarray:
        """Conditional average treatment effect of every row, as the learner gives it."""
        self._check_fitted()
        return self.effect_of(lambda name, t: self._outcome(
            self.pipelines_[name], self._component_domain(domain, name, t)), domain)

    def predict_frame(self, domain: Domain, X: np.ndarray | None = None) -> pd.DataFrame:
        """Per row of ``domain``: id, recorded treatment and outcome, both predicted
        outcomes, the effect and, after ``fit`` with ``n_refits``, its 95% interval
        (``effect_low``, ``effect_high``) from the refitted arms. ``X`` is not used (each
        arm computes its own features)."""
        frame = effect_frame(self, domain)
        frame.insert(1, "treatment", self.arms(domain, "target"))
        label = (np.full(len(domain), np.nan) if domain.labels is None
                 else np.where(domain.labelled_mask, domain.labels.astype(float), np.nan))
        frame.insert(2, "label", label)
        return frame

    def has_refits(self) -> bool:
        """Whether the arms were refitted, so that effects have intervals."""
        return bool(getattr(self, "refits_", None))

    def refit_draws(self, domain: Domain) -> EffectDraws:
        """The refits' effects on ``domain`` (computed once per domain)."""
        kept = getattr(self, "_kept_draws", None)
        if kept is None or kept[0] is not domain:
            self._kept_draws = domain, effect_draws(self, domain,
                                                    random_state=self.random_state)
        return self._kept_draws[1]

    def score(self, domain: Domain, predictions: pd.DataFrame, n_resamples: int) -> dict:
        """The mean effect over ``domain`` with its interval, the factual prediction's
        scores and, with ``better``, the value of the recommendations against treat-all and
        treat-none (:func:`~medtransfer.runs.effect_scores.score_effect`)."""
        self._check_fitted()
        return score_effect(self, domain, predictions, n_resamples)

    def run_entries(self) -> dict[str, Any]:
        """The run manifest's description of the fit: the learner, the method every
        component shares and the evidence that chose it, each component's rows and
        labelled ids."""
        outcome_model = self.outcome_pipeline
        return {
            "task": outcome_model.task,
            "method": outcome_model.method,
            "classifier": outcome_model.classifier,
            "classifier_selection": self.selection_.get("classifier_selection"),
            "backbone": None,
            "learner": self.learner,
            "chosen_method": self.selection_["chosen_method"],
            "selection": self.selection_,
            "components": self.component_records(),
            "labelled_target_ids": self.labelled_target_ids_,
        }

    def save(self, path: Path, force: bool = False) -> Path:
        """Write one pipeline artifact per arm and a manifest listing every file's sha256."""
        with artifacts.atomic_directory(Path(path), force) as tmp:
            artifacts.write_manifest(tmp, self.write_to(tmp))
        return Path(path)

    def write_to(self, folder: Path) -> dict[str, Any]:
        """Write each arm's pipeline artifact under ``folder/ARM`` and the refits under
        ``folder/refits/ARM``; return the manifest entries
        (:func:`~medtransfer.runs.effect_files.write_effect`)."""
        self._check_fitted()
        return write_effect(self, folder)

    def component_records(self) -> dict[str, dict[str, Any]]:
        """Each component model's task, method, why (the shared choice), its rows and
        labelled target ids."""
        self._check_fitted()
        return {name: {"task": p.task, "chosen_method": p.chosen_method,
                       "method_params": p.method_params,
                       "chosen_by": self.selection_["reason"], "n_rows": self.n_rows_[name],
                       "labelled_target_ids": p.labelled_target_ids_}
                for name, p in self.pipelines_.items()}

    @classmethod
    def load(cls, path: Path, verify_key: bytes | None = None, **runtime: Any) -> EffectPipeline:
        """Load an EffectPipeline written by :meth:`save`, verifying every file's hash (and
        the signature, with ``verify_key``)."""
        return read_effect(cls, path, verify_key, **runtime)


def effect_frame(effect: EffectPipeline, domain: Domain) -> pd.DataFrame:
    """id, both predicted outcomes and the effect of every row of ``domain``, with its 95%
    interval (``effect_low``, ``effect_high``) when ``effect`` has refits."""
    mu0, mu1 = effect.predict_outcomes(domain)
    frame = pd.DataFrame({"id": domain.ids.astype(str), "outcome_control": mu0,
                          "outcome_treated": mu1, "effect": effect.predict(domain)})
    if effect.has_refits():
        frame["effect_low"], frame["effect_high"] = effect.refit_draws(domain).row_intervals()
    return frame
