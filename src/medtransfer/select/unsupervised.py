"""Selection without target labels (k = 0): skada's unsupervised scorers, and abstention.

No score computed without target labels is reliable on its own, so a candidate is preferred
to training on the source only when *every* scorer that could be computed agrees it is
better; otherwise the selection abstains and says which scorers disagreed.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping

import numpy as np
from sklearn import config_context, get_config, set_config
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.pipeline import Pipeline

from medtransfer.data.sample_domain import domain_masks
from medtransfer.select.validation import masked_label, score_predictions

ROUTED = {"sample_domain": True, "allow_source": True}


class ScorerView(BaseEstimator):
    """A transfer method seen through skada's scorer interface.

    skada's scorers pass ``sample_domain``/``allow_source`` to ``predict_proba`` and
    ``score`` and weight ``score`` by ``sample_weight``; our methods take plain ``X``. The
    view also undoes a standardisation, so that the scorers' density and domain models work
    on standardised features while the method sees the original ones.

    Parameters
    ----------
    method : estimator
        The transfer method, fitted as ``fit(X, y, *, sample_domain)``.
    center, scale : ndarray of shape (n_features,)
        The standardisation to undo: ``X = Z * scale + center``.
    task : {"classification", "regression"}
        Decides the ``score`` metric (AUROC or negative MAE, as in few-label validation).
    """

    __metadata_request__fit = {"sample_domain": True}  # noqa: RUF012 (sklearn's protocol)
    __metadata_request__predict = ROUTED
    __metadata_request__predict_proba = ROUTED
    __metadata_request__score = {**ROUTED, "sample_weight": True}  # noqa: RUF012

    def __init__(self, method, center, scale, task: str = "classification") -> None:
        self.method = method
        self.center = center
        self.scale = scale
        self.task = task

    def _original(self, Z) -> np.ndarray:
        return np.asarray(Z) * self.scale + self.center

    # The method runs with routing off, as everywhere else in medtransfer, even when called
    # back from inside a skada scorer.
    def fit(self, Z, y, sample_domain=None) -> ScorerView:
        """Fit a clone of the method on the un-standardised rows."""
        with config_context(enable_metadata_routing=False):
            self.method_ = clone(self.method).fit(
                self._original(Z), y, sample_domain=sample_domain
            )
        if hasattr(self.method_, "classes_"):
            self.classes_ = self.method_.classes_
        return self

    def predict(self, Z, sample_domain=None, allow_source=False) -> np.ndarray:
        """Predictions of the method (domain arguments are accepted and ignored)."""
        with config_context(enable_metadata_routing=False):
            return self.method_.predict(self._original(Z))

    def predict_proba(self, Z, sample_domain=None, allow_source=False) -> np.ndarray:
        """Class probabilities of the method."""
        with config_context(enable_metadata_routing=False):
            return self.method_.predict_proba(self._original(Z))

    def score(self, Z, y, sample_weight=None, sample_domain=None, allow_source=False) -> float:
        """Weighted AUROC (classification) or weighted negative MAE (regression)."""
        with config_context(enable_metadata_routing=False):
            return score_predictions(y, self.method_, self._original(Z), self.task, sample_weight)


def _neg_mae(y_true, y_pred) -> float:
    return -float(mean_absolute_error(y_true, y_pred))


def default_scorers(task: str, random_state: int | None = None) -> dict[str, object]:
    """skada's unsupervised scorers that apply to ``task``, keyed by a short name."""
    # ``import skada`` (torch too, and slow) switches metadata routing on for the whole
    # process; medtransfer runs with it off and turns it on only around skada's scorers
    # (here and in ``_apply``), so skada is imported only when k = 0 needs its scorers.
    routing_before = get_config()["enable_metadata_routing"]
    from skada.metrics import (
        CircularValidation,
        DeepEmbeddedValidation,
        ImportanceWeightedScorer,
        PredictionEntropyScorer,
        SoftNeighborhoodDensity,
    )

    set_config(enable_metadata_routing=routing_before)
    with config_context(enable_metadata_routing=True):  # their __init__ sets routing requests
        scorers: dict[str, object] = {"importance_weighted": ImportanceWeightedScorer()}
        if task == "classification":
            scorers["prediction_entropy"] = PredictionEntropyScorer()
            scorers["soft_neighborhood_density"] = SoftNeighborhoodDensity()
            scorers["deep_embedded_validation"] = DeepEmbeddedValidation(
                random_state=random_state
            )
            scorers["circular_validation"] = CircularValidation()
        else:
            scorers["circular_validation"] = CircularValidation(source_scorer=_neg_mae)
    return scorers


def score_without_labels(
    methods: Mapping[str, BaseEstimator],
    X,
    y,
    *,
    sample_domain,
    task: str,
    scorers: Mapping[str, object] | None = None,
    n_repeats: int = 3,
    validation_size: float = 0.3,
    random_state: int | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, dict]:
    """Score every method with skada's unsupervised scorers on held-out source rows.

    Each repetition holds out ``validation_size`` of the labelled source rows; every method
    is fitted on the other source rows plus all (unlabelled) target rows and scored on the
    held-out source rows plus the target rows. All methods see the same splits: those of
    :func:`source_splits`, or ``splits`` when given.

    Returns
    -------
    dict
        Per method: ``scores`` (scorer name -> list of one value per repetition, NaN where the
        scorer failed), ``time_s`` and ``error`` (first failure, or None).
    """
    X = np.asarray(X, dtype=float)
    scorers = dict(scorers or default_scorers(task, random_state))
    if splits is None:
        splits = source_splits(y, sample_domain, task, n_repeats, validation_size, random_state)
    center, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - center) / scale
    results = {}
    for name, method in methods.items():
        view = ScorerView(method, center, scale, task)
        start = time.perf_counter()
        scores, error = _score_method(view, Z, y, sample_domain, splits, scorers, task)
        results[name] = {"scores": scores, "time_s": time.perf_counter() - start, "error": error}
    return results


def source_splits(
    y, sample_domain, task: str, n_repeats: int, validation_size: float, random_state
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, score rows) per repetition; target rows are in both, source rows in one."""
    source, _ = domain_masks(y, sample_domain)
    target = np.flatnonzero(np.asarray(sample_domain) < 0)
    rows = np.flatnonzero(source)
    cls = ShuffleSplit if task == "regression" else StratifiedShuffleSplit
    splitter = cls(n_splits=n_repeats, test_size=validation_size, random_state=random_state)
    return [
        (np.r_[rows[fit], target], np.r_[rows[held], target])
        for fit, held in splitter.split(rows, np.asarray(y)[rows])
    ]


def _score_method(view, Z, y, sample_domain, splits, scorers, task):
    y_masked = np.array(y, dtype=float if task == "regression" else None, copy=True)
    y_masked[np.asarray(sample_domain) < 0] = masked_label(task)
    scores = {s: [] for s in scorers}
    error = None
    for fit_rows, score_rows in splits:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = clone(view).fit(
                    Z[fit_rows], y_masked[fit_rows], sample_domain=sample_domain[fit_rows]
                )
            # DeepEmbeddedValidation only accepts a Pipeline (else it expects a torch model)
            model = Pipeline([("method", fitted)])
        except Exception as err:  # a candidate that breaks must not stop the selection
            error = error or f"{type(err).__name__}: {err}"
            model = None
        for s, scorer in scorers.items():
            value, err = _apply(scorer, model, Z[score_rows], y_masked[score_rows],
                                np.asarray(sample_domain)[score_rows])
            scores[s].append(value)
            error = error or err
    return scores, error


def _apply(scorer, model, Z, y, sample_domain) -> tuple[float, str | None]:
    if model is None:
        return float("nan"), None
    try:
        with warnings.catch_warnings(), config_context(enable_metadata_routing=True):
            warnings.simplefilter("ignore")
            return float(scorer(model, Z, y, sample_domain=sample_domain)), None
    except Exception as err:  # scorers fail on some methods (e.g. no predict_proba)
        return float("nan"), f"{type(scorer).__name__}: {type(err).__name__}: {err}"


def agreement_choice(
    results: Mapping[str, dict], reference: str = "source_only", min_scorers: int = 2
) -> dict:
    """Pick a method only if every usable scorer rates it above ``reference``; else abstain.

    A scorer is usable when it gave a value for ``reference``. Among the methods that all
    usable scorers prefer, the one with the best mean rank over the scorers wins.

    Returns
    -------
    dict
        ``choice`` (method name), ``abstained`` (bool), ``reason`` (text), ``scorers`` (the
        usable ones) and ``votes`` (method -> scorer -> whether it beat ``reference``).
    """
    means = {m: {s: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
                 for s, v in r["scores"].items()} for m, r in results.items()}
    usable = [s for s, v in means[reference].items() if np.isfinite(v)]
    others = [m for m in means if m != reference]
    votes = {m: {s: bool(means[m][s] > means[reference][s]) for s in usable} for m in others}
    if len(usable) < min_scorers:
        return _verdict(reference, True, f"only {len(usable)} scorer(s) usable (need "
                        f"{min_scorers}); keeping {reference}", usable, votes)
    unanimous = [m for m in others if all(votes[m].values())]
    if not unanimous:
        return _verdict(reference, True, f"abstained: no method beat {reference} on all "
                        f"{len(usable)} scorers ({', '.join(usable)}); keeping {reference}",
                        usable, votes)
    ranks = {m: np.mean([_rank(means, m, s) for s in usable]) for m in unanimous}
    best = min(ranks, key=ranks.get)
    return _verdict(best, False, f"{best} beat {reference} on all {len(usable)} scorers "
                    f"({', '.join(usable)})", usable, votes)


def _rank(means, method, scorer) -> int:
    values = [v[scorer] for v in means.values() if np.isfinite(v[scorer])]
    return 1 + sum(v > means[method][scorer] for v in values)


def _verdict(choice, abstained, reason, usable, votes) -> dict:
    return {"choice": choice, "abstained": abstained, "reason": reason, "scorers": usable,
            "votes": votes}
