"""CORAL and OT wrappers: covariance matching, subsampling warning, target-row handling,
no second standardisation of the mapped rows for classifiers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt import METHODS
from medtransfer.adapt.alignment import AlignedEstimator
from medtransfer.adapt.skada_adapters import CORALAdapter, OTMappingAdapter
from medtransfer.models.classifiers import make_classifier


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


def test_the_registered_coral_gives_the_source_the_targets_shrunk_covariance():
    X, y, domain = shifted(n_source=3000, n_target=2000)
    model = METHODS.get("coral").build(make_classifier("logreg"), 0)
    model.fit(X, y, sample_domain=domain)
    source = model.transform_domains(X[domain > 0], np.ones(3000))
    target = model.transform_target(X[domain < 0])
    assert np.allclose(source.mean(axis=0), 0) and np.allclose(target.mean(axis=0), 0)
    Z = model.scaler_.transform(X)
    before = np.linalg.norm(np.cov(Z[domain > 0].T) - np.cov(Z[domain < 0].T))
    after = np.linalg.norm(np.cov(source.T, bias=True) - np.cov(target.T, bias=True))
    assert after < 0.05 * before
    # Ledoit-Wolf shrinkage (reg="auto"), fitted per domain on the standardised rows
    scale = Z[domain < 0].std(axis=0)
    expected = ledoit_wolf(Z[domain < 0] / scale)[0] * np.outer(scale, scale)
    np.testing.assert_allclose(np.cov(source.T, bias=True), expected, atol=0.02)


def test_a_classifier_learns_from_the_mapped_rows_without_a_second_standardisation():
    X, y, domain = shifted()
    final = make_pipeline(StandardScaler(), LogisticRegression())
    model = AlignedEstimator(final, CORALAdapter(reg=None)).fit(X, y, sample_domain=domain)
    assert model.estimator_.steps[0][1] == "passthrough"
    assert model.estimator.steps[0][1] != "passthrough"  # the given predictor is untouched
    mapped = model.transform_domains(X, domain)
    direct = LogisticRegression().fit(mapped[domain > 0], y[domain > 0])
    np.testing.assert_allclose(model.predict_proba(X[domain < 0]),
                               direct.predict_proba(mapped[domain < 0]), atol=1e-6)
    # regression keeps the predictor's own scaler
    y_reg = np.where(domain > 0, X[:, 0] + X[:, 1], np.nan)
    reg = AlignedEstimator(make_pipeline(StandardScaler(), Ridge()), CORALAdapter(reg=None))
    assert isinstance(reg.fit(X, y_reg, sample_domain=domain).estimator_.steps[0][1],
                      StandardScaler)
