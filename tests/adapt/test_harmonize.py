"""ComBat and per-site standardisation remove a planted site location/scale effect."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt import get_method
from medtransfer.adapt.harmonize import ComBatHarmonized, SiteStandardized
from medtransfer.bench.core import Unit
from medtransfer.bench.warfarin import WarfarinSuite
from medtransfer.models.classifiers import make_classifier


def two_sites(seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(300, 6))
    b = rng.normal(size=(250, 6))
    ya, yb = (a[:, 0] > 0).astype(int), (b[:, 0] > 0).astype(int)
    scale, shift = np.array([2.0, 0.5, 1.5, 3.0, 1.0, 0.7]), np.array([3, -2, 1, 0, 5, -1.0])
    return a, ya, b * scale + shift, yb


def harmonised_target(model, source, y_source, target):
    X = np.vstack([source, target])
    y = np.concatenate([y_source, -np.ones(len(target), dtype=int)])
    domain = np.r_[np.ones(len(source)), -np.ones(len(target))]
    return model.fit(X, y, sample_domain=domain).transform_target(target)


@pytest.mark.parametrize("model", [ComBatHarmonized, SiteStandardized])
def test_planted_site_effect_is_removed(model):
    a, ya, b, yb = two_sites()
    b_adjusted = harmonised_target(model(LogisticRegression()), a, ya, b)
    a_adjusted = harmonised_target(model(LogisticRegression()), b, yb, a)
    assert np.abs(a.mean(0) - b.mean(0)).max() > 2
    np.testing.assert_allclose(a_adjusted.mean(0), b_adjusted.mean(0), atol=0.05)
    np.testing.assert_allclose(a_adjusted.std(0), b_adjusted.std(0), rtol=0.05)


def test_combat_shrinks_a_small_site_toward_the_common_prior():
    rng = np.random.default_rng(1)
    source = rng.normal(size=(300, 20))
    target = rng.normal(size=(4, 20)) + 0.3
    X = np.vstack([source, target])
    y = np.r_[(source[:, 0] > 0).astype(int), -np.ones(4, dtype=int)]
    model = ComBatHarmonized(LogisticRegression())
    model.fit(X, y, sample_domain=np.r_[np.ones(300), -np.ones(4)])
    raw_shift = ((target - model.grand_mean_) / model.pooled_std_).mean(0)
    shrunk = model.gamma_["target"]
    assert np.var(shrunk) < np.var(raw_shift)


def test_constant_column_stays_finite():
    a, ya, b, _ = two_sites()
    a[:, 2], b[:, 2] = 1.0, 1.0
    out = harmonised_target(ComBatHarmonized(LogisticRegression()), a, ya, b)
    assert np.isfinite(out).all()


def test_regression_predictions_stay_within_the_training_doses():
    """Warfarin k = 20: two target patients of unknown sex (a category no source patient
    has) are standardised within the target to ~24 standard deviations; the ridge on those
    features would predict hundreds of thousands of mg/week without the clip."""
    suite = WarfarinSuite()
    split = suite.split(Unit(*suite.pairs()[0], k=20, seed=0))
    method = get_method("site_standardize", "regression", 20).build(
        make_classifier("logreg", "regression", 0), 0)
    method.fit(split.X, split.y, sample_domain=split.sample_domain)
    X_test = split.X[split.test]
    labelled = split.y[~np.isnan(split.y)]
    raw = method.estimator_.predict(method.transform_target(X_test))
    pred = method.predict(X_test)
    assert raw.max() > 5 * labelled.max()
    assert pred.min() >= labelled.min() and pred.max() <= labelled.max()
    inside = (raw >= labelled.min()) & (raw <= labelled.max())
    np.testing.assert_array_equal(pred[inside], raw[inside])
