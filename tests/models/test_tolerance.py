"""PW20Decision (exact window search, honest validation) and PW20Regressor on IWPC warfarin."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from medtransfer.adapt.baselines import Pooled
from medtransfer.errors import ConfigError, DataError
from medtransfer.models.classifiers import make_classifier
from medtransfer.models.dosing import SqrtDoseRegressor
from medtransfer.models.tolerance import PW20Decision, PW20Regressor, within_tolerance


def hits(y: np.ndarray, pred: np.ndarray, tolerance: float = 0.2) -> float:
    return float(np.mean(np.abs(pred - y) <= tolerance * y))


def coverage(candidate: float, mu: float, h: float, root, weight, tol: float = 0.15) -> float:
    """Kernel weight (sqrt scale) of the doses ``root**2`` whose ±tol window holds ``candidate``."""
    density = weight * np.exp(-0.5 * ((root - mu) / h) ** 2)
    inside = (candidate >= (1 - tol) * root**2) & (candidate <= (1 + tol) * root**2)
    return float(np.sum(density[inside]))


@pytest.mark.slow
def test_the_chosen_value_covers_the_most_kernel_weight():
    rng = np.random.default_rng(0)
    grid = np.array([7.0, 10.5, 14.0, 17.5, 21.0, 24.5, 28.0, 35.0, 42.0])  # tablet doses
    y = np.sqrt(rng.choice(grid, size=60, p=np.r_[1, 2, 4, 6, 5, 3, 2, 1, 1] / 25))
    pred = y + rng.normal(0, 0.5, size=60)
    decision = PW20Decision(bandwidth=1.0, transform="sqrt").fit(pred, y)  # windows ±15%
    h, root = decision.sigma_, decision.support_
    mu = np.linspace(3.0, 6.0, 13)
    chosen = decision.predict(mu) ** 2
    fine = np.r_[np.linspace(1.0, 60.0, 20001), 0.85 * root**2, 1.15 * root**2]  # + edges
    for m, c in zip(mu, chosen, strict=True):
        best = max(coverage(v, m, h, root, decision.support_weight_) for v in fine)
        assert coverage(c, m, h, root, decision.support_weight_) == pytest.approx(best, rel=1e-9)
    assert decision.support_weight_.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(PW20Decision(bandwidth=0.0).fit(pred, y).predict(mu), mu)


def test_cv_takes_the_best_pw20_within_the_mae_allowance():
    rng = np.random.default_rng(1)
    y = np.sqrt(rng.choice([14.0, 17.5, 21.0, 24.5, 28.0], size=80))
    pred = y + rng.normal(0, 0.4, size=80)
    decision = PW20Decision(transform="sqrt", max_mae_increase=0.01).fit(pred, y)
    plain = decision.validation_[0.0]
    assert plain["pw20"] == pytest.approx(hits(y**2, pred**2))
    assert plain["mae"] == pytest.approx(np.mean(np.abs(pred**2 - y**2)))
    allowed = {b: v for b, v in decision.validation_.items() if v["mae"] <= plain["mae"] * 1.01}
    assert decision.bandwidth_ in allowed
    assert decision.validation_[decision.bandwidth_]["pw20"] == max(
        v["pw20"] for v in allowed.values())


def test_validation_never_sees_the_held_out_outcome():
    """Outcomes a factor 2 apart: only a row's own outcome could be a hit for it."""
    y = np.log(10.0 * 2.0 ** np.arange(12))
    jitter = np.random.default_rng(0).normal(0, 0.05, size=12)
    pred = y + np.log(1.3) + jitter  # every plain prediction misses its ±20% window
    decision = PW20Decision(bandwidth=1.0, transform="log").fit(pred, y)
    # Validation: the row's own outcome is not in its support, so the decision cannot find it.
    assert decision.validation_[1.0]["pw20"] == 0.0
    # Predicting the same rows afterwards, with every outcome in the support, it does.
    assert hits(np.exp(y), np.exp(pred)) == 0.0
    assert hits(np.exp(y), np.exp(decision.predict(pred))) == 1.0


def test_bad_input_is_named():
    pred = y = np.array([4.0, 5.0, 4.5])
    with pytest.raises(ConfigError, match="tolerance"):
        PW20Decision(tolerance=1.5).fit(pred, y)
    with pytest.raises(ConfigError, match="transform"):
        PW20Decision(transform="cube").fit(pred, y)
    with pytest.raises(ConfigError, match="bandwidth"):
        PW20Decision(bandwidth=-1).fit(pred, y)
    with pytest.raises(DataError, match="positive outcomes"):
        PW20Decision().fit(pred - 4.5, y - 4.5)
    with pytest.raises(DataError, match="validation predictions"):
        PW20Decision().fit(pred[:2], y)


@pytest.mark.slow
def test_pw20_regressor_raises_pw20_of_pooled_on_the_east_asian_sites(dose_split):
    X, y, domain, X_test, y_test = dose_split
    pooled = Pooled(make_classifier("logreg", "regression", 0))
    plain = SqrtDoseRegressor(pooled).fit(X, y, sample_domain=domain)
    wrapped = SqrtDoseRegressor(PW20Regressor(pooled, transform="sqrt", random_state=0))
    wrapped.fit(X, y, sample_domain=domain)
    before, after = plain.predict(X_test), wrapped.predict(X_test)
    decision = wrapped.regressor_.decision_
    assert decision.bandwidth_ > 0  # chosen on the 100 labelled patients, out of fold
    assert decision.support_weight_.sum() == pytest.approx(1.0)
    assert hits(y_test, after) > hits(y_test, before) + 0.005
    assert np.mean(np.abs(after - y_test)) < 1.03 * np.mean(np.abs(before - y_test))
    # Not won on window edges, nor only at exactly ±20%.
    assert hits(y_test, after, 0.199) > hits(y_test, after) - 0.005
    assert hits(y_test, after, 0.15) > hits(y_test, before, 0.15)


def test_pw20_regressor_follows_the_estimator_contract(dose_split):
    X, y, domain, X_test, _ = dose_split
    model = PW20Regressor(Pooled(make_classifier("logreg", "regression", 0)), transform="sqrt",
                          bandwidth=0.35, random_state=3)
    copy = clone(model)
    assert copy.get_params()["bandwidth"] == 0.35 and not hasattr(copy, "decision_")
    root = np.sqrt(y)
    first = copy.fit(X, root, sample_domain=domain).predict(X_test)
    again = clone(model).fit(X, root, sample_domain=domain).predict(X_test)
    np.testing.assert_array_equal(first, again)
    labelled = ~np.isnan(y) & (domain < 0)
    plain = PW20Regressor(make_classifier("logreg", "regression", 0), random_state=0)
    plain.fit(X[labelled], y[labelled])  # no sample_domain: every labelled row is target
    assert plain.predict(X_test).shape == (len(X_test),)
    with pytest.raises(ConfigError, match="labelled target rows"):
        PW20Regressor(plain.regressor).fit(X[:1], y[labelled][:1])


def test_within_tolerance_is_pw20():
    y = np.array([10.0, 10.0, 10.0, 10.0])
    assert within_tolerance(y, np.array([8.0, 12.0, 7.9, 12.1])).tolist() == [
        True, True, False, False]
