"""Two-sample tests: MMD and the domain classifier on data with a known answer."""

import numpy as np
import pytest

from medtransfer.errors import ConfigError, DataError
from medtransfer.shift.two_sample import (
    classifier_test,
    kernel_matrix,
    mmd_test,
    permutation_p_value,
    unbiased_mmd2,
)


def gaussians(n=40, d=3, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + shift


def test_unbiased_mmd2_matches_the_pairwise_definition():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 2)), rng.normal(size=(4, 2)) + 0.5
    K, (s,) = kernel_matrix(np.vstack([X, Y]), "rbf")
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * s**2))  # noqa: E731
    xx = sum(k(X[i], X[j]) for i in range(6) for j in range(6) if i != j) / (6 * 5)
    yy = sum(k(Y[i], Y[j]) for i in range(4) for j in range(4) if i != j) / (4 * 3)
    xy = sum(k(a, b) for a in X for b in Y) / (6 * 4)
    got = unbiased_mmd2(K, np.r_[np.ones(6, bool), np.zeros(4, bool)])
    assert got == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_median_heuristic_bandwidth():
    Z = np.array([[0.0], [1.0], [3.0]])  # squared distances 1, 9, 4: median 4
    _, (s,) = kernel_matrix(Z, "rbf")
    assert s == pytest.approx(np.sqrt(2.0))
    _, multi = kernel_matrix(Z, "multi")
    assert multi == pytest.approx([np.sqrt(2.0) * c for c in (0.25, 0.5, 1, 2, 4)])


def test_permutation_p_value_counts_ties_and_adds_one():
    assert permutation_p_value(2.0, np.array([1.0, 2.0, 3.0, 0.5])) == pytest.approx(3 / 5)
    assert permutation_p_value(9.0, np.zeros(99)) == pytest.approx(0.01)


@pytest.mark.parametrize("kernel", ["rbf", "multi"])
def test_mmd_same_distribution_is_not_significant(kernel):
    Xs, Xt = gaussians(shift=0.0, seed=3)
    result = mmd_test(Xs, Xt, kernel=kernel, n_permutations=100, random_state=0)
    assert result["p_value"] > 0.05
    assert result["subsampled"] is None


@pytest.mark.parametrize("kernel", ["rbf", "multi"])
def test_mmd_shifted_mean_is_significant(kernel):
    Xs, Xt = gaussians(shift=1.0, seed=3)
    result = mmd_test(Xs, Xt, kernel=kernel, n_permutations=150, random_state=0)
    assert result["p_value"] < 0.01
    assert result["statistic"] > 0


def test_mmd_identical_domains_give_a_large_p_value():
    X, _ = gaussians(seed=4)
    assert mmd_test(X, X.copy(), n_permutations=50)["p_value"] > 0.5


def test_mmd_false_positive_rate_is_controlled():
    hits = [mmd_test(*gaussians(n=25, d=2, seed=s), n_permutations=40, random_state=s)
            ["p_value"] < 0.05 for s in range(30)]
    assert np.mean(hits) <= 0.15


def test_mmd_states_subsampling_and_is_seeded():
    Xs, Xt = gaussians(n=50, shift=0.3)
    a = mmd_test(Xs, Xt, n_permutations=30, max_samples=20, random_state=7)
    b = mmd_test(Xs, Xt, n_permutations=30, max_samples=20, random_state=7)
    assert a == b
    assert (a["subsampled"], a["n_source"], a["n_target"]) == (40, 20, 20)


@pytest.mark.slow
def test_classifier_test_same_vs_shifted():
    same = classifier_test(*gaussians(shift=0.0, seed=5), n_permutations=100)
    shifted = classifier_test(*gaussians(shift=1.5, seed=5), n_permutations=100)
    assert same["p_value"] > 0.05 and same["proxy_a_distance"] < 0.6
    assert shifted["p_value"] < 0.01 and shifted["auc"] > 0.9
    assert shifted["proxy_a_distance"] == pytest.approx(
        max(0.0, 2 * (1 - 2 * shifted["balanced_error"])))
    assert shifted["proxy_a_distance"] > 1.2


def test_classifier_test_is_seeded():
    Xs, Xt = gaussians(shift=0.4)
    assert classifier_test(Xs, Xt, n_permutations=10, random_state=2) == classifier_test(
        Xs, Xt, n_permutations=10, random_state=2)


@pytest.mark.parametrize("test", [mmd_test, classifier_test])
def test_bad_inputs_are_explained(test):
    X = np.zeros((10, 3))
    with pytest.raises(DataError, match="target domain is empty; pass at least 5"):
        test(X, np.zeros((0, 3)))
    with pytest.raises(DataError, match=r"source domain has 3 samples, too few.*at least 5"):
        test(X[:3], X)
    with pytest.raises(DataError, match="source has 3 features but target has 2"):
        test(X, np.zeros((10, 2)))
    with pytest.raises(DataError, match=r"source features have shape \(10, 3, 1\); expected"):
        test(X[..., None], X)
    with pytest.raises(DataError, match=r"NaN or infinite.*impute"):
        test(X, np.full((10, 3), np.nan))
    with pytest.raises(ConfigError, match="n_permutations=0; expected a positive"):
        test(X, X, n_permutations=0)
    with pytest.raises(ConfigError, match="max_samples=2; expected at least 5"):
        test(X, X, max_samples=2)


def test_unknown_kernel_is_a_config_error():
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ConfigError, match="kernel='gauss'; expected 'rbf' or 'multi'"):
        mmd_test(X, X, kernel="gauss")
