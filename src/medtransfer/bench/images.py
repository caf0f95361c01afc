"""What the image suites share: frozen features, stacked splits, competitors and scores.

Every image is turned into pooled EfficientNet-Lite0 features (ImageNet weights, 64 px by
default) by :func:`~medtransfer.features.extract_features`; rows are content-cached on disk
and each suite process extracts a domain once, so every unit reuses them. Methods then work
on these frozen 1,280-dimensional features with logistic regression as the final predictor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from medtransfer.bench.competitors import medtransfer_methods, skada_competitors
from medtransfer.bench.core import Split, Suite, Unit
from medtransfer.data.domain import Domain
from medtransfer.evaluate.metrics import binary_auroc
from medtransfer.features.extract import extract_features
from medtransfer.models.classifiers import full_proba

IMAGE_SIZE = 64
# A single fit over ~20 s on ~1.5k x 1,280 features (one core): not benchmarked.
SLOW: tuple[str, ...] = ("mapping_network",)
# Benchmarked on their own but not tried by ``auto``, which refits every candidate per fold.
AUTO_SLOW: tuple[str, ...] = ("adaptive_svm",)
# skada's entropic OT on 1,280 standardised features: squared distances in the thousands make
# exp(-cost / reg_e) underflow to NaN at every grid value; the median-normalised cost (skada's
# own ``norm="median"``, as medtransfer's ``ot_entropic`` uses) lets it run.
SKADA_PARAMS = {"skada_entropic_ot": {"norm": "median"}}


def frozen_features(domain: Domain, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Pooled EfficientNet-Lite0 features of every image of ``domain`` (cached on disk)."""
    return extract_features(domain, image_size=image_size, progress=False)


def stacked_split(
    Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, yt: np.ndarray, labelled: np.ndarray
) -> Split:
    """Source rows, then every target row; only the ``labelled`` target rows keep a label."""
    test = np.setdiff1d(np.arange(len(Xt)), labelled)
    y = np.r_[ys, np.full(len(Xt), -1)].astype(int)
    y[len(Xs) + labelled] = yt[labelled]
    return Split(
        X=np.vstack([Xs, Xt]), y=y,
        sample_domain=np.r_[np.ones(len(Xs)), -2 * np.ones(len(Xt))].astype(int),
        test=len(Xs) + test, y_test=yt[test],
    )


def class_scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Balanced accuracy (arg-max class) and macro one-vs-rest AUROC, both over the classes
    present in ``y`` (a class absent from the test set has no recall and no AUROC)."""
    y = np.asarray(y, dtype=int)
    pred = proba.argmax(axis=1)
    present = np.unique(y)
    ranked = [c for c in present if 0 < np.sum(y == c) < len(y)]
    aurocs = [binary_auroc((y == c).astype(int), proba[:, c]) for c in ranked]
    return {
        "balanced_accuracy": float(np.mean([np.mean(pred[y == c] == c) for c in present])),
        "auroc": float(np.mean(aurocs)) if aurocs else float("nan"),
    }


class ImageSuite(Suite):
    """A suite on frozen image features: shared competitors, probabilities and scores.

    Subclasses set ``class_names`` (the source's classes, whose codes the labels use).
    """

    class_names: tuple[str, ...]
    auto_repeats: int = 1

    def competitors(self, unit: Unit, split: Split) -> dict[str, Any]:
        methods = medtransfer_methods(
            "classification", unit.k, unit.seed, estimator="logreg", exclude=SLOW,
            auto_exclude=AUTO_SLOW, auto_options={"n_repeats": self.auto_repeats},
        )
        return {**methods, **skada_competitors(unit.seed, SKADA_PARAMS)}

    def predict(self, model: BaseEstimator, X: np.ndarray) -> np.ndarray:
        """Probabilities in the columns of class codes 0..C-1, whatever classes the model saw."""
        if hasattr(model, "classes_"):
            return full_proba(model, X, len(self.class_names))
        return model.predict_proba(X)

    def score(self, y_test: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
        return class_scores(y_test, prediction)
