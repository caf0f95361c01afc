"""Which source data set and which backbone to start from, for one target.

Each candidate (source x backbone) is featurised, a source classifier is fitted, and a
transferability score is computed on the k labelled target samples only. With ``validate``,
each candidate is also fitted (source-only) and scored on the held-out target samples, and
the agreement of the two rankings is reported as Kendall's tau.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.data import Domain, choose_labelled, harmonize_classes
from medtransfer.errors import ConfigError
from medtransfer.features import featurize_pair
from medtransfer.select.ranking import rank_candidates, validate_ranking

SOURCE_SCORES = ("leep", "nce")


@dataclass(frozen=True)
class Candidate:
    """One source domain seen through one backbone."""

    name: str
    source: Domain
    backbone: str


def candidates(sources: Sequence[Domain], backbones: Sequence[str]) -> list[Candidate]:
    """Every source x backbone pair, named "source" or "source @ backbone"."""
    if not sources:
        raise ConfigError("no source given; pass at least one --source")
    names = [s.name for s in sources]
    if len(set(names)) < len(names):
        raise ConfigError(f"sources must have distinct names, got {names}")
    return [
        Candidate(s.name if len(backbones) == 1 else f"{s.name} @ {b}", s, b)
        for s in sources
        for b in backbones
    ]


def default_score(n_sources: int) -> str:
    """LEEP when sources differ (it sees each source's classifier), else LogME (features)."""
    return "leep" if n_sources > 1 else "logme"


def rank_sources(
    target: Domain,
    pool: Sequence[Candidate],
    *,
    k: int,
    score: str,
    validate: bool = False,
    random_state: int = 0,
    **feature_options,
) -> dict:
    """Rank ``pool`` for ``target`` by a transferability score on k labelled target samples.

    A ``weights`` feature option (a user safetensors file) applies to the ``timm:``
    backbones only, so a brought model ranks against the packaged ones with their weights.
    """
    user_weights = feature_options.pop("weights", None)
    labelled = choose_labelled(target, k, random_state)
    if len(labelled) < 2:
        raise ConfigError(f"ranking needs at least 2 labelled target samples; got k = {k}")
    heldout = np.setdiff1d(np.flatnonzero(target.labelled_mask), labelled)
    inputs, fitted = {}, {}
    for candidate in pool:
        source, aligned, _ = harmonize_classes(candidate.source, target)
        weights = user_weights if candidate.backbone.startswith("timm:") else None
        Xs, Xt, _ = featurize_pair(source, aligned, backbone=candidate.backbone, weights=weights,
                                   **feature_options)
        classifier = _source_classifier(Xs, source.labels, random_state)
        view = classifier.predict_proba(Xt) if score in SOURCE_SCORES else Xt
        inputs[candidate.name] = (view[labelled], aligned.labels[labelled])
        if validate:
            fitted[candidate.name] = _auroc(classifier, Xt[heldout], aligned.labels[heldout])
    ranking = rank_candidates(inputs, score=score)
    result = {"target": target.name, "k": len(labelled), "score": score, "ranking": ranking}
    if validate:
        for row in ranking:
            row["fitted_auroc"] = fitted[row["name"]]
        result["validation"] = validate_ranking(ranking, fitted)
    return result


def _source_classifier(Xs: np.ndarray, ys: np.ndarray, random_state: int):
    mask = ys >= 0
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    return model.fit(Xs[mask], ys[mask])


def _auroc(classifier, X: np.ndarray, y: np.ndarray) -> float:
    proba = np.zeros((len(X), int(max(y.max(), classifier.classes_.max())) + 1))
    proba[:, classifier.classes_] = classifier.predict_proba(X)
    present = np.unique(y)
    if len(present) == 2:
        return float(roc_auc_score(y, proba[:, present[1]]))
    scores = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)
    return float(roc_auc_score(y, scores, multi_class="ovr", labels=present))
