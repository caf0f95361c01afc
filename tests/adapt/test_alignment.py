"""CORAL and OT wrappers: covariance matching, subsampling warning, target-row handling."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.alignment import AlignedEstimator
from medtransfer.adapt.skada_adapters import CORALAdapter, OTMappingAdapter


def shifted(seed: int = 0, n_source: int = 400, n_target: int = 300):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, 3)) @ np.array([[1, 0.8, 0], [0, 1, 0], [0, 0, 0.3]])
    Xt = rng.normal(size=(n_target, 3)) @ np.array([[2, 0, 0], [0.5, 1, 0], [0, 0, 1.5]]) + 1
    ys = (Xs[:, 0] > 0).astype(int)
    X = np.vstack([Xs, Xt])
    y = np.concatenate([ys, -np.ones(n_target, dtype=int)])
    domain = np.r_[np.ones(n_source), -np.ones(n_target)]
    return X, y, domain


def test_coral_makes_the_source_covariance_equal_the_target_covariance():
    X, y, domain = shifted()
    model = AlignedEstimator(LogisticRegression(), CORALAdapter(reg=None)).fit(
        X, y, sample_domain=domain
    )
    Z = model.scaler_.transform(X)
    source = model.adapter_.transform(Z[domain > 0], sample_domain=np.ones(400), allow_source=True)
    target = model.transform_target(X[domain < 0])
    before = np.linalg.norm(np.cov(Z[domain > 0].T) - np.cov(Z[domain < 0].T))
    np.testing.assert_allclose(np.cov(source.T, bias=True), np.cov(target.T, bias=True), atol=1e-8)
    assert before > 0.5


def test_exact_ot_subsamples_above_max_samples_with_a_warning():
    X, y, domain = shifted(n_source=120, n_target=100)
    model = AlignedEstimator(LogisticRegression(), OTMappingAdapter(), max_samples=50,
                             random_state=0)
    with pytest.warns(UserWarning, match=r"random subsample of 50 source and 50 target rows"):
        model.fit(X, y, sample_domain=domain)
    assert model.adapter_.ot_transport_.coupling_.shape == (50, 50)
    assert model.predict_proba(X[domain < 0]).shape == (100, 2)
