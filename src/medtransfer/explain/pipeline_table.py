"""Permutation feature importance of a fitted table TransferPipeline (``predict --explain``).

The model explained is the pipeline's own (recalibration included), on the features its
encoder produces; the importance of a feature is the drop in score when its values are
shuffled among the labelled rows (:func:`medtransfer.explain.rank_features`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from medtransfer.data.classes import harmonize_classes
from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError, DataError
from medtransfer.explain.importance import rank_features
from medtransfer.runs.pipeline import TransferPipeline


def table_importance(
    pipeline: TransferPipeline,
    domain: Domain,
    *,
    model: str | None = None,
    n_repeats: int = 5,
) -> pd.DataFrame:
    """Permutation importance of each encoded feature for ``model`` on a labelled table.

    Classification is scored by log-loss of the model's probabilities (recalibration
    included), regression by mean absolute error; the drop in score when one feature is
    shuffled is its importance.
    """
    if pipeline.feature_spec_.get("kind") != "table":
        raise ConfigError("feature importance is for table runs; image runs use Grad-CAM")
    if domain.labels is None or not domain.labelled_mask.any():
        raise DataError(
            f"{domain.name!r} has no labels; permutation feature importance measures how much "
            "the score drops when a feature is shuffled, so pass --label-col with the true labels"
        )
    if pipeline.task == "classification":
        reference = Domain("the run", domain.kind, inputs=[], ids=np.array([]),
                           class_names=pipeline.class_names_)
        _, domain, _ = harmonize_classes(reference, domain)
    labelled = domain.subset(np.flatnonzero(domain.labelled_mask))
    wrapper = _PipelineClassifier if pipeline.task == "classification" else _PipelineRegressor
    scorer = wrapper(pipeline, model or pipeline.default_model).fit()
    ranked = rank_features(
        scorer, pipeline.features(labelled), labelled.labels,
        feature_names=pipeline.feature_spec_["feature_names"],
        scoring="neg_log_loss" if pipeline.task == "classification" else
        "neg_mean_absolute_error",
        n_repeats=n_repeats, random_state=pipeline.random_state,
    )
    return pd.DataFrame([vars(r) for r in ranked])[["rank", "feature", "mean", "std"]].rename(
        columns={"mean": "importance", "std": "importance_std"})


class _PipelineModel(BaseEstimator):
    """One model of a fitted pipeline as an estimator on its features (for sklearn scorers)."""

    def __init__(self, pipeline: TransferPipeline, model: str) -> None:
        self.pipeline = pipeline
        self.model = model

    def fit(self, X=None, y=None) -> _PipelineModel:
        """Nothing to learn: the pipeline is fitted."""
        self.is_fitted_ = True
        return self


class _PipelineClassifier(ClassifierMixin, _PipelineModel):
    def fit(self, X=None, y=None) -> _PipelineClassifier:
        """Nothing to learn; ``classes_`` are the run's class codes."""
        self.classes_ = np.arange(len(self.pipeline.class_names_))
        return super().fit(X, y)

    def predict_proba(self, X) -> np.ndarray:
        """The model's probabilities over every class of the run."""
        return self.pipeline.proba_from_features(np.asarray(X), self.model)

    def predict(self, X) -> np.ndarray:
        """Class codes."""
        return self.predict_proba(X).argmax(axis=1)


class _PipelineRegressor(RegressorMixin, _PipelineModel):
    def predict(self, X) -> np.ndarray:
        """Values on the label's scale."""
        return self.pipeline.values_from_features(np.asarray(X), self.model)
