"""Streamed adaptation equals its in-memory counterpart, chunk size notwithstanding."""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.streaming import (
    StreamingCORAL,
    StreamingDensityRatio,
    StreamingStandardizer,
    fit_streamed_linear,
    store_chunks,
)
from medtransfer.features.store import FeatureStore


def _chunks(X: np.ndarray, size: int):
    return [X[i : i + size] for i in range(0, len(X), size)]


def test_streamed_coral_equals_the_in_memory_formula():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(300, 5)).astype(np.float32)
    Xt = (rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))).astype(np.float32)
    coral = StreamingCORAL(reg=1.0).fit(_chunks(Xs, 37), _chunks(Xt, 64))
    eye = np.eye(5)
    whiten = linalg.fractional_matrix_power(np.cov(Xs, rowvar=False) + eye, -0.5)
    colour = linalg.fractional_matrix_power(np.cov(Xt, rowvar=False) + eye, 0.5)
    np.testing.assert_allclose(coral.transform(Xs), Xs @ np.real(whiten @ colour), atol=1e-4)
    assert coral.transform(Xs).dtype == np.float32


def test_streamed_site_standardisation_matches_per_site_moments():
    rng = np.random.default_rng(1)
    X = rng.normal(3, 2, size=(120, 4)).astype(np.float32)
    site = np.repeat(["a", "b", "c"], 40)
    order = rng.permutation(120)
    fitted = StreamingStandardizer().fit(zip(_chunks(X[order], 25), _chunks(site[order], 25),
                                             strict=True))
    Z = fitted.transform(X, site)
    for value in "abc":
        rows = Z[site == value]
        np.testing.assert_allclose(rows.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(rows.std(0), 1, atol=1e-4)


def test_linear_head_learns_from_store_chunks(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    X = (rng.normal(size=(400, 6)) + 2.0 * y[:, None]).astype(np.float32)
    store = FeatureStore(tmp_path, 6, "k")
    for start in range(0, 400, 50):
        store.put_many([str(k) for k in range(start, start + 50)], X[start : start + 50])
    label = {str(k): y[k] for k in range(400)}

    def chunks():
        for digests, rows in store_chunks(tmp_path):
            yield rows, np.array([label[d] for d in digests])

    model = fit_streamed_linear(chunks, np.array([0, 1]))
    assert (model.predict(X) == y).mean() > 0.9


def test_streamed_density_ratio_matches_an_in_memory_discriminator_and_weights_the_target_side():
    rng = np.random.default_rng(3)
    Xs = rng.normal(size=(3000, 4)).astype(np.float32)
    Xt = (rng.normal(size=(1500, 4)) + np.array([1.0, -0.5, 0.0, 0.0])).astype(np.float32)
    ratio = StreamingDensityRatio(max_weight=1e6).fit(lambda: _chunks(Xs, 256),
                                                      lambda: _chunks(Xt, 128))
    assert ratio.prior_ratio_ == 2.0
    X = np.vstack([Xs, Xt])
    is_target = np.r_[np.zeros(3000), np.ones(1500)]
    full = LogisticRegression(C=1 / (1e-3 * len(X)), max_iter=1000).fit(X, is_target)
    expected = np.log(2.0) + full.decision_function(Xs)
    log_w = np.log(ratio.weights(Xs))
    assert np.corrcoef(log_w, expected)[0, 1] > 0.99
    assert np.median(np.abs(log_w - expected)) < 0.5
    # the true ratio rises along +x0 and -x1: the target side gets the larger weights
    toward = Xs @ np.array([1.0, -0.5, 0.0, 0.0])
    assert ratio.weights(Xs[toward > 1]).mean() > 3 * ratio.weights(Xs[toward < -1]).mean()
    assert StreamingDensityRatio(max_weight=5.0).fit(
        lambda: _chunks(Xs, 256), lambda: _chunks(Xt, 128)).weights(Xs).max() <= 5.0


def test_streamed_head_takes_sample_weights():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    flipped = 1 - y  # the same rows with wrong labels, weighted almost away
    weight = np.r_[np.ones(600), np.full(600, 1e-3)]
    X2, y2 = np.vstack([X, X]), np.r_[y, flipped]
    order = rng.permutation(1200)
    model = fit_streamed_linear(lambda: zip(_chunks(X2[order], 100), _chunks(y2[order], 100),
                                            _chunks(weight[order], 100), strict=True),
                                np.array([0, 1]))
    assert (model.predict(X) == y).mean() > 0.95
