"""Who competes in a suite: medtransfer's methods and ``auto``, and skada's own pipelines.

skada's pipelines are run the way skada documents them:
``make_da_pipeline(StandardScaler(), <Adapter>, LogisticRegression())`` with the adapter's
main hyper-parameter chosen by ``GridSearchCV`` under skada's importance-weighted
cross-validation scorer (its unsupervised selection; no target label is used).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, ShuffleSplit
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt.base import METHODS
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.auto import AutoTransfer
from medtransfer.select.predictor import choose_predictor, default_grid, tune_on_source

# name -> (skada adapter class, pipeline step, grid of its main hyper-parameter)
SKADA = {
    "skada_coral": ("CORALAdapter", "reg", ["auto", 0.01, 1.0]),
    "skada_subspace": ("SubspaceAlignmentAdapter", "n_components", [2, 5, 10, 20]),
    "skada_entropic_ot": ("EntropicOTMappingAdapter", "reg_e", [0.1, 1.0, 10.0]),
    "skada_density": ("DensityReweightAdapter", "weight_estimator__bandwidth", [0.5, 1.0, 2.0]),
    "skada_kmm": ("KMMReweightAdapter", "gamma", [None, 0.1, 1.0]),
}


class SkadaSelected(ClassifierMixin, BaseEstimator):
    """A skada pipeline whose adapter hyper-parameter skada's own scorer selects.

    Parameters
    ----------
    name : str
        A key of :data:`SKADA`.
    n_splits : int
        ``ShuffleSplit`` repetitions of the grid search.
    random_state : int
        Seed of the splits.
    adapter_params : dict or None
        Fixed arguments of the skada adapter (e.g. ``{"norm": "median"}``); None for its
        defaults.

    Notes
    -----
    skada needs scikit-learn's metadata routing, which medtransfer keeps off; it is switched
    on around each call only.
    """

    def __init__(self, name: str = "skada_coral", n_splits: int = 3,
                 random_state: int = 0, adapter_params: dict[str, Any] | None = None) -> None:
        self.name = name
        self.n_splits = n_splits
        self.random_state = random_state
        self.adapter_params = adapter_params

    def fit(self, X, y, *, sample_domain) -> SkadaSelected:
        """Grid-search the adapter's hyper-parameter with skada's scorer, refit the best."""
        import skada
        from skada.metrics import ImportanceWeightedScorer

        adapter_name, param, values = SKADA[self.name]
        X = np.asarray(X)
        if param == "n_components":
            values = [v for v in values if v <= X.shape[1]] or [X.shape[1]]
        with config_context(enable_metadata_routing=True):
            final = (LogisticRegression(max_iter=2000).set_fit_request(sample_weight=True)
                     .set_score_request(sample_weight=True))
            adapter = getattr(skada, adapter_name)(**(self.adapter_params or {}))
            pipeline = skada.make_da_pipeline(StandardScaler(), adapter, final)
            step = pipeline.steps[1][0]
            search = GridSearchCV(
                pipeline, {f"{step}__{param}": values},
                cv=ShuffleSplit(self.n_splits, test_size=0.3, random_state=self.random_state),
                scoring=ImportanceWeightedScorer(), error_score=np.nan,
            )
            search.fit(X, y, sample_domain=sample_domain)
        if np.isnan(search.cv_results_["mean_test_score"]).all():
            raise RuntimeError(f"{self.name}: skada's scorer failed on every grid point")
        self.search_ = search
        self.best_params_ = search.best_params_
        labels = np.asarray(y)
        self.classes_ = np.unique(labels[labels != -1])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the selected pipeline (for target rows)."""
        with config_context(enable_metadata_routing=True):
            return self.search_.best_estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Most probable class."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


# The baselines again, with the final predictor tuned on the source as auto tunes its own.
TUNED = {"source_only_tuned": "source_only", "pooled_tuned": "pooled"}


class SourceTuned(BaseEstimator):
    """A registered method whose final predictor is first tuned on the labelled source rows.

    The same tuning ``auto`` gives itself (:func:`~medtransfer.select.predictor.tune_on_source`
    over :func:`~medtransfer.select.predictor.default_grid`: C of a logistic regression by
    stratified cross-validation on the source), so that ``auto`` minus this row is the gain of
    the transfer, not of the regularisation. A predictor with nothing to tune (ridge for
    regression) is used as given, as ``auto`` uses it.

    Parameters
    ----------
    method : str
        Registered method name (e.g. "source_only").
    estimator : estimator, "auto" or None
        Final predictor before tuning (None: a logistic regression); "auto" chooses its
        family on the source as ``classifier="auto"`` does
        (:func:`~medtransfer.select.predictor.choose_predictor`).
    task : {"classification", "regression"}
    random_state : int or None
        Seed of the folds and of the method.

    Attributes
    ----------
    tuning_ : dict
        The tuning evidence (values tried, their scores, the choice).
    estimator_ : estimator
        The method fitted with the tuned predictor.
    """

    def __init__(self, method: str = "source_only",
                 estimator: BaseEstimator | str | None = None,
                 task: str = "classification", random_state: int | None = None) -> None:
        self.method = method
        self.estimator = estimator
        self.task = task
        self.random_state = random_state

    def fit(self, X, y, *, sample_domain) -> SourceTuned:
        """Tune the predictor (or choose its family) on the source, then fit the method."""
        if isinstance(self.estimator, str) and self.estimator == "auto":
            _, tuned, self.tuning_ = choose_predictor(X, y, sample_domain=sample_domain,
                                                      task=self.task,
                                                      random_state=self.random_state)
        else:
            estimator = self.estimator or make_classifier("logreg", self.task, self.random_state)
            tuned, self.tuning_ = tune_on_source(
                estimator, X, y, sample_domain=sample_domain,
                grid=default_grid(estimator, self.task), task=self.task,
                random_state=self.random_state)
        self.estimator_ = METHODS.get(self.method).build(tuned, self.random_state)
        self.estimator_.fit(X, y, sample_domain=sample_domain)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions of the fitted method."""
        return self.estimator_.predict(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the fitted method."""
        return self.estimator_.predict_proba(X)


def medtransfer_methods(
    task: str, k: int, seed: int, *, estimator: str = "logreg",
    include: Sequence[str] | None = None, exclude: Sequence[str] = (),
    auto_exclude: Sequence[str] = (), auto_options: dict[str, Any] | None = None,
) -> dict[str, BaseEstimator]:
    """Registered methods that run at this task and k, the baselines tuned as ``auto`` tunes
    its predictor (:data:`TUNED`), and ``auto`` choosing among the methods.

    Parameters
    ----------
    task : {"classification", "regression"}
    k : int
        Labelled target samples (methods needing labels are left out at k = 0).
    seed : int
        Seed of every method.
    estimator : str
        Final predictor from the classifier registry, or "auto": its family chosen per unit
        on the labelled source rows (every method, baseline and ``auto`` then runs as
        :class:`SourceTuned` would, with the chosen family).
    include, exclude : sequence of str
        Restrict the methods benchmarked on their own (None: all that run).
    auto_exclude : sequence of str
        Methods ``auto`` does not try (it tries every other one in ``methods``).
    auto_options : dict or None
        Extra :class:`~medtransfer.select.auto.AutoTransfer` arguments.
    """
    final = estimator if estimator == "auto" else make_classifier(estimator, task, seed)
    names = [n for n, m in METHODS.items()
             if n != "auto" and task in m.tasks and not (m.needs_target_labels and k == 0)
             and (include is None or n in include) and n not in exclude]
    methods = {n: SourceTuned(n, final, task, seed) if estimator == "auto"
               else METHODS.get(n).build(final, seed) for n in names}
    methods.update({tuned: SourceTuned(base, final, task, seed) for tuned, base in TUNED.items()
                    if include is None or base in include})
    methods["auto"] = AutoTransfer(
        final, [n for n in names if n not in auto_exclude], task=task, random_state=seed,
        **(auto_options or {}),
    )
    return methods


def skada_competitors(
    seed: int, adapter_params: dict[str, dict[str, Any]] | None = None
) -> dict[str, SkadaSelected]:
    """Every skada pipeline of :data:`SKADA`, seeded; ``adapter_params`` maps a name to fixed
    arguments of its adapter (the others keep skada's defaults)."""
    params = adapter_params or {}
    return {name: SkadaSelected(name, random_state=seed, adapter_params=params.get(name))
            for name in SKADA}
