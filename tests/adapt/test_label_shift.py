"""BBSE and EM recover a known target prior; posteriors are re-weighted toward it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.label_shift import LabelShiftCorrector, bbse_prior, em_prior

CENTRES = np.array([[0.0, 1.2], [1.2, -0.6], [-1.2, -0.6]])
TARGET_PRIOR = np.array([0.6, 0.3, 0.1])


def label_shift(seed: int = 0, n_labelled: int = 0):
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, 3, 900)
    yt = rng.choice(3, 1500, p=TARGET_PRIOR)
    X = CENTRES[np.concatenate([ys, yt])] + rng.normal(size=(2400, 2))
    y = np.concatenate([ys, yt])
    y_fit = y.copy()
    y_fit[900 + n_labelled :] = -1
    domain = np.r_[np.ones(900), -np.ones(1500)]
    return X, y, y_fit, domain


@pytest.mark.parametrize("method", ["em", "bbse"])
def test_recovers_a_known_prior_without_target_labels(method):
    X, _, y_fit, domain = label_shift()
    model = LabelShiftCorrector(LogisticRegression(), method=method, n_bootstrap=30,
                                random_state=0).fit(X, y_fit, sample_domain=domain)
    np.testing.assert_allclose(model.target_prior_, TARGET_PRIOR, atol=0.06)
    low, high = model.target_prior_interval_
    assert np.all(low <= model.target_prior_) and np.all(model.target_prior_ <= high)
    assert np.all(low < TARGET_PRIOR + 0.03) and np.all(high > TARGET_PRIOR - 0.03)


def test_adjusted_posteriors_beat_the_source_posteriors():
    X, y, y_fit, domain = label_shift(seed=1, n_labelled=20)
    model = LabelShiftCorrector(LogisticRegression(), n_bootstrap=5, random_state=0)
    model.fit(X, y_fit, sample_domain=domain)
    target = domain < 0
    adjusted = np.mean(model.predict(X[target]) == y[target])
    unadjusted = np.mean(model.estimator_.predict(X[target]) == y[target])
    assert adjusted > unadjusted + 0.01
    assert model.predict_proba(X[target]).mean(axis=0) == pytest.approx(TARGET_PRIOR, abs=0.05)


def test_estimators_on_exact_quantities():
    confusion = np.array([[0.4, 0.1], [0.1, 0.4]])
    source = np.array([0.5, 0.5])
    truth = np.array([0.8, 0.2])
    share = confusion @ (truth / source)
    np.testing.assert_allclose(bbse_prior(confusion, share, source), truth)
    # Posteriors of two perfectly separated classes reveal the prior exactly.
    proba = np.repeat(np.eye(2), [80, 20], axis=0)
    np.testing.assert_allclose(em_prior(proba, source), truth)
