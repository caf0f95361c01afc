"""Transferability scores against worked examples computed independently."""

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf

from medtransfer.errors import ConfigError, DataError
from medtransfer.select.transferability import (
    get_score,
    h_score,
    leep,
    logme,
    nce,
    regularized_h_score,
)


def log_evidence(F, y, alpha, beta):
    """log p(y | F, alpha, beta) of Bayesian ridge regression, with full matrices.

    ``alpha`` and ``beta`` are arrays: the evidence is evaluated at every pair at once.
    """
    n, d = F.shape
    A = alpha[:, None, None] * np.eye(d) + beta[:, None, None] * (F.T @ F)
    m = beta[:, None] * np.linalg.solve(A, np.broadcast_to(F.T @ y, (len(A), d))[..., None])[
        ..., 0]
    residual = np.sum((y - m @ F.T) ** 2, axis=1)
    return (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
            - beta / 2 * residual - alpha / 2 * np.sum(m**2, axis=1)
            - np.linalg.slogdet(A)[1] / 2)


def grid_max(F, y):
    a, b = np.meshgrid(np.exp(np.linspace(-8, 8, 321)), np.exp(np.linspace(-8, 8, 321)))
    return log_evidence(F, y, a.ravel(), b.ravel()).max() / len(y)


@pytest.mark.parametrize("n,d", [(12, 3), (5, 8)])
def test_logme_regression_matches_brute_force_evidence_maximisation(n, d):
    rng = np.random.default_rng(n)
    F = rng.normal(size=(n, d))
    y = F @ rng.normal(size=d) + 0.3 * rng.normal(size=n)
    best = grid_max(F, y)
    assert logme(F, y) == pytest.approx(best, abs=2e-3)
    assert logme(F, y) >= best - 1e-9


def test_logme_classification_averages_one_hot_columns():
    rng = np.random.default_rng(3)
    F = rng.normal(size=(10, 2))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 2])
    expected = np.mean([grid_max(F, (y == k).astype(float)) for k in range(3)])
    assert logme(F, y) == pytest.approx(expected, abs=2e-3)


def test_logme_prefers_informative_features():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    good = rng.normal(size=(80, 5)) + 2 * y[:, None]
    noise = rng.normal(size=(80, 5))
    assert logme(good, y) > logme(noise, y)


def test_leep_by_hand():
    theta = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([0, 1, 0])
    # P(y|z): z0 -> (15/17, 2/17), z1 -> (5/13, 8/13), from the joint worked out by hand.
    eep = [0.9 * 15 / 17 + 0.1 * 5 / 13, 0.2 * 2 / 17 + 0.8 * 8 / 13, 0.6 * 15 / 17 + 0.4 * 5 / 13]
    assert leep(theta, y) == pytest.approx(np.mean(np.log(eep)))


def test_nce_by_hand():
    z, y = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    assert nce(z, y) == pytest.approx(-0.5 * np.log(2))
    assert nce(np.eye(2)[z] * 0.7 + 0.15, y) == pytest.approx(-0.5 * np.log(2))
    assert nce(np.array([5, 5, 9, 9]), np.array([1, 1, 0, 0])) == pytest.approx(0.0)


def between_and_total(F, y):
    total = np.cov(F.T, bias=True)
    means = {k: F[y == k].mean(axis=0) for k in np.unique(y)}
    G = np.array([means[k] for k in y])
    return total, np.cov(G.T, bias=True)


def test_h_score_matches_the_covariance_formula():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 50)
    F = rng.normal(size=(50, 4)) + y[:, None]
    total, between = between_and_total(F, y)
    assert h_score(F, y) == pytest.approx(np.trace(np.linalg.inv(total) @ between))


def test_shrinkage_h_score_matches_the_shrunk_formula():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 12)
    F = rng.normal(size=(12, 20)) + y[:, None]  # more features than samples
    total, between = between_and_total(F, y)
    a = LedoitWolf().fit(F).shrinkage_
    shrunk = (1 - a) * total + a * np.trace(total) / 20 * np.eye(20)
    expected = np.trace(np.linalg.inv(shrunk) @ ((1 - a) * between))
    assert regularized_h_score(F, y) == pytest.approx(expected, rel=1e-8)
    assert 0 < a < 1


def test_scores_reject_unusable_labels():
    F = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(DataError, match=r"labels are continuous.*use 'logme'"):
        h_score(F, np.linspace(0, 1, 6))
    with pytest.raises(DataError, match="only one class"):
        leep(np.full((6, 2), 0.5), np.zeros(6))
    with pytest.raises(DataError, match="rows summing to 1"):
        leep(np.ones((6, 2)), np.arange(6) % 2)
    with pytest.raises(DataError, match=r"features of shape \(6, 2\) and labels of shape \(5,\)"):
        logme(F, np.arange(5))
    with pytest.raises(DataError, match="1 labelled samples; needs at least 2"):
        logme(F[:1], np.zeros(1))
    with pytest.raises(DataError, match="NaN or infinite"):
        h_score(np.full((6, 2), np.nan), np.arange(6) % 2)


def test_unknown_score_suggests_the_close_name():
    with pytest.raises(ConfigError, match="Did you mean 'logme'"):
        get_score("logm")
    with pytest.raises(ConfigError, match="score=None; expected one of hscore"):
        get_score(None)
