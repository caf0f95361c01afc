"""adapted_features / transform_domains: what each method's final predictor sees, on real data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt import METHODS, AdaptedEstimator, adapted_features
from medtransfer.adapt.harmonize import SiteStandardized
from medtransfer.datasets import heart_disease
from medtransfer.errors import DataError
from medtransfer.features import featurize_pair

N_LABELLED = 10
MAPPED = {"coral", "subspace_alignment", "ot_exact", "ot_entropic", "ot_linear", "tca", "jda",
          "mapping_network", "site_standardize", "combat"}
REWEIGHTED = {"kmm", "kliep", "density_ratio"}
CLASSIFICATION = [n for n, m in METHODS.items() if "classification" in m.tasks and n != "auto"]


class Recorder(LogisticRegression):
    """Logistic regression that keeps the rows and weights it was fitted on."""

    def fit(self, X, y, sample_weight=None):
        self.fit_X_ = np.array(X)
        self.fit_weight_ = None if sample_weight is None else np.array(sample_weight)
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture(scope="module")
def heart():
    """Encoded Cleveland (source) and Hungary (target, 10 labels) stacked as a method sees them."""
    source, target = heart_disease("Cleveland"), heart_disease("Hungary")
    Xs, Xt, _ = featurize_pair(source, target)
    keep = source.labelled_mask
    X = np.vstack([Xs[keep], Xt])
    domain = np.r_[np.ones(keep.sum(), int), np.full(len(Xt), -2)]
    y_source = (source.labels[keep] > 0).astype(int)
    y_target = np.full(len(Xt), -1)
    labelled = np.random.default_rng(0).choice(len(Xt), N_LABELLED, replace=False)
    y_target[labelled] = (target.labels[labelled] > 0).astype(int)
    return X, np.r_[y_source, y_target], domain


def fit(name: str, X, y, domain, estimator=None):
    model = METHODS.get(name).build(estimator or Recorder(max_iter=2000), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, sample_domain=domain)


# Over 0.7 s each on 2 cores (a torch network, boosting, kernel iterations, a QP): full suite.
SLOW = {"mapping_network", "tradaboost", "jda", "adaptive_svm"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in CLASSIFICATION])
def test_adapted_features_are_what_the_final_predictor_learnt_from(heart, name):
    X, y, domain = heart
    model = fit(name, X, y, domain)
    view = adapted_features(model, X, domain, fitted_rows=True)
    expected = "mapped" if name in MAPPED else "reweighted" if name in REWEIGHTED else "unchanged"
    assert view.effect == expected
    if expected == "unchanged":
        np.testing.assert_array_equal(view.features, X)
        assert view.weight is None and view.same_space
        return
    assert isinstance(model, AdaptedEstimator)
    labelled = y != -1
    np.testing.assert_allclose(view.features[labelled], model.estimator_.fit_X_, atol=1e-10)
    if expected == "reweighted":
        np.testing.assert_array_equal(view.features, X)
        np.testing.assert_allclose(view.weight[labelled], model.estimator_.fit_weight_)
        assert view.weight[domain > 0].std() > 0 and np.all(view.weight[domain < 0] == 1)
    else:
        assert view.weight is None
        assert view.same_space == (name not in {"subspace_alignment", "tca", "jda"})
    # the target rows are mapped exactly as at prediction
    np.testing.assert_allclose(view.features[domain < 0], model.transform_target(X[domain < 0]))


def test_coral_brings_the_source_covariance_to_the_targets(heart):
    X, y, domain = heart
    model = fit("coral", X, y, domain)
    after = adapted_features(model, X, domain).features
    before = model.scaler_.transform(X)  # CORAL works on standardised features

    def gap(Z):
        return np.linalg.norm(np.cov(Z[domain > 0].T) - np.cov(Z[domain < 0].T))

    assert gap(after) < 0.8 * gap(before)
    # each domain is centred; only the source is re-coloured
    target = before[domain < 0]
    np.testing.assert_allclose(after[domain < 0], target - target.mean(axis=0), atol=1e-10)


def test_site_standardisation_maps_each_source_site_with_its_own_statistics(heart):
    X, y, domain = heart
    sites = np.where((np.arange(len(X)) % 2 == 0) & (domain > 0), 1, domain)
    sites = np.where((np.arange(len(X)) % 2 == 1) & (domain > 0), 3, sites)
    model = fit("site_standardize", X, y, sites)
    after = model.transform_domains(X, sites)
    for code in (1, 3, -2):
        np.testing.assert_allclose(after[sites == code].mean(axis=0), 0, atol=1e-10)
    with pytest.raises(DataError, match=r"source domain code 5 was not seen at fit"):
        model.transform_domains(X[:3], [5, 5, 5])
    assert isinstance(model, SiteStandardized)


def test_auto_is_looked_through_to_the_method_it_chose(heart):
    # imported here: importing medtransfer.select registers "auto", which would change the
    # methods other modules of this folder parametrise over at collection
    from medtransfer.select.auto import AutoTransfer

    X, y, domain = heart
    auto = AutoTransfer(Recorder(max_iter=2000), candidates=["coral"], n_repeats=1,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto.fit(X, y, sample_domain=domain)
    view = adapted_features(auto, X, domain)
    chosen = adapted_features(auto.estimator_, X, domain)
    assert view.effect == chosen.effect == ("mapped" if auto.choice_ == "coral" else "unchanged")
    np.testing.assert_array_equal(view.features, chosen.features)


def test_weights_need_the_rows_fit_saw_and_codes_are_checked(heart):
    X, y, domain = heart
    model = fit("density_ratio", X, y, domain)
    assert adapted_features(model, X, domain).weight is None  # not declared as the fitted rows
    with pytest.raises(DataError, match=r"fitted on \d+ source rows but sample_domain marks 3"):
        adapted_features(model, X[-6:], [1, 1, 1, -2, -2, -2], fitted_rows=True)
    with pytest.raises(DataError, match=r"sample_domain contains 0"):
        adapted_features(model, X[:2], [1, 0])
    with pytest.raises(DataError, match=r"X has 2 rows but sample_domain has shape \(3,\)"):
        adapted_features(model, X[:2], [1, 1, -2])
