"""TransferRidge (closed form, λ choice) and two-stage TrAdaBoost.R2 on generated shifts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from medtransfer.adapt.base import get_method
from medtransfer.errors import ConfigError, DataError
from medtransfer.models.transfer_regression import TrAdaBoostR2, TransferRidge, weighted_median

N_SOURCE, N_TARGET, D = 300, 200, 12


def shifted(seed: int = 0, k: int = 15):
    """Source y = Xw, target y = X(w + δ) + 3: related but not equal. Returns fit + test data."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=D)
    Xs, Xt = rng.normal(size=(N_SOURCE, D)), rng.normal(0.3, 1.0, size=(N_TARGET, D))
    ys = Xs @ w + rng.normal(0, 0.3, N_SOURCE)
    yt = Xt @ (w + rng.normal(0, 0.3, D)) + 3 + rng.normal(0, 0.5, N_TARGET)
    X = np.vstack([Xs, Xt])
    y = np.concatenate([ys, yt[:k], np.full(N_TARGET - k, np.nan)])
    domain = np.r_[np.ones(N_SOURCE), -2 * np.ones(N_TARGET)].astype(int)
    return X, y, domain, Xt[k:], yt[k:]


def closed_form(X, y, domain, lam):
    """argmin ‖y_t - X_t w - b‖² + λ‖w - w_s‖² with free b, solved by normal equations."""
    source, target = (domain > 0) & ~np.isnan(y), (domain < 0) & ~np.isnan(y)
    mean, scale = X[source].mean(0), X[source].std(0)
    Z = (X - mean) / scale
    w_s = Ridge(alpha=1.0).fit(Z[source], y[source]).coef_
    Zc = Z[target] - Z[target].mean(0)
    yc = y[target] - y[target].mean()
    w = np.linalg.solve(Zc.T @ Zc + lam * np.eye(X.shape[1]), Zc.T @ yc + lam * w_s)
    return w, y[target].mean() - Z[target].mean(0) @ w, w_s


def test_transfer_ridge_is_the_closed_form():
    X, y, domain, _, _ = shifted()
    model = TransferRidge(lam=7.0).fit(X, y, sample_domain=domain)
    w, b, w_s = closed_form(X, y, domain, 7.0)
    np.testing.assert_allclose(model.coef_, w, atol=1e-8)
    assert model.intercept_ == pytest.approx(b)
    far = TransferRidge(lam=1e12).fit(X, y, sample_domain=domain)
    np.testing.assert_allclose(far.coef_, w_s, atol=1e-6)  # λ → ∞ keeps the source slopes


def test_transfer_ridge_beats_both_baselines_with_few_target_labels():
    errors = {"transfer": [], "source": [], "target": []}
    for seed in range(5):
        X, y, domain, X_test, y_test = shifted(seed)
        source, target = domain > 0, (domain < 0) & ~np.isnan(y)
        fits = {"transfer": TransferRidge().fit(X, y, sample_domain=domain),
                "source": Ridge().fit(X[source], y[source]),
                "target": Ridge().fit(X[target], y[target])}
        for name, model in fits.items():
            errors[name].append(np.mean(np.abs(model.predict(X_test) - y_test)))
    mean = {name: np.mean(e) for name, e in errors.items()}
    assert mean["transfer"] < 0.9 * min(mean["source"], mean["target"]), mean


def test_lambda_is_chosen_from_the_grid_and_unlabelled_rows_are_ignored():
    X, y, domain, _, _ = shifted(k=40)
    model = TransferRidge(lambdas=(0.5, 5.0, 50.0)).fit(X, y, sample_domain=domain)
    assert model.lambda_ in (0.5, 5.0, 50.0)
    labelled = ~np.isnan(y)
    again = TransferRidge(lambdas=(0.5, 5.0, 50.0)).fit(
        X[labelled], y[labelled], sample_domain=domain[labelled])
    np.testing.assert_allclose(again.coef_, model.coef_)
    X2, y2, d2, _, _ = shifted(k=2)
    assert TransferRidge().fit(X2, y2, sample_domain=d2).lambda_ == 1e4  # too few to CV


def test_regression_input_errors():
    X, y, domain, _, _ = shifted()
    with pytest.raises(DataError, match=r"transfer_ridge: the regression target y holds non-num"):
        TransferRidge().fit(X, np.array(["a"] * len(y), dtype=object), sample_domain=domain)
    with pytest.raises(DataError, match=r"X has 500 rows, y 499 and sample_domain 500"):
        TransferRidge().fit(X, y[:-1], sample_domain=domain)
    no_target = np.where(domain < 0, np.nan, y)
    with pytest.raises(ConfigError, match=r"at least 1 labelled target row\(s\).*got 300 and 0"):
        TransferRidge().fit(X, no_target, sample_domain=domain)
    with pytest.raises(ConfigError, match=r"tradaboost_r2 needs .* at least 2 labelled target"):
        TrAdaBoostR2().fit(*shifted(k=1)[:2], sample_domain=domain)
    with pytest.raises(ConfigError, match=r"TrAdaBoostR2\(n_steps=1\): expected an integer >= 2"):
        TrAdaBoostR2(n_steps=1).fit(X, y, sample_domain=domain)


def test_weighted_median():
    predictions = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0]])
    np.testing.assert_allclose(weighted_median(predictions, np.ones(3)), [2.0, 20.0])
    np.testing.assert_allclose(weighted_median(predictions, np.array([0.1, 0.1, 5.0])),
                               [3.0, 20.0])


def mixed_source(seed: int = 0, k: int = 20):
    """300 source rows follow the target's rule, 100 are offset by +4 (another population)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(400 + 200, 2))
    rule = 2 * X[:, 0] + np.sin(2 * X[:, 1])
    y = rule + rng.normal(0, 0.1, len(X))
    y[300:400] += 4
    y_fit = y.copy()
    y_fit[400 + k:] = np.nan
    domain = np.r_[np.ones(400), -np.ones(200)].astype(int)
    return X, y_fit, domain, X[400 + k:], y[400 + k:]


@pytest.mark.slow
def test_tradaboost_fades_out_the_unrelated_source_and_beats_source_only():
    X, y, domain, X_test, y_test = mixed_source()
    model = TrAdaBoostR2(n_steps=6, n_estimators=5, n_folds=3, random_state=0)
    model.fit(X, y, sample_domain=domain)
    weights = model.sample_weight_
    assert weights[:300].mean() > 1.3 * weights[300:400].mean()
    assert model.step_errors_.shape == (6,) and model.best_step_ > 0
    assert model.source_weight_ == pytest.approx(weights[:400].sum())
    source_only = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X[:400], y[:400])
    boosted = np.mean(np.abs(model.predict(X_test) - y_test))
    assert boosted < 0.85 * np.mean(np.abs(source_only.predict(X_test) - y_test))
    again = TrAdaBoostR2(n_steps=6, n_estimators=5, n_folds=3, random_state=0)
    np.testing.assert_array_equal(again.fit(X, y, sample_domain=domain).predict(X_test),
                                  model.predict(X_test))


def test_registered_methods_build_and_declare_their_needs():
    for name in ("transfer_ridge", "tradaboost_r2"):
        method = get_method(name, "regression", n_labelled_target=5)
        assert method.needs_target_labels and method.tasks == ("regression",)
        with pytest.raises(ConfigError, match=rf"method '{name}' needs labelled target"):
            get_method(name, "regression", n_labelled_target=0)
        with pytest.raises(ConfigError, match=rf"method '{name}' does not support classif"):
            get_method(name, "classification", n_labelled_target=5)
    booster = get_method("tradaboost_r2", "regression", 5).build(Ridge(), 3)
    assert isinstance(booster, TrAdaBoostR2) and booster.random_state == 3
    X, y, domain, X_test, y_test = shifted(k=30)
    booster.set_params(n_steps=3, n_estimators=3).fit(X, y, sample_domain=domain)
    assert np.corrcoef(booster.predict(X_test), y_test)[0, 1] > 0.9
