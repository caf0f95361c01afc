"""ECE, reliability diagrams and recalibration with labelled target cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.utils.estimator_checks import check_get_params_invariance

from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.calibration import (
    Recalibrator,
    expected_calibration_error,
    reliability_diagram,
)
from medtransfer.evaluate.metrics import binary_auroc


def overconfident(n: int, k: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated probabilities, then reported 3x sharper (over-confident)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.2, size=(n, k))
    true_p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in true_p])
    sharp = np.exp(3 * logits)
    return y, sharp / sharp.sum(1, keepdims=True)


def test_reliability_diagram_matches_sklearn_calibration_curve() -> None:
    y, p = overconfident(500)
    d = reliability_diagram(y, p, n_bins=10)
    true_freq, mean_pred = calibration_curve(y, p[:, 1], n_bins=10)
    filled = d["count"] > 0
    np.testing.assert_allclose(d["observed"][filled], true_freq)
    np.testing.assert_allclose(d["predicted"][filled], mean_pred)
    assert d["count"].sum() == 500


def test_ece_of_calibrated_probabilities_is_small() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(4000)
    y = (rng.random(4000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.03
    assert expected_calibration_error(y, np.clip(p * 1.8 - 0.4, 0, 1)) > 0.08


@pytest.mark.parametrize("k", [2, 4])
def test_temperature_scaling_reduces_ece_of_overconfident_model(k: int) -> None:
    y_fit, p_fit = overconfident(400, k, seed=2)
    y_test, p_test = overconfident(1000, k, seed=3)
    rec = Recalibrator(method="temperature").fit(p_fit, y_fit)
    assert rec.temperature_ == pytest.approx(3.0, rel=0.3)  # undoes the 3x sharpening
    after = rec.transform(p_test)
    assert expected_calibration_error(y_test, after) < 0.5 * expected_calibration_error(
        y_test, p_test
    )
    np.testing.assert_allclose(after.sum(1), 1.0)
    np.testing.assert_array_equal(after.argmax(1), p_test.argmax(1))  # ranking kept


@pytest.mark.parametrize("method", ["platt", "isotonic"])
@pytest.mark.parametrize("k", [2, 3])
def test_platt_and_isotonic_improve_calibration(method: str, k: int) -> None:
    y_fit, p_fit = overconfident(600, k, seed=4)
    y_test, p_test = overconfident(1000, k, seed=5)
    after = Recalibrator(method=method).fit(p_fit, y_fit).transform(p_test)
    assert after.shape == p_test.shape
    np.testing.assert_allclose(after.sum(1), 1.0)
    assert expected_calibration_error(y_test, after) < 0.7 * expected_calibration_error(
        y_test, p_test
    )
    if k == 2 and method == "platt":
        before = binary_auroc(y_test, p_test[:, 1])
        assert binary_auroc(y_test, after[:, 1]) == pytest.approx(before)


def test_binary_positive_column_is_accepted_and_estimator_contract() -> None:
    y, p = overconfident(200)
    rec = Recalibrator()
    check_get_params_invariance("Recalibrator", rec)
    assert rec.fit_transform(p[:, 1], y).shape == (200, 2)


def test_recalibration_errors_are_named() -> None:
    y, p = overconfident(50)
    with pytest.raises(ConfigError, match=r"Recalibrator\(method='beta'\): expected one of"):
        Recalibrator(method="beta").fit(p, y)
    with pytest.raises(DataError, match="at least two classes; got only class"):
        Recalibrator().fit(p, np.zeros(50, int))
    rec = Recalibrator().fit(p, y)
    with pytest.raises(DataError, match="3 columns but the recalibrator was fitted on 2"):
        rec.transform(np.full((4, 3), 1 / 3))
    with pytest.raises(ConfigError, match="n_bins=0"):
        reliability_diagram(y, p, n_bins=0)
