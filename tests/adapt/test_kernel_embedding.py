"""TCA / JDA embeddings and the mapping network bring the domains together."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.kernel_embedding import (
    JointDistributionAdaptation,
    TransferComponentAnalysis,
)
from medtransfer.adapt.mapping_network import MappingNetwork


def shifted(seed: int = 0, n: int = 120, d: int = 5):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n, d))
    Xt = rng.normal(size=(n, d)) + np.r_[1.5, np.zeros(d - 1)]
    ys = (Xs[:, 1] > 0).astype(int)
    yt = (Xt[:, 1] > 0).astype(int)
    X = np.vstack([Xs, Xt])
    y = np.concatenate([ys, -np.ones(n, dtype=int)])
    domain = np.r_[np.ones(n), -np.ones(n)]
    return X, y, domain, yt


def mean_gap(model, X, domain) -> float:
    source = model.transform_target(X[domain > 0])  # same map for both: compare the means
    target = model.transform_target(X[domain < 0])
    return float(np.linalg.norm(source.mean(0) - target.mean(0)) / source.std(0).mean())


def test_tca_embedding_matches_domain_means_better_than_kernel_pca():
    X, y, domain, _ = shifted()
    tca = TransferComponentAnalysis(LogisticRegression(), n_components=3, mu=1.0).fit(
        X, y, sample_domain=domain
    )
    kpca_like = TransferComponentAnalysis(LogisticRegression(), n_components=3, mu=1e6).fit(
        X, y, sample_domain=domain
    )
    assert mean_gap(tca, X, domain) < 0.5 * mean_gap(kpca_like, X, domain)


def test_tca_uses_landmarks_above_max_samples():
    X, y, domain, _ = shifted()
    model = TransferComponentAnalysis(LogisticRegression(), max_samples=60, random_state=0)
    with pytest.warns(UserWarning, match=r"60 random landmark rows of 240"):
        model.fit(X, y, sample_domain=domain)
    assert model.landmarks_.shape == (60, 5)
    assert model.transform_target(X[:7]).shape == (7, 20)


def test_jda_pseudo_labels_are_mostly_right():
    X, y, domain, yt = shifted(seed=1)
    model = JointDistributionAdaptation(LogisticRegression(), n_components=5, n_iter=3)
    model.fit(X, y, sample_domain=domain)
    assert np.mean(model.pseudo_labels_ == yt) > 0.8


def test_mapping_network_moves_target_onto_source():
    X, y, domain, yt = shifted(d=8)
    model = MappingNetwork(LogisticRegression(), steps=150, random_state=0)
    model.fit(X, y, sample_domain=domain)
    scaled_source = model.scaler_.transform(X[domain > 0])
    before = np.linalg.norm(model.scaler_.transform(X[domain < 0]).mean(0) - scaled_source.mean(0))
    after = np.linalg.norm(model.transform_target(X[domain < 0]).mean(0) - scaled_source.mean(0))
    assert after < 0.3 * before
    assert model.loss_history_[-1] < model.loss_history_[0]
    assert np.mean(model.predict(X[domain < 0]) == yt) > 0.8
