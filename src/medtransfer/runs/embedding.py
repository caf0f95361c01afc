"""2-D views of source and target before and after a fitted pipeline's adaptation."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA

from medtransfer import artifacts
from medtransfer.adapt import adapted_features
from medtransfer.adapt.domain_estimator import subsample_rows
from medtransfer.data import Domain
from medtransfer.data.sample_domain import SOURCE, TARGET

if TYPE_CHECKING:
    from medtransfer.runs.pipeline import TransferPipeline

EMBEDDING = "embedding.npz"
EMBEDDING_MAX_POINTS = 2000


def adaptation_embedding(
    pipeline: TransferPipeline,
    source: Domain,
    target: Domain,
    *,
    max_points: int = EMBEDDING_MAX_POINTS,
    features: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """2-D coordinates of source and target before and after the fitted method's adaptation.

    "Before" are the features the method was given (after the encoder or backbone): the
    labelled source rows and every target row, as in ``pipeline.fit``. "After" is what its
    final predictor saw of the same rows (see :func:`medtransfer.adapt.adapted_features`).
    Both panels use one PCA fitted on the before features of the drawn rows, each panel
    standardised over source and target together, so positions are comparable; a method
    that works in a space of its own (subspace alignment, TCA, JDA) gets its own PCA,
    rotated to match the before panel as closely as possible. At most ``max_points`` rows
    per domain are drawn, seeded by ``pipeline.random_state``. No ids are kept.

    Parameters
    ----------
    pipeline : TransferPipeline
        Fitted on ``source`` and ``target``.
    source, target : Domain
        The domains given to ``pipeline.fit``.
    max_points : int, default=2000
        Cap on the rows drawn from each domain.
    features : (ndarray, ndarray), optional
        ``pipeline.features`` of ``source`` and ``target``, when already computed.

    Returns
    -------
    dict of str to ndarray
        ``source``, ``target``, ``source_adapted``, ``target_adapted`` (n x 2 coordinates),
        ``effect`` ("mapped", "reweighted" or "unchanged"), ``projection`` ("shared" or
        "separate") and, for reweighting methods, ``source_weight`` (one per source point).
    """
    X_source, X_target = features or (pipeline.features(source), pipeline.features(target))
    X_source = X_source[source.labelled_mask]
    X = np.vstack([X_source, X_target])
    codes = np.r_[np.full(len(X_source), SOURCE), np.full(len(X_target), TARGET)]
    view = adapted_features(pipeline.models_[pipeline.method], X, codes, fitted_rows=True)
    rng = np.random.default_rng(pipeline.random_state)
    drawn = np.r_[subsample_rows(codes > 0, max_points, rng),
                  subsample_rows(codes < 0, max_points, rng)]
    is_source = codes[drawn] > 0
    before, after = _project(X[drawn], view.features[drawn], view.same_space,
                             pipeline.random_state)
    embedding = {
        "source": before[is_source],
        "target": before[~is_source],
        "source_adapted": after[is_source],
        "target_adapted": after[~is_source],
        "effect": np.array(view.effect),
        "projection": np.array("shared" if view.same_space else "separate"),
    }
    if view.weight is not None:
        embedding["source_weight"] = view.weight[drawn][is_source]
    return embedding


def _standardised(X: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance (constant columns only centred)."""
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)


def _pca_2d(Z: np.ndarray, seed: int) -> PCA:
    return PCA(n_components=min(2, *Z.shape), random_state=seed).fit(Z)


def _two_columns(coords: np.ndarray) -> np.ndarray:
    """Pad a projection with fewer than two components (one feature, one row) with zeros."""
    return np.column_stack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])


def _project(
    before: np.ndarray, after: np.ndarray, same_space: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates of the rows before and after adaptation (see adaptation_embedding)."""
    Zb, Za = _standardised(before), _standardised(after)
    pca = _pca_2d(Zb, seed)
    coords = _two_columns(pca.transform(Zb))
    if same_space:
        return coords, _two_columns(pca.transform(Za))
    own = _two_columns(_pca_2d(Za, seed).transform(Za))
    rotation, _ = orthogonal_procrustes(own, coords)
    return coords, own @ rotation


def write_embedding(path: Path, embedding: Mapping[str, np.ndarray]) -> None:
    """Write ``embedding`` (from :func:`adaptation_embedding`) as an ``.npz`` atomically.

    Only numeric arrays and plain strings are written, so the file loads with
    ``np.load(path, allow_pickle=False)``.
    """
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in embedding.items()})
    artifacts.write_bytes(Path(path), buffer.getvalue())
