"""The final predictor's family and regularisation, chosen on the labelled source rows only.

Every method that ``auto`` compares trains the same final predictor, so its hyper-parameters
are chosen once, before any method is compared, by stratified (patient-grouped when ids
exist) cross-validation on the labelled source rows. The k labelled target samples stay
reserved for comparing methods and the target test rows are never seen.

Why it matters: on small clinical tables (a few hundred patients, tens of columns) a
logistic regression at scikit-learn's default ``C = 1`` fits details of the source site
that do not carry over to another hospital; the source's own cross-validation already
prefers much stronger regularisation, and so does the target. The family matters as much:
on a 400-patient table the default SVM lost 0.09-0.11 AUROC to a logistic regression, which
:func:`choose_predictor` (``classifier="auto"``) sees on the source's own folds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from medtransfer.data.sample_domain import domain_masks
from medtransfer.errors import ConfigError
from medtransfer.models.classifiers import CLASSIFIERS, fit_weighted, make_classifier
from medtransfer.select.validation import metric

# Inverse regularisation strengths tried for a logistic regression (half-decades).
C_GRID = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)


def default_grid(estimator: BaseEstimator, task: str) -> dict[str, list]:
    """The "auto" grid: ``C`` of a logistic regression (alone or ending a pipeline).

    Other predictors are left as given (pass ``estimator_grid`` to tune them), and so are
    regression predictors (their tuning belongs to the regression path).
    """
    last = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if task != "classification" or not isinstance(last, LogisticRegression):
        return {}
    param = f"{estimator.steps[-1][0]}__C" if hasattr(estimator, "steps") else "C"
    return {param: sorted({float(last.C), *C_GRID}, reverse=True)}


class SourceCV(NamedTuple):
    """The labelled source rows and their folds, shared by every value and family scored."""

    X: np.ndarray
    y: np.ndarray
    folds: list
    grouped: bool


def source_cv(X, y, *, sample_domain, task: str = "classification", groups=None,
              n_splits: int = 5, random_state: int | None = None) -> SourceCV | None:
    """The labelled source rows of a stacked training set and their folds.

    Folds are stratified by class for classification and keep every row of a patient
    together when ``groups`` (patient ids) are given. None when there is nothing to
    cross-validate (a source class with fewer than two rows, fewer than two rows).
    """
    source, _ = domain_masks(np.asarray(y), np.asarray(sample_domain))
    rows = np.flatnonzero(source)
    y_s = np.asarray(y)[rows]
    g_s = None if groups is None else np.asarray(groups)[rows]
    folds = _source_folds(y_s, g_s, n_splits, random_state, task)
    if folds is None:
        return None
    return SourceCV(np.asarray(X)[rows], y_s, folds, g_s is not None)


def tune_on_source(
    estimator: BaseEstimator,
    X,
    y,
    *,
    sample_domain,
    grid: dict[str, list],
    task: str,
    groups=None,
    n_splits: int = 5,
    random_state: int | None = None,
) -> tuple[BaseEstimator, dict]:
    """Choose the grid point with the best cross-validated score on the labelled source rows.

    Parameters
    ----------
    estimator : estimator
        The final predictor (a plain classifier, or a pipeline ending in one).
    X, y, sample_domain
        The stacked training set (skada's convention); only labelled source rows are used.
    grid : dict of str to list
        One parameter name (``set_params`` form) and its values; empty: nothing to tune.
    task : {"classification", "regression"}
        Decides the metric (AUROC / negative MAE, as in few-label validation).
    groups : array-like, optional
        Patient ids: folds keep all rows of a patient together.
    n_splits : int
        Folds (reduced to what the rarest source class allows).
    random_state : int or None
        Seed of the folds.

    Returns
    -------
    (estimator, evidence)
        The estimator with the chosen value set (``estimator`` itself when nothing was
        tuned), and a JSON-able record: the rule, every value's mean score and standard
        error over folds, the chosen value and the reason.
    """
    if not grid:
        return estimator, {"tuned": False, "reason": "no hyper-parameter of the final "
                           "predictor to tune; used as given"}
    cv = source_cv(X, y, sample_domain=sample_domain, task=task, groups=groups,
                   n_splits=n_splits, random_state=random_state)
    if cv is None:
        return estimator, {"tuned": False, "reason": _TOO_FEW + "final predictor used as given"}
    start = time.perf_counter()
    tuned, evidence = _tune(estimator, grid, task, cv)
    evidence["time_s"] = time.perf_counter() - start
    return tuned, evidence


def choose_predictor(
    X,
    y,
    *,
    sample_domain,
    task: str,
    families: Sequence[str] | None = None,
    groups=None,
    n_splits: int = 5,
    random_state: int | None = None,
) -> tuple[str, BaseEstimator, dict]:
    """Choose the final predictor's family by cross-validation on the labelled source rows.

    Every family of the classifier registry (``medtransfer methods`` lists them) is scored
    on the same stratified, patient-grouped folds of the labelled source rows; a logistic
    regression is scored at its best ``C`` of :data:`C_GRID` (:func:`default_grid`), the
    others as registered. The family with the best mean score is chosen; ties and the
    fallback go to the first family, logistic regression by default (the least flexible).
    No target row is read: the target's labels stay for comparing transfer methods.

    The best of seven ``C`` values is a slightly optimistic estimate of the logistic
    regression's score (the others are scored at one setting); on the heart sites the
    gaps between families were larger than the spread over the ``C`` grid.

    Parameters
    ----------
    X, y, sample_domain
        The stacked training set (skada's convention); only labelled source rows are used.
    task : {"classification", "regression"}
        Decides the metric (AUROC / negative MAE) and each family's estimator.
    families : sequence of str, optional
        Registered names to choose among; None: every registered one, logistic regression
        first.
    groups : array-like, optional
        Patient ids: folds keep all rows of a patient together.
    n_splits : int
        Folds (reduced to what the rarest source class allows).
    random_state : int or None
        Seed of the folds and of each family's estimator.

    Returns
    -------
    (name, estimator, evidence)
        The chosen family, its unfitted estimator (a logistic regression with the chosen
        ``C``), and a JSON-able record: each family's mean score and standard error over
        the folds, its tuning, the choice and a one-sentence reason.
    """
    names = _families(families)
    cv = source_cv(X, y, sample_domain=sample_domain, task=task, groups=groups,
                   n_splits=n_splits, random_state=random_state)
    if cv is None:
        return names[0], make_classifier(names[0], task, random_state), {
            "chosen": names[0], "families": {},
            "reason": _TOO_FEW + f"{names[0]} (the first family) used as given"}
    start = time.perf_counter()
    estimators, scored = {}, {}
    for name in names:
        estimator = make_classifier(name, task, random_state)
        grid = default_grid(estimator, task)
        if grid:
            estimators[name], tuning = _tune(estimator, grid, task, cv)
            best = max(tuning["scores"], key=lambda s: -np.inf if np.isnan(s["mean"])
                       else s["mean"])
            scored[name] = {"mean": best["mean"], "se": best["se"], "tuning": tuning}
        else:
            estimators[name] = estimator
            scores = _fold_scores(estimator, cv.X, cv.y, cv.folds, task)
            scored[name] = {"mean": float(np.mean(scores)), "se": _se(scores), "tuning": None}
    means = [scored[n]["mean"] for n in names]
    chosen = names[int(np.nanargmax(means))]
    others = ", ".join(f"{n} {scored[n]['mean']:.3f}" for n in names if n != chosen)
    what = "AUROC" if task == "classification" else "negative MAE"
    evidence = {
        "chosen": chosen, "families": scored, "n_source": len(cv.y), "n_splits": len(cv.folds),
        "grouped": cv.grouped, "metric": what, "time_s": time.perf_counter() - start,
        "rule": "best mean cross-validated score on the labelled source rows; ties go to "
                "the first family",
        "reason": (f"{chosen} had the best {len(cv.folds)}-fold cross-validated {what} on the "
                   f"{len(cv.y)} labelled source rows ({scored[chosen]['mean']:.3f}; "
                   f"{others}), so every method and baseline uses it"),
    }
    return chosen, estimators[chosen], evidence


def _families(families: Sequence[str] | None) -> list[str]:
    """The families to score, each checked against the registry (an unknown name raises)."""
    # logistic regression first: the least flexible family wins ties and is the fallback
    names = (sorted(CLASSIFIERS, key=lambda n: n != "logreg") if families is None
             else list(dict.fromkeys(families)))
    for name in names:
        CLASSIFIERS.get(name)
    if not names:
        raise ConfigError("choose_predictor needs at least one classifier family to score")
    return names


_TOO_FEW = "too few labelled source rows per class to cross-validate; "


def _tune(estimator: BaseEstimator, grid: dict[str, list], task: str,
          cv: SourceCV) -> tuple[BaseEstimator, dict]:
    """The value of the grid's one parameter with the best mean score over ``cv``'s folds."""
    (param, values), = grid.items()
    scores = [_fold_scores(clone(estimator).set_params(**{param: v}), cv.X, cv.y, cv.folds,
                           task) for v in values]
    means = [float(np.mean(s)) for s in scores]
    best = int(np.nanargmax(means))
    chosen = values[best]
    evidence = {
        "tuned": True, "param": param, "value": chosen, "n_source": len(cv.y),
        "n_splits": len(cv.folds),
        "scores": [{"value": v, "mean": m, "se": _se(s)}
                   for v, m, s in zip(values, means, scores, strict=True)],
        "reason": (f"{param}={chosen} had the best {len(cv.folds)}-fold cross-validated score "
                   f"on the {len(cv.y)} labelled source rows ({means[best]:.3f}); every "
                   "method and baseline auto compares uses it"),
    }
    return clone(estimator).set_params(**{param: chosen}), evidence


def _se(scores: list[float]) -> float:
    return float(np.std(scores) / np.sqrt(len(scores)))


def _source_folds(y_s, g_s, n_splits: int, random_state, task: str) -> list | None:
    if task == "regression":
        n_splits = min(n_splits, len(y_s) if g_s is None else len(np.unique(g_s)))
        if n_splits < 2:
            return None
        splitter = (KFold(n_splits, shuffle=True, random_state=random_state) if g_s is None
                    else GroupKFold(n_splits))
        return list(splitter.split(np.zeros(len(y_s)), y_s, g_s))
    counts = np.unique(y_s, return_counts=True)[1]
    n_splits = min(n_splits, int(counts.min()))
    if len(counts) < 2 or n_splits < 2:
        return None
    if g_s is None:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    else:
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros(len(y_s)), y_s, g_s))


def _fold_scores(estimator, X, y, folds, task) -> list[float]:
    out = []
    for train, test in folds:
        model = fit_weighted(clone(estimator), X[train], y[train])
        pred = model.predict_proba(X[test]) if task == "classification" else model.predict(
            X[test])
        out.append(metric(y[test], np.asarray(pred), task))
    return out
