"""The final predictor's regularisation, chosen on the labelled source rows only.

Every method that ``auto`` compares trains the same final predictor, so its hyper-parameters
are chosen once, before any method is compared, by stratified (patient-grouped when ids
exist) cross-validation on the labelled source rows. The k labelled target samples stay
reserved for comparing methods and the target test rows are never seen.

Why it matters: on small clinical tables (a few hundred patients, tens of columns) a
logistic regression at scikit-learn's default ``C = 1`` fits details of the source site
that do not carry over to another hospital; the source's own cross-validation already
prefers much stronger regularisation, and so does the target.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from medtransfer.data.sample_domain import domain_masks
from medtransfer.models.classifiers import fit_weighted
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
    (param, values), = grid.items()
    source, _ = domain_masks(np.asarray(y), np.asarray(sample_domain))
    rows = np.flatnonzero(source)
    folds = _source_folds(np.asarray(y)[rows], None if groups is None else
                          np.asarray(groups)[rows], n_splits, random_state)
    if folds is None:
        return estimator, {"tuned": False, "reason": "too few labelled source rows per "
                           "class to cross-validate; final predictor used as given"}
    start = time.perf_counter()
    X, y = np.asarray(X)[rows], np.asarray(y)[rows]
    scores = [_fold_scores(clone(estimator).set_params(**{param: v}), X, y, folds, task)
              for v in values]
    means = [float(np.mean(s)) for s in scores]
    best = int(np.nanargmax(means))
    chosen = values[best]
    evidence = {
        "tuned": True, "param": param, "value": chosen, "n_source": len(rows),
        "n_splits": len(folds),
        "scores": [{"value": v, "mean": m, "se": float(np.std(s) / np.sqrt(len(s)))}
                   for v, m, s in zip(values, means, scores, strict=True)],
        "time_s": time.perf_counter() - start,
        "reason": (f"{param}={chosen} had the best {len(folds)}-fold cross-validated score "
                   f"on the {len(rows)} labelled source rows ({means[best]:.3f}); every "
                   "method and baseline auto compares uses it"),
    }
    return clone(estimator).set_params(**{param: chosen}), evidence


def _source_folds(y_s, g_s, n_splits: int, random_state) -> list | None:
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
        pred = np.asarray(model.predict_proba(X[test]))
        out.append(metric(y[test], pred, task))
    return out
