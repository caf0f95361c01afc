"""The ``auto`` method: try the transfer methods, keep one only if it credibly beats a baseline.

With k labelled target samples, every candidate and every baseline is cross-validated on the
same folds of those k (see :mod:`medtransfer.select.validation`); a candidate replaces the
best baseline only when the lower bound of its paired, corrected interval clears the margin.
With k = 0, skada's unsupervised scorers vote and a disagreement keeps ``source_only``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_consistent_length, check_is_fitted

import medtransfer.adapt  # noqa: F401  (fills the METHODS registry before discovery)
from medtransfer.adapt.base import METHODS, get_method, register_method
from medtransfer.data.sample_domain import domain_masks
from medtransfer.errors import ConfigError
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.unsupervised import agreement_choice, score_without_labels
from medtransfer.select.validation import (
    infer_task,
    paired_bootstrap,
    target_folds,
    validate_methods,
)

BASELINES = ("source_only", "target_only", "pooled")


class AutoTransfer(BaseEstimator):
    """Choose the transfer method by honest validation, falling back to the best baseline.

    Parameters
    ----------
    estimator : estimator or None
        Final predictor every method trains; None means logistic (ridge) regression.
    candidates : list of str, dict of str to estimator, or None
        Method names to try besides the baselines; None means every registered method that
        supports the task and the number of labelled target samples. A dict names
        ready-made estimators (fitted as ``fit(X, y, *, sample_domain)``) to try instead.
    time_budget : float, default=300
        Seconds to spend on candidates after the baselines; the rest are skipped and listed.
    n_splits, n_repeats : int
        Cross-validation of the k labelled target samples (or source splits when k = 0).
    confidence : float, default=0.95
        One-sided confidence of the paired interval, Bonferroni-adjusted over the candidates.
    margin : float, default=0.0
        How far the interval's lower bound must clear the best baseline (AUROC / -MAE units).
    baseline_rule : {"credible", "best_cv"}, default="credible"
        Which baseline candidates must beat (and auto falls back to): "credible" keeps
        ``source_only`` unless ``target_only`` or ``pooled`` beats it by the same paired
        rule; "best_cv" takes the baseline with the best cross-validated score.
    min_class_size : int, default=5
        With fewer labelled target samples than this in some class (fewer than twice this
        in all for regression), no comparison is trusted and ``source_only`` is kept: a
        bootstrap over two or three samples of a class is not evidence.
    task : {"auto", "classification", "regression"}
        "auto" infers it from ``y``.
    random_state : int or None
        Seed of the folds and of every method.

    Attributes
    ----------
    choice_ : str
        Name of the chosen method.
    evidence_ : dict
        JSON-able record: scores per method and fold, paired differences, times, reason.
    estimator_ : estimator
        The chosen method refitted on all training rows.
    """

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        candidates: list[str] | Mapping[str, BaseEstimator] | None = None,
        *,
        time_budget: float = 300.0,
        n_splits: int = 5,
        n_repeats: int = 3,
        confidence: float = 0.95,
        margin: float = 0.0,
        baseline_rule: str = "credible",
        min_class_size: int = 5,
        task: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.candidates = candidates
        self.time_budget = time_budget
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.confidence = confidence
        self.margin = margin
        self.baseline_rule = baseline_rule
        self.min_class_size = min_class_size
        self.task = task
        self.random_state = random_state

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
        if self.baseline_rule not in ("credible", "best_cv"):
            raise ConfigError(
                f"baseline_rule={self.baseline_rule!r} is not one of 'credible', 'best_cv'"
            )
        task = infer_task(y) if self.task == "auto" else self.task
        k = int(domain_masks(y, sample_domain)[1].sum())
        methods = self._candidates(task, k)
        start = time.perf_counter()
        if k == 0:
            evidence = self._select_without_labels(methods, X, y, sample_domain, task)
        else:
            evidence = self._select_with_labels(methods, X, y, sample_domain, task, groups)
        evidence.update(task=task, k=k, time_s=time.perf_counter() - start)
        self.choice_ = evidence["choice"]
        self.evidence_ = _jsonable(evidence)
        self.estimator_ = clone(methods[self.choice_]).fit(X, y, sample_domain=sample_domain)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def _candidates(self, task: str, k: int) -> dict[str, BaseEstimator]:
        """Baselines first, then the candidates that can run for this task and k."""
        estimator = self.estimator
        if estimator is None:
            estimator = make_classifier("logreg", task, self.random_state)
        given = dict(self.candidates) if isinstance(self.candidates, Mapping) else {}
        clash = sorted(set(given) & {*BASELINES, "auto"})
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
        return {**built, **given}

    def _select_with_labels(self, methods, X, y, sample_domain, task, groups) -> dict:
        source, target = domain_masks(y, sample_domain)
        smallest = _smallest_class(y[target], np.unique(y[source | target]), task)
        # 0 (a class without any target label) is an error, raised by ``target_folds``
        if 0 < smallest < self.min_class_size and "source_only" in methods:
            return {"mode": "too_few_labels", "methods": {}, "baseline": "source_only",
                    "skipped": [n for n in methods if n != "source_only"],
                    "choice": "source_only",
                    "reason": (f"the smallest class has only {smallest} labelled target "
                               f"sample(s), fewer than min_class_size={self.min_class_size}: "
                               "too few to trust any comparison; keeping source_only")}
        folds = target_folds(y, sample_domain=sample_domain, task=task, groups=groups,
                             n_splits=self.n_splits, n_repeats=self.n_repeats,
                             random_state=self.random_state)
        base = {n: m for n, m in methods.items() if n in BASELINES}
        results = validate_methods(base, X, y, sample_domain=sample_domain, folds=folds, task=task)
        skipped = self._validate_within_budget(
            {n: m for n, m in methods.items() if n not in BASELINES}, results,
            lambda ms: validate_methods(ms, X, y, sample_domain=sample_domain, folds=folds,
                                        task=task))
        y_k = y[np.unique(np.concatenate([te for _, te in folds]))]
        best, baseline_comparisons = self._reference(results, y_k, task)
        comparisons = self._compare(results, best, y_k, task)
        choice, reason = self._decide(comparisons, best, results)
        return {"mode": "few_labels", "folds": [{"train": tr, "test": te} for tr, te in folds],
                "methods": results, "baseline": best, "baseline_rule": self.baseline_rule,
                "baseline_comparisons": baseline_comparisons, "comparisons": comparisons,
                "skipped": skipped, "choice": choice, "reason": reason}

    def _reference(self, results, y_k, task) -> tuple[str, dict]:
        """The baseline candidates must beat, and the comparisons that chose it.

        "credible": ``source_only`` (no transfer) unless ``target_only`` or ``pooled``
        beats it by a paired interval clearing the margin; "best_cv": the best CV score.
        """
        best = _best_baseline(results)
        source = results.get("source_only")
        if self.baseline_rule == "best_cv" or source is None or source["error"]:
            return best, {}
        others = [n for n in BASELINES if n in results and n != "source_only"
                  and results[n]["error"] is None]
        level = 1 - (1 - self.confidence) / max(1, len(others))
        compared = {n: paired_bootstrap(y_k, results[n]["oof"], results["source_only"]["oof"],
                                        task=task, confidence=level,
                                        random_state=self.random_state) for n in others}
        credible = {n: c for n, c in compared.items() if c["lower"] > self.margin}
        choice = max(credible, key=lambda n: credible[n]["mean"]) if credible else "source_only"
        return choice, compared

    def _validate_within_budget(self, methods, results, validate) -> list[str]:
        """Validate candidates one by one until the time budget is spent; return the rest."""
        start, skipped = time.perf_counter(), []
        for name, method in methods.items():
            if time.perf_counter() - start > self.time_budget:
                skipped.append(name)
                continue
            results.update(validate({name: method}))
        return skipped

    def _compare(self, results, best, y_k, task) -> dict[str, dict]:
        """Paired bootstrap of each method against the best baseline, Bonferroni-adjusted."""
        others = [n for n in results if n != best and results[n]["error"] is None]
        n_tests = sum(n not in BASELINES for n in others)
        level = 1 - (1 - self.confidence) / max(1, n_tests)
        return {n: paired_bootstrap(y_k, results[n]["oof"], results[best]["oof"], task=task,
                                    confidence=level, random_state=self.random_state)
                for n in others}

    def _decide(self, comparisons, best, results) -> tuple[str, str]:
        credible = {n: c for n, c in comparisons.items()
                    if n not in BASELINES and c["lower"] > self.margin}
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

    def _select_without_labels(self, methods, X, y, sample_domain, task) -> dict:
        names = ["source_only", *(n for n in methods if n not in BASELINES)]
        results: dict[str, dict] = {}
        skipped = self._validate_within_budget(
            {n: methods[n] for n in names}, results,
            lambda ms: score_without_labels(ms, X, y, sample_domain=sample_domain, task=task,
                                            n_repeats=self.n_repeats,
                                            random_state=self.random_state))
        verdict = agreement_choice(results, reference="source_only")
        return {"mode": "unsupervised", "methods": results, "baseline": "source_only",
                "skipped": skipped, **verdict}

    def predict(self, X) -> np.ndarray:
        """Predictions of the chosen method."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

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


def _smallest_class(y_k: np.ndarray, classes: np.ndarray, task: str) -> int:
    """Labelled target samples in the rarest class (half of them all for regression)."""
    if task == "regression":
        return len(y_k) // 2
    return min(int(np.sum(y_k == c)) for c in classes)


def _best_baseline(results: dict[str, dict]) -> str:
    means = {n: r["score"] for n, r in results.items()
             if n in BASELINES and np.isfinite(r["score"])}
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
    "try every method on the k labelled target samples (unsupervised scorers at k = 0); "
    "keep one only if it credibly beats the best baseline",
)
def _auto(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return AutoTransfer(estimator, random_state=random_state)
