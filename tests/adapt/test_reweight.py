"""Importance weights favour source rows near the target; ESS and clipping behave."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.reweight import (
    DensityRatioReweighted,
    KLIEPReweighted,
    KMMReweighted,
    clip_weights,
    effective_sample_size,
)


def covariate_shift(seed: int = 0, offset: float = 1.0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(200, 2))
    Xt = rng.normal(size=(150, 2)) * 0.5 + offset
    ys = (Xs.sum(axis=1) > 0).astype(int)
    X = np.vstack([Xs, Xt])
    y = np.concatenate([ys, -np.ones(150, dtype=int)])
    domain = np.r_[np.ones(200), -np.ones(150)]
    return X, y, domain, Xs


@pytest.mark.filterwarnings("ignore:.*effective sample size")
@pytest.mark.parametrize("model", [KMMReweighted, KLIEPReweighted, DensityRatioReweighted])
def test_source_rows_near_the_target_get_more_weight(model):
    X, y, domain, Xs = covariate_shift()
    fitted = model(LogisticRegression(), random_state=0).fit(X, y, sample_domain=domain)
    distance = np.linalg.norm(Xs - 1.0, axis=1)
    near, far = distance < np.quantile(distance, 0.25), distance > np.quantile(distance, 0.75)
    weights = fitted.source_weights_
    assert weights[near].mean() > 3 * weights[far].mean()
    assert np.isclose(weights.mean(), 1.0)
    assert weights.max() <= fitted.max_weight * (1 + 1e-8)
    assert 1 <= fitted.ess_ < 200


def test_tiny_effective_sample_size_warns():
    X, y, domain, _ = covariate_shift(offset=3.0)
    with pytest.warns(UserWarning, match=r"effective sample size .* of 200 source rows"):
        fitted = KMMReweighted(LogisticRegression(), random_state=0).fit(
            X, y, sample_domain=domain
        )
    assert fitted.unclipped_ess_ < 20


def test_kmm_interpolates_weights_above_max_samples():
    X, y, domain, _ = covariate_shift()
    with pytest.warns(UserWarning, match=r"solved on 100 source and 100 target rows"):
        fitted = KMMReweighted(LogisticRegression(), max_samples=100, random_state=0).fit(
            X, y, sample_domain=domain
        )
    assert fitted.source_weights_.shape == (200,)


def test_clipping_and_effective_sample_size():
    weights = clip_weights(np.array([0.0, 1.0, 1.0, 100.0]), max_weight=2.0)
    assert np.isclose(weights.mean(), 1.0)
    assert weights.max() <= 2.0 * (1 + 1e-8)
    assert effective_sample_size(np.ones(10)) == pytest.approx(10)
    assert effective_sample_size(np.r_[1.0, np.zeros(9)]) == pytest.approx(1)
    np.testing.assert_array_equal(clip_weights(np.zeros(3), 5.0), np.ones(3))


def test_diverged_weights_are_a_clear_error():
    from medtransfer.adapt.reweight import ReweightedEstimator
    from medtransfer.errors import DataError
    from medtransfer.models import make_classifier

    class Diverging(ReweightedEstimator):
        def _source_weights(self, Z, rows):
            weights = np.ones(int(rows.source.sum()))
            weights[0] = np.inf  # what an overflowing density-ratio fit returns
            return weights

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.r_[(X[:30, 0] > 0).astype(int), np.full(10, -1)]
    domains = np.r_[np.ones(30), -2 * np.ones(10)]
    with pytest.raises(DataError, match=r"diverged \(1 non-finite weights of 30\)"):
        Diverging(make_classifier("logreg")).fit(X, y, sample_domain=domains)
