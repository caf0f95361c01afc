"""TLearner: a known treatment effect recovered across a domain shift, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from medtransfer.adapt.baselines import SourceOnly
from medtransfer.errors import ConfigError, DataError
from medtransfer.models.effects import TLearner
from medtransfer.models.transfer_regression import TransferRidge

D = 5


def trial(seed: int = 0, n_s: int = 2000, n_t: int = 1000, k: int = 120):
    """Source effect 2 + x0; target shifted features, outcome level +3 and effect 1 + x0.

    Returns the stacked training set (k labelled target rows, the rest unlabelled with
    unknown treatment), the target test features and their true effect.
    """
    rng = np.random.default_rng(seed)
    w = rng.normal(size=D)
    Xs, Xt = rng.normal(size=(n_s, D)), rng.normal(0.5, 1.2, size=(n_t, D))
    Ts, Tt = rng.integers(0, 2, n_s), rng.integers(0, 2, n_t)
    ys = Xs @ w + Ts * (2 + Xs[:, 0]) + rng.normal(0, 0.5, n_s)
    yt = Xt @ w + 3 + Tt * (1 + Xt[:, 0]) + rng.normal(0, 0.5, n_t)
    X = np.vstack([Xs, Xt])
    y = np.r_[ys, yt[:k], np.full(n_t - k, np.nan)]
    treatment = np.r_[Ts, Tt[:k], np.full(n_t - k, np.nan)].astype(float)
    domain = np.r_[np.ones(n_s), -2 * np.ones(n_t)].astype(int)
    return X, y, treatment, domain, Xt[k:], 1 + Xt[k:, 0]


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_transferred_t_learner_recovers_the_target_effect():
    X, y, treatment, domain, X_test, tau = trial()
    transferred = TLearner(TransferRidge()).fit(X, y, treatment=treatment, sample_domain=domain)
    source = TLearner(SourceOnly(Ridge(alpha=1e-6))).fit(X, y, treatment=treatment,
                                                        sample_domain=domain)
    assert rmse(transferred.predict(X_test), tau) < 0.25
    assert rmse(source.predict(X_test), tau) > 0.9  # the source's effect is 1 larger
    mu0, mu1 = transferred.predict_outcomes(X_test)
    np.testing.assert_allclose(mu1 - mu0, transferred.predict(X_test))
    n_target = transferred.n_rows_["treated"]["target"] + transferred.n_rows_["control"]["target"]
    assert n_target == 120


def test_plain_regressor_without_domains_is_the_classic_t_learner():
    X, y, treatment, _, _, _ = trial(1)
    labelled = ~np.isnan(y)
    model = TLearner(LinearRegression()).fit(X[labelled], y[labelled],
                                             treatment=treatment[labelled])
    source = slice(0, 2000)
    by_hand = [LinearRegression().fit(X[source][treatment[source] == t], y[source][
        treatment[source] == t]) for t in (0, 1)]
    assert model.n_rows_["treated"]["all"] + model.n_rows_["control"]["all"] == labelled.sum()
    # The 120 target rows pull the fit only slightly; the effect's slope on x0 stays near 1.
    assert model.treated_model_.coef_[0] - model.control_model_.coef_[0] == pytest.approx(
        by_hand[1].coef_[0] - by_hand[0].coef_[0], abs=0.2)


def test_binary_outcome_gives_a_risk_difference():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6000, 2))
    T = rng.integers(0, 2, 6000)
    logit = -0.5 + X[:, 0] + 1.0 * T
    y = (rng.random(6000) < 1 / (1 + np.exp(-logit))).astype(int)
    model = TLearner(LogisticRegression()).fit(X, y, treatment=T)
    truth = 1 / (1 + np.exp(0.5 - X[:, 0] - 1.0)) - 1 / (1 + np.exp(0.5 - X[:, 0]))
    assert np.mean(model.predict(X)) == pytest.approx(truth.mean(), abs=0.03)
    assert model.predict(X).max() <= 1


def test_contract_and_bad_input():
    X, y, treatment, domain, X_test, _ = trial(3, n_s=300, n_t=200, k=40)
    model = TLearner(TransferRidge(lam=10.0))
    copy = clone(model)
    assert copy.get_params()["estimator__lam"] == 10.0 and not hasattr(copy, "treated_model_")
    first = copy.fit(X, y, treatment=treatment, sample_domain=domain).predict(X_test)
    again = clone(model).fit(X, y, treatment=treatment, sample_domain=domain).predict(X_test)
    np.testing.assert_array_equal(first, again)
    bad = treatment.copy()
    bad[0] = 2
    with pytest.raises(DataError, match=r"not 0 \(control\) or 1"):
        model.fit(X, y, treatment=bad, sample_domain=domain)
    bad[0] = np.nan
    with pytest.raises(DataError, match=r"labelled row\(s\) have no treatment"):
        model.fit(X, y, treatment=bad, sample_domain=domain)
    with pytest.raises(ConfigError, match="treated arm has no labelled rows"):
        model.fit(X, y, treatment=np.where(np.isnan(treatment), np.nan, 0.0),
                  sample_domain=domain)
    with pytest.raises(ConfigError, match="response="):
        TLearner(Ridge(), response="median").fit(X, y, treatment=treatment)
