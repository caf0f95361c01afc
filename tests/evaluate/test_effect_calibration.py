"""Calibration of effects by quantile, on simulated randomised trials whose effects are known."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.errors import DataError
from medtransfer.evaluate.effect_calibration import effect_calibration


def trial(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    tau = 1.0 + x  # the effect grows with x
    t = (rng.random(n) < 0.5).astype(float)
    y = 2.0 + 0.5 * x + t * tau + rng.normal(size=n)
    return x, tau, t, y


def test_true_effects_are_calibrated_and_a_reversed_ranking_is_not():
    x, tau, t, y = trial()
    result = effect_calibration(tau, t, y, n_resamples=300)
    bins = result["bins"]
    assert len(bins) == 5 and sum(b["n"] for b in bins) == len(x)
    assert result["estimator"].startswith("difference in means")
    observed = [b["observed"]["value"] for b in bins]
    assert np.all(np.diff(observed) > 0)  # rising with the predicted effect
    assert result["n_covered"] >= 4
    for b in bins:
        assert abs(b["observed"]["value"] - b["predicted"]) < 0.3
        assert b["observed"]["low"] < b["observed"]["value"] < b["observed"]["high"]
    reversed_ = effect_calibration(2.0 - tau, t, y, n_resamples=300)
    assert np.all(np.diff([b["observed"]["value"] for b in reversed_["bins"]]) < 0)
    assert reversed_["n_covered"] <= 2


def test_dr_pseudo_outcomes_with_the_known_allocation():
    x, tau, t, y = trial(seed=1)
    mu0, mu1 = 2.0 + 0.5 * x, 2.0 + 0.5 * x + tau  # the true outcome models
    result = effect_calibration(tau, t, y, mu0=mu0, mu1=mu1, propensity=np.full(len(t), 0.5),
                                n_resamples=300)
    assert result["estimator"].startswith("mean doubly robust")
    assert result["n_covered"] >= 4
    # a constant prediction is one bin, whose observed effect is the mean effect
    flat = effect_calibration(np.zeros(len(t)), t, y, n_resamples=100)
    assert len(flat["bins"]) == 1
    assert abs(flat["bins"][0]["observed"]["value"] - tau.mean()) < 0.15
    with pytest.raises(DataError, match="treatment \\(1 or 0\\)"):
        effect_calibration(tau, t * 2, y)
