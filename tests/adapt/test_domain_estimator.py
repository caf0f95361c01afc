"""Input checks shared by every transfer method: each message names the fault and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.adapt import METHODS
from medtransfer.adapt.domain_estimator import check_domain_inputs
from medtransfer.errors import ConfigError, DataError
from medtransfer.models.classifiers import make_classifier

X = np.arange(20.0).reshape(10, 2)
Y = np.array([0, 1, 0, 1, 0, 1, -1, -1, -1, -1])
DOMAIN = np.r_[np.ones(6), -np.ones(4)]


def test_missing_values_are_located():
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match=r"row 3, column 1.*TabularEncoder"):
        check_domain_inputs(bad, Y, DOMAIN)


def test_lengths_must_agree():
    with pytest.raises(DataError, match="X has 10 rows but y has 9 and sample_domain 10"):
        check_domain_inputs(X, Y[:9], DOMAIN)


def test_zero_domain_code_is_rejected():
    with pytest.raises(DataError, match="sample_domain contains 0"):
        check_domain_inputs(X, Y, np.r_[np.zeros(1), DOMAIN[1:]])


def test_target_rows_are_required():
    with pytest.raises(DataError, match="got 6 labelled source and 0 target rows"):
        check_domain_inputs(X[:6], Y[:6], DOMAIN[:6])


def test_one_dimensional_features_are_rejected():
    with pytest.raises(DataError, match=r"2-D array.*got shape \(10,\)"):
        check_domain_inputs(X[:, 0], Y, DOMAIN)


@pytest.mark.parametrize("name", ["adaptive_svm", "adaptive_logreg"])
def test_parameter_transfer_needs_target_labels(name):
    model = METHODS.get(name).build(make_classifier("logreg"), 0)
    with pytest.raises(ConfigError, match="needs labelled target rows"):
        model.fit(X, Y, sample_domain=DOMAIN)


def test_unknown_label_shift_estimator_is_explained():
    model = METHODS.get("label_shift").build(make_classifier("logreg"), 0)
    with pytest.raises(ConfigError, match=r"Corrector\(method='ml'\): expected one of 'em'"):
        model.set_params(method="ml").fit(X, Y, sample_domain=DOMAIN)


def test_unknown_parameter_transfer_model_is_explained():
    model = METHODS.get("adaptive_svm").build(make_classifier("logreg"), 0)
    with pytest.raises(ConfigError, match=r"\(model='tree'\): expected one of 'svm', 'logreg'"):
        model.set_params(model="tree").fit(X, Y, sample_domain=DOMAIN)
