"""Label-shift correction of a target site from released counts: no row leaves any site.

Each source site releases the confusion matrix of a model's held-out predictions (predicted
class x true class counts) and its held-out class counts; the target site releases the
histogram of the model's predicted classes. The coordinator adds the sources' counts and
solves black-box shift estimation with :func:`medtransfer.adapt.label_shift.bbse_prior`:
the pooled counts are exactly those of the pooled held-out rows, so the prior equals BBSE on
the pooled predictions. For the EM estimate (Saerens et al. 2002) each round the target
releases the mean of its posteriors re-weighted by the current prior ratio
(:func:`medtransfer.adapt.label_shift.em_step`; the first round is the mean predicted
probability per class), and :func:`medtransfer.adapt.label_shift.em_iterate` runs the very
loop of ``em_prior`` over those replies.

Suppression (:mod:`medtransfer.federated.privacy`): the class counts are one group (a small
count withheld, with secondary suppression); a true class whose count is withheld is
withheld entirely; otherwise each true class's cells are a group summing to its released
count. Each true class's column is pooled over the sources that released it (see
:class:`PooledConfusion`); a source that released no column is left out and named.

Disclosure of the EM rounds: each round releases k - 1 further numbers about the target's
posteriors; the rounds stop at convergence (tens), far fewer than the target's rows, but no
noise is added to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.label_shift import LabelShiftCorrector, bbse_prior, em_iterate, em_step
from medtransfer.errors import DataError
from medtransfer.federated.privacy import suppressed_group


def confusion_release(
    y_true: np.ndarray, predicted: np.ndarray, n_classes: int, *, site: str, min_cell: int = 10
) -> dict:
    """What a source site releases about a model's held-out predictions.

    Parameters
    ----------
    y_true, predicted : ndarray of int, shape (n,)
        True and predicted class codes of the site's held-out rows.
    n_classes : int
        Number of classes k.
    site : str
        The site's name.
    min_cell : int, default=10
        Smallest count released.

    Returns
    -------
    dict
        ``confusion`` (k x k, ``[predicted][true]``) and ``class_counts`` (k), with
        withheld cells as None.
    """
    counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(counts, (np.asarray(predicted, dtype=int), np.asarray(y_true, dtype=int)), 1)
    class_counts = suppressed_group(counts.sum(axis=0).tolist(), min_cell)
    columns = [[None] * n_classes if class_counts[j] is None
               else suppressed_group(counts[:, j].tolist(), min_cell) for j in range(n_classes)]
    confusion = [[columns[j][i] for j in range(n_classes)] for i in range(n_classes)]
    return {"site": site, "confusion": confusion, "class_counts": class_counts}


def prediction_release(proba: np.ndarray, *, site: str, min_cell: int = 10) -> dict:
    """What the target site releases: how many of its rows the model predicts as each class
    (``predicted_counts``, small cells withheld as None)."""
    predicted = np.argmax(np.asarray(proba), axis=1)
    counts = np.bincount(predicted, minlength=np.asarray(proba).shape[1])
    return {"site": site, "predicted_counts": suppressed_group(counts.tolist(), min_cell)}


def em_release(proba: np.ndarray, ratio: list[float], *, site: str, min_cell: int = 10) -> dict:
    """One EM round at the target: the mean of its re-weighted posteriors and its row count
    (withheld below ``min_cell`` rows)."""
    if len(proba) < min_cell:
        return {"site": site, "suppressed": f"fewer than {min_cell} rows"}
    step = em_step(np.asarray(proba, dtype=float), np.asarray(ratio, dtype=float))
    return {"site": site, "n": len(proba), "prior": step.tolist()}


@dataclass(frozen=True)
class PooledConfusion:
    """The sources' confusion counts added up, one true class at a time.

    Under label shift ``P(predicted | true)`` is what the sites share, so each true class's
    column is pooled over the sources that released it; a source that withheld one class's
    cells still gives the other's. With every cell released this is the pooled rows'
    confusion matrix exactly.

    Attributes
    ----------
    conditional : ndarray (k, k)
        ``P(predicted = i | true = j)`` over the pooled held-out rows of class j.
    columns : list of list of str
        Per true class, the sources whose counts are in its column.
    left_out : dict
        Source -> why none of its counts are in the pool.
    """

    conditional: np.ndarray
    columns: list[list[str]]
    left_out: dict[str, str]


def _column(release: dict, j: int) -> list[int | None]:
    return [row[j] for row in release["confusion"]]


def pool_confusion(releases: list[dict]) -> PooledConfusion:
    """Pool each true class's column over the sources that released it."""
    k = len(releases[0]["class_counts"])
    conditional, columns = np.zeros((k, k)), []
    for j in range(k):
        kept = [r for r in releases if r["class_counts"][j] and None not in _column(r, j)]
        if not kept:
            raise DataError(f"no source site ({[r['site'] for r in releases]}) released the "
                            f"confusion counts of true class {j} (each withheld a cell under "
                            "min_cell there); hold out more rows per site (--holdout) or add "
                            "sources")
        counts = sum(np.asarray(_column(r, j), dtype=float) for r in kept)
        conditional[:, j] = counts / counts.sum()
        columns.append([r["site"] for r in kept])
    used = {site for names in columns for site in names}
    left_out = {r["site"]: "withheld a cell under min_cell in every class" for r in releases
                if r["site"] not in used}
    return PooledConfusion(conditional, columns, left_out)


def class_prior(releases: list[dict], sites: list[str]) -> np.ndarray:
    """Class shares of the named sources' held-out rows, from their released class counts."""
    chosen = [r for r in releases if r["site"] in sites]
    withheld = [r["site"] for r in chosen if None in r["class_counts"]]
    if withheld or not chosen:
        raise DataError(f"source site(s) {withheld or sites} released no complete held-out "
                        "class counts (a class under min_cell), so the prior the model's "
                        "posteriors carry is unknown; hold out more rows per site (--holdout)")
    counts = sum(np.asarray(r["class_counts"], dtype=float) for r in chosen)
    return counts / counts.sum()


def predicted_share(releases: list[dict]) -> np.ndarray:
    """Share of the target rows predicted as each class, from the targets' histograms."""
    withheld = [r["site"] for r in releases if None in r["predicted_counts"]]
    if withheld:
        raise DataError(f"target site(s) {withheld} withheld a predicted-class count under "
                        "min_cell; BBSE needs every class's count (the model predicts a class "
                        "almost never there: the prior cannot be estimated from counts)")
    counts = sum(np.asarray(r["predicted_counts"], dtype=float) for r in releases)
    return counts / counts.sum()


def target_prior_from_statistics(
    sources: list[dict], targets: list[dict],
    em_round: Callable[[np.ndarray], np.ndarray] | None = None,
    calibrated_on: list[str] | None = None,
) -> dict:
    """The target class prior by BBSE (and EM) from the sites' releases.

    Parameters
    ----------
    sources : list of dict
        :func:`confusion_release` of each source site.
    targets : list of dict
        :func:`prediction_release` of the target site(s).
    em_round : callable, optional
        ``ratio -> next prior`` answered by the target (:func:`em_release` replies, see
        :func:`pooled_em_round`); with it the EM estimate is added.
    calibrated_on : list of str, optional
        The sources whose held-out rows the posteriors were calibrated on: their class
        shares are the prior the posteriors carry (``source_prior``, what EM starts from and
        the correction divides by). Default: every source with complete class counts.

    Returns
    -------
    dict
        ``source_prior``, ``estimates`` (``{"bbse": ..., "em": ...}``), ``confusion`` (the
        joint frequency ``P(predicted, true)`` under ``source_prior``), ``columns`` and
        ``left_out`` (see :class:`PooledConfusion`).
    """
    pooled = pool_confusion(sources)
    if calibrated_on is None:
        calibrated_on = [r["site"] for r in sources if None not in r["class_counts"]]
    prior = class_prior(sources, calibrated_on)
    # BBSE's prior is C_conditional^-1 mu_t: the source prior it is written with cancels
    joint = pooled.conditional * prior
    estimates = {"bbse": bbse_prior(joint, predicted_share(targets), prior)}
    if em_round is not None:
        estimates["em"] = em_iterate(em_round, prior)
    return {"source_prior": prior, "estimates": estimates, "confusion": joint,
            "columns": pooled.columns, "left_out": pooled.left_out}


def pooled_em_round(replies: list[dict]) -> np.ndarray:
    """The pooled next prior from the targets' :func:`em_release` replies (row-weighted)."""
    answered = [r for r in replies if "suppressed" not in r]
    if not answered:
        raise DataError("every target site withheld its EM round (fewer than min_cell rows); "
                        "use the BBSE estimate (--label-shift bbse)")
    total = sum(r["n"] for r in answered)
    return sum(np.asarray(r["prior"]) * (r["n"] / total) for r in answered)


def prior_calibrator(n_classes: int, platt: tuple[float, float] | None = None):
    """The ``calibrator_`` a :class:`LabelShiftCorrector` applies to log-probabilities:
    the identity, or (binary) Platt's ``expit(a * logit + b)`` written on the two
    log-probability columns (``coef = [-a, a]``)."""
    model = LogisticRegression()
    if platt is None:
        model.coef_ = np.eye(n_classes) if n_classes > 2 else np.array([[-1.0, 1.0]])
        model.intercept_ = np.zeros(n_classes if n_classes > 2 else 1)
    elif n_classes == 2:
        a, b = platt
        model.coef_, model.intercept_ = np.array([[-a, a]], dtype=float), np.array([float(b)])
    else:
        raise DataError(f"Platt recalibration is binary; the model has {n_classes} classes")
    model.classes_ = np.arange(n_classes)
    model.n_features_in_ = n_classes
    return model


def label_shift_corrector(
    estimator: BaseEstimator, statistics: dict, method: str = "bbse",
    platt: tuple[float, float] | None = None,
) -> LabelShiftCorrector:
    """A fitted :class:`LabelShiftCorrector` whose priors come from the sites' statistics.

    Parameters
    ----------
    estimator : classifier
        The fitted model whose predictions the sites counted (``predict_proba``).
    statistics : dict
        :func:`target_prior_from_statistics` output (arrays or lists).
    method : {"bbse", "em"}, default="bbse"
        Which estimate adjusts the posteriors.
    platt : (a, b), optional
        The Platt calibration the counted predictions were made under (binary).

    Returns
    -------
    LabelShiftCorrector
        Predicts exactly as one fitted on rows: calibrated posteriors re-weighted by
        ``target_prior_ / source_prior_``. It has no bootstrap interval
        (``target_prior_interval_``): resampling would need the rows.
    """
    estimates = {k: np.asarray(v, dtype=float) for k, v in statistics["estimates"].items()}
    if method not in estimates:
        raise DataError(f"label shift method {method!r} was not estimated; the statistics "
                        f"hold {sorted(estimates)}")
    model = LabelShiftCorrector(estimator, method=method)
    model.estimator_, model.classes_ = estimator, estimator.classes_
    model.calibrator_ = prior_calibrator(len(model.classes_), platt)
    model.source_prior_ = np.asarray(statistics["source_prior"], dtype=float)
    model.confusion_ = np.asarray(statistics["confusion"], dtype=float)
    model.prior_estimates_, model.target_prior_ = estimates, estimates[method]
    return model
