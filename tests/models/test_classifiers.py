import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

from medtransfer.errors import ConfigError
from medtransfer.models import CLASSIFIERS, fit_weighted, make_classifier


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_every_classifier_fits_both_tasks_reproducibly(name):
    X, y = make_classification(
        n_samples=120, n_features=6, n_classes=3, n_informative=4, random_state=0
    )
    a = make_classifier(name, "classification", random_state=1).fit(X, y).predict_proba(X)
    b = make_classifier(name, "classification", random_state=1).fit(X, y).predict_proba(X)
    assert a.shape == (120, 3) and np.allclose(a, b)
    Xr, yr = make_regression(n_samples=120, n_features=6, noise=1.0, random_state=0)
    model = make_classifier(name, "regression", random_state=1).fit(Xr, yr)
    assert np.corrcoef(model.predict(Xr), yr)[0, 1] > 0.8


def test_sample_weights_reach_the_last_pipeline_step():
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    plain = make_classifier("logreg").fit(X, y).predict_proba(X)
    ones = fit_weighted(make_classifier("logreg"), X, y, np.ones(100)).predict_proba(X)
    half = fit_weighted(make_classifier("logreg"), X, y, (np.arange(100) < 50) + 1e-6)
    assert np.allclose(plain, ones)
    assert np.abs(half.predict_proba(X) - plain).max() > 0.05


def test_unknown_classifier_is_named():
    with pytest.raises(ConfigError, match=r"unknown classifier 'svn'.*Did you mean 'svm'"):
        make_classifier("svn")
