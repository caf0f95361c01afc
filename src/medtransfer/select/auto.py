"""The ``auto`` method: try the transfer methods, keep one only if it credibly beats a baseline.

With k labelled target samples, every candidate and every baseline is cross-validated on the
same folds of those k (see :mod:`medtransfer.select.validation`); a candidate replaces the
best baseline only when the lower bound of its paired, corrected interval clears the margin.
With k = 0, classification keeps the candidate the other adapted models agree with most when it
clearly beats ``source_only`` (:mod:`medtransfer.select.k0_evidence`); regression lets skada's
unsupervised scorers vote, and a disagreement keeps ``source_only``.
Before any of that, the final predictor's regularisation is chosen by cross-validation on the
labelled source rows (:mod:`medtransfer.select.predictor`), and every method and baseline
is compared with it. For classification with enough labels to compare methods, the reference
kept unless something credibly beats it is ``all_labelled``: the source plus the k labelled
target rows, each counting once.

For regression, ``point="pw20"`` moves the chosen model's predictions to the values most
likely to fall within ±20% of the truth (:class:`~medtransfer.models.tolerance.PW20Decision`),
tuned on the same out-of-fold predictions of the k labelled target samples.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_consistent_length, check_is_fitted
from threadpoolctl import threadpool_limits

from medtransfer.adapt.base import METHODS, get_method, register_method
from medtransfer.adapt.baselines import Pooled
from medtransfer.adapt.fold_invariant import AdaptationCache
from medtransfer.data.labels import TASKS
from medtransfer.data.sample_domain import domain_masks, target_type
from medtransfer.errors import ConfigError
from medtransfer.models.classifiers import make_classifier
from medtransfer.models.tolerance import TRANSFORMS, PW20Decision
from medtransfer.params import Constraints, Options, Requires, check_params
from medtransfer.select.budget import SizeRule, plan_candidates, skip, skip_line
from medtransfer.select.k0_evidence import choose_without_labels
from medtransfer.select.predictor import choose_predictor, default_grid, tune_on_source
from medtransfer.select.progress import SelectionProgress
from medtransfer.select.unsupervised import agreement_choice, score_without_labels
from medtransfer.select.validation import (
    SCORINGS,
    paired_bootstrap,
    rare_rows,
    target_folds,
    validate_methods,
)

BASELINES = ("source_only", "target_only", "pooled")
SERIAL_BLAS_SIZE = 2**20  # elements of a training matrix selected on one BLAS thread
# Classification with k > 0: the source plus the k labelled target rows, each row counting once
# (``Pooled(target_share=None)``); auto's anchor there, and a reference like the baselines.
ALL_LABELLED = "all_labelled"
REFERENCES = (*BASELINES, ALL_LABELLED)
BASELINE_RULES = ("auto", "credible", "best_cv")
POINTS = ("mean", "pw20")


class AutoTransfer(BaseEstimator):
    """Choose the transfer method by honest validation, falling back to the best baseline.

    Parameters
    ----------
    estimator : estimator, "auto" or None
        Final predictor every method trains; None means logistic (ridge) regression.
        "auto" chooses its family among the registered classifiers (logistic regression
        with its ``C``, SVM, boosting) by cross-validation on the labelled source rows
        (:func:`~medtransfer.select.predictor.choose_predictor`), before any method is
        compared; ``estimator_grid`` is then not used.
    candidates : list of str, dict of str to estimator, or None
        Method names to try besides the baselines; None means every registered method that
        supports the task and the number of labelled target samples. A dict names
        ready-made estimators (fitted as ``fit(X, y, *, sample_domain)``) to try instead.
    max_fits : int or None, default=None
        Work budget: fits allowed over all candidates after the baselines (one fit per
        candidate and fold); candidates past it are skipped and listed. None: no limit.
    size_rules : mapping of str to SizeRule, optional
        Candidates skipped above a number of rows (source + target) because they are known
        to be too expensive there; None uses :data:`medtransfer.select.budget.SIZE_RULES`,
        ``{}`` tries every candidate. Decided by the data size alone, so reproducible.
    time_budget : float or None, default=None
        Seconds to spend on candidates after the baselines; the rest are skipped and listed.
        Only on request: the choice then depends on the machine's speed and load.
    n_splits, n_repeats : int
        Cross-validation of the k labelled target samples (or source splits when k = 0).
    confidence : float, default=0.95
        One-sided confidence of the paired interval, Bonferroni-adjusted over the candidates.
    margin : float, default=0.0
        How far the interval's lower bound must clear the best baseline (units of the validation
        metric: AUROC, -Brier or -MAE).
    baseline_rule : {"auto", "credible", "best_cv"}, default="auto"
        Which baseline candidates must beat (and auto falls back to): "credible" keeps
        ``source_only`` unless ``target_only`` or ``pooled`` beats it by the same paired rule;
        "best_cv" takes the baseline with the best cross-validated score. "auto" is "credible" with
        ``all_labelled`` as the anchor for classification with k > 0 (the source plus the k labelled
        target rows, each row counting once: it discards no label and gives the target no extra
        weight; on the heart sites at k = 40 it beat ``source_only`` by 0.020 AUROC, 10 seeds); for
        regression the anchor is ``pooled``, kept unless ``source_only`` or ``target_only`` credibly
        beats it. Pooling the k labels with the source adapts a regression's level and slopes at
        little risk, while a paired test of MAE over k samples has little power: on the warfarin
        benchmark at k = 100 "credible" kept ``source_only`` (PW20 0.39) in some seeds where
        ``pooled`` reached 0.45.
    scoring : {"brier", "auroc"}, default="brier"
        Classification's validation metric on the k labelled target samples: the negative
        class-balanced Brier score of the out-of-fold probabilities, or their macro AUROC
        (see :mod:`medtransfer.select.validation`). The Brier score also sees a class boundary
        left where the source had it: on the six PneumoniaMNIST acquisition shifts at k = 10
        it chose ``pooled``, ``self_training`` or ``label_spreading`` where AUROC kept
        ``all_labelled`` (test balanced accuracy 0.819 vs 0.720, AUROC 0.890 vs 0.874).
        Regression is always scored by MAE.
    min_class_size : int, default=5
        A class with fewer labelled target samples than this is not scored: a bootstrap
        over two or three samples of a class is not evidence. Its labelled samples stay in
        every training fold, and the other classes are scored (on the white-blood-cell
        benchmark, 1 labelled basophil among 5 cells per class). With fewer than two
        classes left to score (fewer than twice this many samples in all for regression),
        no comparison is trusted and ``source_only`` is kept.
    task : {"auto", "classification", "regression"}
        "auto" infers it from ``y``.
    estimator_grid : "auto", dict or None, default="auto"
        Hyper-parameter of the final predictor, chosen once by cross-validation on the
        labelled source rows before any method is compared (see
        :mod:`medtransfer.select.predictor`); every method and baseline then uses it.
        "auto": the ``C`` of a logistic regression (1 down to 0.001; other predictors are
        used as given); a dict ``{param: values}`` names one; None uses the predictor as
        given.
    point : {"mean", "pw20"}, default="mean"
        Regression only: "pw20" passes the chosen model's predictions through a
        :class:`~medtransfer.models.tolerance.PW20Decision` fitted on its out-of-fold
        predictions (with k = 0, or too few labels, the predictions are left as they are).
    target_transform : {"none", "sqrt", "log"}, default="none"
        How ``y`` relates to the outcome (e.g. "sqrt" when fitted on sqrt(dose)); the ±20%
        windows of ``point="pw20"`` are taken on the original scale.
    random_state : int or None
        Seed of the folds and of every method.
    progress : bool, default=False
        Show candidate i of n, fold and elapsed time on stderr, and one line per skipped
        candidate.
    class_names : list of str, optional
        Names of the class codes ``0, 1, ...``, used in the evidence's sentences.
    protect : sequence of int, default=()
        Feature positions that the candidates moving features never align (set on every
        candidate with a ``protect`` parameter; see :mod:`medtransfer.adapt.protect`).

    Attributes
    ----------
    choice_ : str
        Name of the chosen method.
    evidence_ : dict
        JSON-able record: scores per method and fold, paired differences, times, reason.
    estimator_ : estimator
        The chosen method refitted on all training rows.
    decision_ : PW20Decision or None
        The fitted decision of ``point="pw20"`` (None otherwise).
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "baseline_rule": Options(*BASELINE_RULES),
        "task": Options("auto", *TASKS),  # "auto" never reaches the check: it is resolved first
        "point": Options(*POINTS),
        "scoring": Options(*SCORINGS),
        "target_transform": Options(*TRANSFORMS),
    }
    # checked with task="auto" resolved from y: pw20 then needs regression labels
    _parameter_rules = (Requires("point", unless="mean", needs={"task": "regression"}),)

    def __init__(
        self,
        estimator: BaseEstimator | str | None = None,
        candidates: list[str] | Mapping[str, BaseEstimator] | None = None,
        *,
        max_fits: int | None = None,
        size_rules: Mapping[str, SizeRule] | None = None,
        time_budget: float | None = None,
        n_splits: int = 5,
        n_repeats: int = 3,
        confidence: float = 0.95,
        margin: float = 0.0,
        baseline_rule: str = "auto",
        scoring: str = "brier",
        min_class_size: int = 5,
        task: str = "auto",
        estimator_grid: str | dict | None = "auto",
        point: str = "mean",
        target_transform: str = "none",
        random_state: int | None = None,
        progress: bool = False,
        class_names: list[str] | None = None,
        protect: Sequence[int] = (),
    ) -> None:
        self.estimator = estimator
        self.candidates = candidates
        self.max_fits = max_fits
        self.size_rules = size_rules
        self.time_budget = time_budget
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.confidence = confidence
        self.margin = margin
        self.baseline_rule = baseline_rule
        self.scoring = scoring
        self.min_class_size = min_class_size
        self.task = task
        self.estimator_grid = estimator_grid
        self.point = point
        self.target_transform = target_transform
        self.random_state = random_state
        self.progress = progress
        self.class_names = class_names
        self.protect = protect

    def fit(self, X, y, *, sample_domain, groups=None) -> AutoTransfer:
        """Validate the candidates, choose one, and refit it on all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked source and target rows.
        y : array-like of shape (n_samples,)
            Labels; unlabelled target rows are -1 (classification) or NaN (regression).
        sample_domain : array-like of shape (n_samples,)
            Positive for source rows, negative for target rows.
        groups : array-like of shape (n_samples,), optional
            Patient ids: folds keep all rows of a patient together.
        """
        X, y, sample_domain = np.asarray(X), np.asarray(y), np.asarray(sample_domain)
        check_consistent_length(X, y, sample_domain)
        task = target_type(y) if self.task == "auto" else self.task
        check_params(self, task=task)
        k = int(domain_masks(y, sample_domain)[1].sum())
        # Hundreds of small fits: BLAS threads cannot pay for their synchronisation there, and
        # on a busy machine they wait for each other (a 597 x 25 logistic fit: 7x slower with
        # two threads than one on the loaded 2-core development machine).
        serial = threadpool_limits(limits=1, user_api="blas") if X.size <= SERIAL_BLAS_SIZE \
            else nullcontext()
        with serial:
            return self._fit(X, y, sample_domain, groups, task, k)

    def _fit(self, X, y, sample_domain, groups, task: str, k: int) -> AutoTransfer:
        start = time.perf_counter()
        estimator, tuning = self._tuned_estimator(X, y, sample_domain, task, groups)
        methods = self._candidates(task, k, estimator)
        # One selection's adaptations of the methods that read no target label: the folds and
        # the final fit differ only in which target rows are labelled, so each adapts once.
        cache = AdaptationCache(X, y, sample_domain)
        if k == 0:
            evidence = self._select_without_labels(methods, X, y, sample_domain, task, cache)
        else:
            evidence = self._select_with_labels(methods, X, y, sample_domain, task, groups, cache)
        evidence.update(task=task, k=k, final_predictor=tuning,
                        time_s=time.perf_counter() - start)
        self.choice_ = evidence["choice"]
        self.decision_ = self._fit_decision(evidence, y, sample_domain)
        evidence.pop("folds_raw", None)
        self.evidence_ = _jsonable(evidence)
        self.estimator_ = cache.fit(clone(methods[self.choice_]), X, y,
                                    sample_domain=sample_domain)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def _fit_decision(self, evidence: dict, y, sample_domain) -> PW20Decision | None:
        """The PW20 decision on the chosen method's out-of-fold predictions, if asked for."""
        if self.point == "mean":
            return None
        chosen = evidence.get("methods", {}).get(self.choice_)
        if evidence.get("mode") != "few_labels" or chosen is None or chosen["error"]:
            evidence["decision"] = {"applied": False, "reason": (
                "no out-of-fold predictions on labelled target samples to tune the PW20 "
                "decision on; predictions left as they are")}
            return None
        source, _ = domain_masks(y, sample_domain)
        rows = np.unique(np.concatenate([test for _, test in evidence["folds_raw"]]))
        decision = PW20Decision(transform=self.target_transform).fit(
            np.asarray(chosen["oof"])[:, 0], y[rows], source_values=y[source])
        evidence["decision"] = {
            "applied": decision.bandwidth_ > 0, "bandwidth": decision.bandwidth_,
            "sigma": decision.sigma_,
            "validation": {str(b): v for b, v in decision.validation_.items()},
            "reason": (f"bandwidth {decision.bandwidth_} had the best out-of-fold PW20 "
                       f"({decision.validation_[decision.bandwidth_]['pw20']:.3f} vs "
                       f"{decision.validation_[0.0]['pw20']:.3f} for the plain prediction) "
                       "with MAE at most 1% worse"),
        }
        return decision

    def _tuned_estimator(self, X, y, sample_domain, task, groups) -> tuple[BaseEstimator, dict]:
        """The final predictor with its hyper-parameter (or family, for "auto") chosen on the
        labelled source rows."""
        estimator = self.estimator
        if isinstance(estimator, str):
            if estimator != "auto":
                raise ConfigError(f"estimator={estimator!r}: expected an estimator, None or "
                                  "'auto' (the family chosen on the source)")
            return choose_predictor(X, y, sample_domain=sample_domain, task=task,
                                    groups=groups, random_state=self.random_state)[1:]
        if estimator is None:
            estimator = make_classifier("logreg", task, self.random_state)
        grid = self.estimator_grid
        if grid == "auto":
            grid = default_grid(estimator, task)
        elif grid is not None and (not isinstance(grid, Mapping) or len(grid) != 1):
            raise ConfigError(
                f"estimator_grid={grid!r} must be 'auto', None or one {{param: values}} pair, "
                "e.g. {'logisticregression__C': [1.0, 0.1, 0.01]}"
            )
        return tune_on_source(estimator, X, y, sample_domain=sample_domain, grid=dict(grid or {}),
                              task=task, groups=groups, random_state=self.random_state)

    def _candidates(self, task: str, k: int, estimator: BaseEstimator) -> dict[str, BaseEstimator]:
        """Baselines first, then the candidates that can run for this task and k."""
        given = dict(self.candidates) if isinstance(self.candidates, Mapping) else {}
        clash = sorted(set(given) & {*REFERENCES, "auto"})
        if clash:
            raise ConfigError(
                f"candidate name(s) {clash} are reserved for the baselines and auto; "
                "rename those candidates"
            )
        if self.candidates is None:
            names = [n for n in METHODS if n != "auto"]
        else:
            names = [] if given else list(self.candidates)
        names = [n for n in dict.fromkeys((*BASELINES, *names)) if _runs(n, task, k)]
        built = {n: get_method(n, task, k).build(estimator, self.random_state) for n in names}
        for method in built.values():
            if "protect" in method.get_params(deep=False):
                method.set_params(protect=self.protect)
        references = {n: m for n, m in built.items() if n in BASELINES}
        if task == "classification" and k > 0:
            references[ALL_LABELLED] = Pooled(estimator, target_share=None)
        return {**references, **built, **given}

    def _select_with_labels(self, methods, X, y, sample_domain, task, groups, cache) -> dict:
        held_in, short = rare_rows(y, sample_domain, task, self.min_class_size)
        # Not all_labelled either: what a handful of target rows teach it goes unchecked (on
        # the heart sites, 10 VA Long Beach patients cost Cleveland -> VA 0.02 AUROC).
        if short and "source_only" in methods:
            return {"mode": "too_few_labels", "methods": {}, "baseline": "source_only",
                    "skipped": [skip(n, "too few labelled target samples to compare methods")
                                for n in methods if n != "source_only"],
                    "choice": "source_only",
                    "reason": f"{short}: too few to trust any comparison; keeping source_only"}
        folds = target_folds(y, sample_domain=sample_domain, task=task, groups=groups,
                             n_splits=self.n_splits, n_repeats=self.n_repeats,
                             random_state=self.random_state, held_in=held_in)
        results, skipped = self._validate_planned(
            methods, len(X), len(folds),
            lambda ms, on_fold: validate_methods(ms, X, y, sample_domain=sample_domain,
                                                 folds=folds, task=task, on_fold=on_fold,
                                                 cache=cache, scoring=self.scoring))
        rows = np.unique(np.concatenate([te for _, te in folds]))
        y_k, g_k = y[rows], None if groups is None else np.asarray(groups)[rows]
        best, baseline_comparisons, anchor = self._reference(results, y_k, task, g_k)
        comparisons = self._compare(results, best, y_k, task, g_k)
        choice, reason = self._decide(comparisons, best, results)
        scoring = self.scoring if task == "classification" else "mae"
        return {"mode": "few_labels", "scoring": scoring,
                "folds": [{"train": tr, "test": te} for tr, te in folds],
                "folds_raw": folds, "baseline_anchor": anchor,
                "methods": results, "baseline": best, "baseline_rule": self.baseline_rule,
                "baseline_comparisons": baseline_comparisons, "comparisons": comparisons,
                "held_in": _held_in_note(y, held_in, self.min_class_size, self.class_names),
                "skipped": skipped, "choice": choice, "reason": reason}

    def _reference(self, results, y_k, task, g_k) -> tuple[str, dict, dict]:
        """The baseline candidates must beat, the comparisons that chose it, and the anchor.

        "credible": the anchor ``source_only`` (no transfer) unless ``target_only`` or
        ``pooled`` beats it by a paired interval clearing the margin; "best_cv": the best
        CV score; "auto": "credible" around another anchor (``pooled`` for regression; see
        the class docstring).
        """
        best = _best_baseline(results)
        source = results.get("source_only")
        if self.baseline_rule == "best_cv" or source is None or source["error"]:
            return best, {}, {"anchor": None, "reason": "best cross-validated baseline"}
        anchor = {"anchor": "source_only", "reason": "no transfer unless credibly beaten"}
        if self.baseline_rule == "auto" and task == "regression":
            anchor = self._regression_anchor(results)
        elif self.baseline_rule == "auto" and _ran(results, ALL_LABELLED):
            anchor = {"anchor": ALL_LABELLED, "reason": "classification with labelled target "
                      f"samples: {ALL_LABELLED} is kept unless source_only, target_only or "
                      f"pooled credibly beats it{_ALL_LABELLED_WHY}"}
        name = anchor["anchor"]
        others = [n for n in REFERENCES if n in results and n != name
                  and results[n]["error"] is None]
        level = 1 - (1 - self.confidence) / max(1, len(others))
        compared = {n: paired_bootstrap(y_k, results[n]["oof"], results[name]["oof"],
                                        task=task, confidence=level, groups=g_k,
                                        random_state=self.random_state, scoring=self.scoring)
                    for n in others}
        credible = {n: c for n, c in compared.items() if c["lower"] > self.margin}
        choice = max(credible, key=lambda n: credible[n]["mean"]) if credible else name
        return choice, compared, anchor

    @staticmethod
    def _regression_anchor(results) -> dict:
        """``pooled`` (when it ran) for regression: see the class docstring."""
        pooled = results.get("pooled")
        if pooled is None or pooled["error"]:
            return {"anchor": "source_only", "reason": "pooled did not run; no transfer "
                    "unless credibly beaten"}
        return {"anchor": "pooled", "reason": (
            "regression: pooled (source + labelled target, half the weight each) is kept "
            "unless source_only or target_only credibly beats it")}

    def _validate_planned(self, methods, n_rows, n_fits, validate, unit="fold"):
        """Validate the references, then the candidates :func:`plan_candidates` keeps.

        Returns the results and the skipped candidates (``{"name", "reason"}``), each skip
        printed as one line when ``progress`` is on.
        """
        references = [n for n in methods if n in REFERENCES]
        plan = plan_candidates([n for n in methods if n not in REFERENCES], n_rows=n_rows,
                               n_folds=n_fits, size_rules=self.size_rules, max_fits=self.max_fits)
        results, skipped = {}, list(plan.skipped)
        with SelectionProgress(self.progress, [*references, *plan.run], n_fits, unit) as bar:
            for entry in skipped:
                bar.note(skip_line(entry))
            start = None
            for name in [*references, *plan.run]:
                if name not in references:
                    start = start or time.perf_counter()
                    if self._out_of_time(start):
                        skipped.append(skip(name, f"time budget of {self.time_budget} s spent "
                                                  "(--time-budget: depends on the machine)"))
                        bar.note(skip_line(skipped[-1]))
                        continue
                bar.candidate(name)
                results.update(validate({name: methods[name]}, bar.fold))
                bar.finish_candidate()
        return results, skipped

    def _out_of_time(self, start: float) -> bool:
        return self.time_budget is not None and time.perf_counter() - start > self.time_budget

    def _compare(self, results, best, y_k, task, g_k) -> dict[str, dict]:
        """Paired bootstrap of each method against the best baseline, Bonferroni-adjusted
        (patients resampled when ``g_k``, their ids, are known)."""
        others = [n for n in results if n != best and results[n]["error"] is None]
        n_tests = sum(n not in REFERENCES for n in others)
        level = 1 - (1 - self.confidence) / max(1, n_tests)
        return {n: paired_bootstrap(y_k, results[n]["oof"], results[best]["oof"], task=task,
                                    confidence=level, groups=g_k,
                                    random_state=self.random_state, scoring=self.scoring)
                for n in others}

    def _decide(self, comparisons, best, results) -> tuple[str, str]:
        credible = {n: c for n, c in comparisons.items()
                    if n not in REFERENCES and c["lower"] > self.margin}
        if not credible:
            score = results[best]["score"]
            return best, (f"no candidate beat the best baseline {best} (CV score {score:.3f}) "
                          f"by more than {self.margin} at {self.confidence:.0%} confidence; "
                          f"keeping {best}")
        winner = max(credible, key=lambda n: credible[n]["mean"])
        c = credible[winner]
        return winner, (f"{winner} beat the best baseline {best} by {c['mean']:+.3f} (paired, "
                        f"lower bound {c['lower']:+.3f} > margin {self.margin}, "
                        f"{c['n']} labelled target samples)")

    def _select_without_labels(self, methods, X, y, sample_domain, task, cache) -> dict:
        if task == "classification":
            return choose_without_labels(
                methods, X, y, sample_domain=sample_domain, cache=cache,
                validate=lambda ms, run: self._validate_planned(
                    ms, len(X), 1, lambda one, _: run(one), unit="fit"))
        names = ["source_only", *(n for n in methods if n not in REFERENCES)]
        results, skipped = self._validate_planned(
            {n: methods[n] for n in names}, len(X), self.n_repeats,
            lambda ms, _: score_without_labels(ms, X, y, sample_domain=sample_domain, task=task,
                                               n_repeats=self.n_repeats,
                                               random_state=self.random_state),
            unit="repeat")
        verdict = agreement_choice(results, reference="source_only")
        return {"mode": "unsupervised", "methods": results, "baseline": "source_only",
                "skipped": skipped, **verdict}

    def predict(self, X) -> np.ndarray:
        """Predictions of the chosen method (through the PW20 decision when fitted)."""
        check_is_fitted(self, "estimator_")
        pred = self.estimator_.predict(X)
        if getattr(self, "decision_", None) is not None:
            return self.decision_.predict(pred)
        return pred

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the chosen method."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)


def _runs(name: str, task: str, k: int) -> bool:
    """Whether method ``name`` can run here; an unknown name raises with suggestions."""
    if name in BASELINES and name not in METHODS:
        return False
    method = METHODS.get(name)
    return task in method.tasks and not (method.needs_target_labels and k == 0)


_ALL_LABELLED_WHY = (
    " (the source plus the labelled target samples, each row counting once, no transfer "
    "method: it discards no label and gives the target no extra weight)"
)


def _ran(results: dict, name: str) -> bool:
    return name in results and results[name]["error"] is None


def _held_in_note(y: np.ndarray, held_in: np.ndarray, min_class_size: int,
                  class_names: list[str] | None = None) -> str | None:
    """What happened to the labelled samples of rare classes, for the evidence."""
    if not len(held_in):
        return None
    classes, counts = np.unique(y[held_in], return_counts=True)
    names = [class_names[int(c)] if class_names else c.item() for c in classes]
    listed = ", ".join(f"class {c!r}: {n}" for c, n in zip(names, counts, strict=True))
    return (f"{listed} labelled target sample(s), fewer than min_class_size={min_class_size}: "
            "kept labelled in every training fold, not scored")


def _best_baseline(results: dict[str, dict]) -> str:
    means = {n: r["score"] for n, r in results.items()
             if n in REFERENCES and np.isfinite(r["score"])}
    return max(means, key=means.get) if means else "source_only"


def _jsonable(value):
    """Numbers, strings, lists and dicts only: NaN becomes None, arrays become lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@register_method(
    "auto",
    "try every method on the k labelled target samples (target agreement at k = 0); "
    "keep one only if it credibly beats the best baseline",
)
def _auto(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return AutoTransfer(estimator, random_state=random_state)
