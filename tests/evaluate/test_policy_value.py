"""Policy values by IPW and DR cover the true values of simulated trials."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.bench.effect_simulation import mean_outcome, population_value, simulate_trial
from medtransfer.errors import DataError
from medtransfer.evaluate.policy_value import policy_values, propensity_scores
from medtransfer.params import ParameterError

COVARIATES = [f"x{i}" for i in range(5)]
POLICIES = {"policy": lambda X: X[:, 1] > 1, "treat_all": lambda X: np.ones(len(X)),
            "treat_none": lambda X: np.zeros(len(X))}


def _estimate(domain, propensity, models: str, seed: int) -> dict:
    X = domain.inputs[COVARIATES].to_numpy()
    t = domain.inputs["treated"].to_numpy()
    e, _ = propensity_scores(t, X, propensity=propensity)
    if models == "true":
        mu0, mu1 = mean_outcome(X, np.zeros(len(X))), mean_outcome(X, np.ones(len(X)))
    else:  # outcome models that know nothing: DR must lean on the propensities
        mu0 = mu1 = np.full(len(X), domain.labels.mean())
    return policy_values(domain.labels, t, POLICIES["policy"](X), mu0, mu1, e,
                         n_resamples=300, random_state=seed)


def _coverage(role: str, propensity, models: str, shift: float, reps: int = 60) -> dict:
    truth = {name: population_value(rule, shift=shift) for name, rule in POLICIES.items()}
    truth["policy - treat_all"] = truth["policy"] - truth["treat_all"]
    truth["policy - treat_none"] = truth["policy"] - truth["treat_none"]
    hits, widths = {}, {}
    for seed in range(reps):
        trial = simulate_trial(400, 400, random_state=seed)
        result = _estimate(getattr(trial, role), propensity, models, seed)
        for name, per in {**result["values"], **result["differences"]}.items():
            for est, ci in per.items():
                hits.setdefault((name, est), []).append(ci["low"] <= truth[name] <= ci["high"])
                widths.setdefault((name, est), []).append(ci["high"] - ci["low"])
    return {key: (np.mean(h), np.mean(widths[key])) for key, h in hits.items()}


@pytest.mark.parametrize(("propensity", "models"), [(0.5, "true"), ("share", "constant")])
def test_randomised_target_values_cover_the_truth(propensity, models):
    coverage = _coverage("target", propensity, models, shift=1.0)
    for key, (covered, _) in coverage.items():
        assert covered >= 0.85, (key, covered)
    assert np.mean([covered for covered, _ in coverage.values()]) >= 0.9
    if models == "true":  # right outcome models: DR's differences are far tighter than IPW's
        for name in ("policy - treat_all", "policy - treat_none"):
            assert coverage[(name, "dr")][1] < 0.75 * coverage[(name, "ipw")][1]


def test_confounded_source_values_cover_the_truth_with_a_logistic_propensity():
    # the source's treatment depends on x1 (P = expit(0.8 x1)) and so does the policy: the
    # treated share 0.5 would weight the wrong patients, the logistic model corrects it
    coverage = _coverage("source", "logistic", "constant", shift=0.0, reps=40)
    for key, (covered, _) in coverage.items():
        assert covered >= 0.85, (key, covered)
    assert np.mean([covered for covered, _ in coverage.values()]) >= 0.9
    naive = _coverage("source", "share", "constant", shift=0.0, reps=20)
    assert np.mean([covered for covered, _ in naive.values()]) < 0.8


def test_values_are_the_textbook_formulas_and_bad_input_is_refused():
    y = np.array([1.0, 3.0, 2.0, 6.0])
    t = np.array([1, 0, 1, 0])
    d = np.array([1, 1, 0, 0])
    mu0, mu1 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 2.0, 2.0])
    e = np.full(4, 0.5)
    result = policy_values(y, t, d, mu0, mu1, e, n_resamples=50)
    # IPW: matching rows 0 (treated, y=1) and 3 (control, y=6), equal weights
    assert result["values"]["policy"]["ipw"]["value"] == pytest.approx(3.5)
    # DR: mean of mu_d + 2 * match * (y - mu_d) = [2 - 2, 2, 3, 4 + 4] / 4
    assert result["values"]["policy"]["dr"]["value"] == pytest.approx((0 + 2 + 3 + 8) / 4)
    assert result["values"]["treat_all"]["ipw"]["value"] == pytest.approx(1.5)
    diff = result["differences"]["policy - treat_all"]["dr"]
    assert diff["value"] == pytest.approx(result["values"]["policy"]["dr"]["value"]
                                          - result["values"]["treat_all"]["dr"]["value"])
    clipped = policy_values(y, t, d, mu0, mu1, np.array([0.5, 0.5, 0.001, 0.999]),
                            n_resamples=10)
    assert clipped["n_clipped"] == 2
    with pytest.raises(DataError, match=r"policy must be 1 \(treated\) or 0"):
        policy_values(y, t, np.array([1, 2, 0, 0]), mu0, mu1, e)
    with pytest.raises(DataError, match=r"got lengths \[3, 4, 4, 4, 4, 4\]"):
        policy_values(y[:3], t, d, mu0, mu1, e)
    with pytest.raises(ParameterError, match=r"propensity=1\.5"):
        propensity_scores(t, propensity=1.5)
    with pytest.raises(DataError, match="needs the covariates"):
        propensity_scores(t)
