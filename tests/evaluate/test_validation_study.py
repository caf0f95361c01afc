"""Calibration slope / CITL / O/E, decision curves, operating points and Riley's sample size."""

import numpy as np
import pytest

from medtransfer.errors import ConfigError
from medtransfer.evaluate.calibration_study import (
    calibration_measures,
    calibration_study,
    smoothed_calibration,
)
from medtransfer.evaluate.decision_curve import decision_curve, net_benefit, operating_point
from medtransfer.evaluate.sample_size import auroc_se, n_needed, sample_size_adequacy


@pytest.fixture(scope="module")
def miscalibrated():
    """Outcomes drawn from risks 0.5 + 0.6 * logit p: slope 0.6, underestimated risks."""
    rng = np.random.default_rng(0)
    lp = rng.normal(0, 1.5, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.5 + 0.6 * lp)))).astype(int)
    return y, 1 / (1 + np.exp(-lp))


def test_recalibration_recovers_the_slope_and_flags_underestimated_risk(miscalibrated):
    y, p = miscalibrated
    found = calibration_measures(y, p)
    assert found["calibration_slope"] == pytest.approx(0.6, abs=0.06)
    assert found["calibration_in_the_large"] > 0.2 and found["oe_ratio"] > 1.05


def test_a_calibrated_model_has_slope_one_and_intervals_cover_it():
    rng = np.random.default_rng(1)
    p = 1 / (1 + np.exp(-rng.normal(-1, 1.2, 600)))
    y = (rng.random(600) < p).astype(int)
    study = calibration_study(y, p, n_resamples=200, random_state=0)
    assert study["calibration_slope"]["low"] < 1 < study["calibration_slope"]["high"]
    assert study["calibration_in_the_large"]["low"] < 0 < study["calibration_in_the_large"]["high"]
    curve = smoothed_calibration(y, p)
    assert np.max(np.abs(curve["observed"] - curve["predicted"])) < 0.15


def test_net_benefit_by_hand_and_against_treat_all():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    # at t = 0.5: treated 0.9 (TP) and 0.6 (FP): 1/5 - 1/5 * 1 = 0
    assert net_benefit(y, p, [0.5])[0] == pytest.approx(0.0)
    curve = decision_curve(y, {"m": p}, [0.25])
    assert curve["treat_all"][0] == pytest.approx(0.4 - 0.6 / 3)
    assert curve["models"]["m"][0] == pytest.approx(2 / 5 - 1 / 5 / 3)


def test_operating_point_and_ppv_at_a_stated_prevalence():
    rng = np.random.default_rng(2)
    y = np.r_[np.ones(100), np.zeros(300)].astype(int)
    p = np.clip(np.r_[rng.normal(0.7, 0.15, 100), rng.normal(0.3, 0.15, 300)], 0, 1)
    found = operating_point(y, p, 0.5, prevalence=0.05, n_resamples=100)
    sens, spec = found["sensitivity"]["value"], found["specificity"]["value"]
    ppv = sens * 0.05 / (sens * 0.05 + (1 - spec) * 0.95)
    assert found["ppv_at_prevalence"]["value"] == pytest.approx(ppv)
    assert found["ppv_at_prevalence"]["value"] < found["ppv"]["value"]
    with pytest.raises(ConfigError,
                       match=r"prevalence=1.2\): expected None or a number in \(0, 1\)"):
        operating_point(y, p, 0.5, prevalence=1.2)


def test_sample_size_precision_shrinks_with_n_and_meets_its_target(miscalibrated):
    y, p = miscalibrated
    assert auroc_se(0.8, 400, 0.2) > auroc_se(0.8, 1600, 0.2)
    adequacy = sample_size_adequacy(y[:300], p[:300], 0.8)
    needed = adequacy["auroc"]["n_needed"]
    assert adequacy["auroc"]["halfwidth"] > 0.05 or needed <= 300
    assert 1.959964 * auroc_se(0.8, needed, adequacy["prevalence"]) <= 0.05
    assert 1.959964 * auroc_se(0.8, needed - 1, adequacy["prevalence"]) > 0.05
    assert n_needed("auroc", 0.03, 0.8, adequacy["prevalence"], p) > needed
