"""What the image suites share: frozen features, stacked splits, competitors and scores.

Every image is turned into pooled EfficientNet-Lite0 features (ImageNet weights, 64 px by
default) by :func:`unit_features`, the pipeline's own
:func:`~medtransfer.features.featurize_pair`; rows are content-cached on disk and each suite
process computes a (seed, pair)'s features once, so every k reuses them. Methods then work
on these frozen 1,280-dimensional features with logistic regression as the final predictor.

With ``--harmonize NAME`` (as in ``medtransfer fit``) the pixels are harmonised first, by the
chain fitted exactly as ``TransferPipeline(harmonize=NAME, random_state=seed)`` fits it: on
seeded images of the unit's source and of the whole target (its test images included, as
unlabelled inputs; never a label). Its rows are cached under the fitted chain's fingerprint.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from medtransfer.bench.competitors import medtransfer_methods, skada_competitors
from medtransfer.bench.core import Split, Suite, Unit
from medtransfer.data.domain import Domain
from medtransfer.evaluate.metrics import binary_auroc
from medtransfer.features.featurize import featurize_pair
from medtransfer.harmonize import AUTO, NONE, parse_harmonize
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


def check_harmonize(spec: str | None) -> str:
    """A ``--harmonize`` spec in its normal form; an unknown harmoniser is reported at once."""
    text = NONE if spec is None else str(spec).strip().lower()
    if text not in (NONE, AUTO):
        parse_harmonize(text)  # raises ConfigError naming the unknown harmoniser
    return text


def unit_features(
    source: Domain, target: Domain, image_size: int, harmonize: str, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Pooled EfficientNet-Lite0 features of a unit's source and target images (cached on
    disk), as ``TransferPipeline(harmonize=..., random_state=seed)`` computes them, and the
    chain applied (``"none"`` for none)."""
    Xs, Xt, spec = featurize_pair(source, target, image_size=image_size, harmonize=harmonize,
                                  random_state=seed, progress=False)
    return Xs, Xt, spec["harmonizer"]["spec"] if "harmonizer" in spec else NONE


def stacked_split(
    Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, yt: np.ndarray, labelled: np.ndarray,
    harmonizer: str = NONE,
) -> Split:
    """Source rows, then every target row; only the ``labelled`` target rows keep a label.
    ``harmonizer`` (the chain the features went through) goes into every record."""
    test = np.setdiff1d(np.arange(len(Xt)), labelled)
    y = np.r_[ys, np.full(len(Xt), -1)].astype(int)
    y[len(Xs) + labelled] = yt[labelled]
    return Split(
        X=np.vstack([Xs, Xt]), y=y,
        sample_domain=np.r_[np.ones(len(Xs)), -2 * np.ones(len(Xt))].astype(int),
        test=len(Xs) + test, y_test=yt[test], context={"record": {"harmonizer": harmonizer}},
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

    Subclasses set ``class_names`` (the source's classes, whose codes the labels use) and
    ``harmonize`` (a spec from :func:`check_harmonize`).
    """

    class_names: tuple[str, ...]
    auto_repeats: int = 1
    harmonize: str = NONE

    @property
    def settings(self) -> dict[str, str]:
        return {"harmonize": self.harmonize}

    @property
    def label(self) -> str:
        """``wbc`` without harmonisation (the files of earlier runs), else
        ``wbc.harmonize-framing+reinhard``."""
        if self.harmonize == NONE:
            return self.name
        return f"{self.name}.harmonize-{re.sub(r'[^a-z0-9+=._-]+', '_', self.harmonize)}"

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
