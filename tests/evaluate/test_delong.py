"""DeLong variance and paired test against an independent O(n^2) implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from medtransfer.errors import DataError
from medtransfer.evaluate.delong import (
    delong_ci,
    delong_covariance,
    delong_test,
    structural_components,
)


def naive_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) from the definition: psi(X, Y) over every positive/negative pair."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    m, n = v10.shape[1], v01.shape[1]
    cov = np.cov(v10) / m + np.cov(v01) / n
    return psi.mean(axis=(1, 2)), np.atleast_2d(cov)


def two_models(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.45).astype(int)
    shared = rng.normal(size=n)
    a = np.round(shared + 1.2 * y + 0.5 * rng.normal(size=n), 1)  # rounded: many ties
    b = np.round(shared + 0.6 * y + 0.5 * rng.normal(size=n), 1)
    return y, np.vstack([a, b])


def test_fast_components_equal_the_definition() -> None:
    y, s = two_models()
    auc, v10, v01 = structural_components(y, s)
    pos, neg = s[:, y == 1], s[:, y == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    np.testing.assert_allclose(v10, psi.mean(axis=2))
    np.testing.assert_allclose(v01, psi.mean(axis=1))
    np.testing.assert_allclose(auc, [roc_auc_score(y, s[0]), roc_auc_score(y, s[1])])


def test_covariance_and_paired_test_match_naive_implementation() -> None:
    y, s = two_models()
    auc, cov = delong_covariance(y, s)
    auc_ref, cov_ref = naive_delong(y, s)
    np.testing.assert_allclose(auc, auc_ref)
    np.testing.assert_allclose(cov, cov_ref)
    res = delong_test(y, s[0], s[1])
    z = (auc_ref[0] - auc_ref[1]) / np.sqrt(cov_ref[0, 0] + cov_ref[1, 1] - 2 * cov_ref[0, 1])
    assert res["z"] == pytest.approx(z)
    assert res["p_value"] == pytest.approx(2 * norm.sf(abs(z)))
    assert res["p_value"] < 0.05  # model a is truly better here


@pytest.mark.slow
def test_delong_variance_agrees_with_bootstrap_variance() -> None:
    y, s = two_models(n=400, seed=1)
    rng = np.random.default_rng(0)
    boot = [roc_auc_score(y[i], s[0, i]) for i in (rng.integers(0, 400, 400) for _ in range(400))]
    ci = delong_ci(y, s[0])
    assert ci["se"] == pytest.approx(np.std(boot), rel=0.2)
    assert ci["low"] < ci["auroc"] < ci["high"]


def test_identical_models_are_not_different() -> None:
    y, s = two_models()
    res = delong_test(y, s[0], s[0])
    assert res["difference"] == 0.0 and res["p_value"] == 1.0


def test_bad_labels_are_named() -> None:
    with pytest.raises(DataError, match="binary labels 0/1"):
        delong_ci(np.array([0, 1, 2, 1]), np.arange(4.0))
    with pytest.raises(DataError, match="at least two cases of each class; got 1 positive"):
        delong_ci(np.array([0, 0, 0, 1]), np.arange(4.0))
    with pytest.raises(DataError, match="3 scores for 4 labels"):
        delong_ci(np.array([0, 0, 1, 1]), np.arange(3.0))
