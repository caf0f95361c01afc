import numpy as np
import pytest

from medtransfer.adapt import METHODS, get_method
from medtransfer.adapt.baselines import Pooled
from medtransfer.data.sample_domain import SOURCE, TARGET
from medtransfer.errors import ConfigError
from medtransfer.models import make_classifier


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(80, 2))
    Xt = rng.normal(size=(40, 2)) + np.array([0.0, 2.0])
    ys = (Xs[:, 0] > 0).astype(int)
    yt = (Xt[:, 1] > 2).astype(int)  # the target's label depends on another feature
    y = np.r_[ys, np.full(40, -1)]
    y[80:90] = yt[:10]
    sd = np.r_[np.full(80, SOURCE), np.full(40, TARGET)]
    return np.vstack([Xs, Xt]), y, sd, yt


@pytest.mark.parametrize("name, rows", [("source_only", 80), ("target_only", 10), ("pooled", 90)])
def test_baselines_learn_from_the_rows_they_claim(name, rows):
    X, y, sd, _ = _problem()
    model = get_method(name, n_labelled_target=10).build(make_classifier("logreg"), 0)
    assert model.fit(X, y, sample_domain=sd).n_train_ == rows


def test_target_only_beats_source_only_when_the_concept_differs():
    X, y, sd, yt = _problem()
    accuracy = {}
    for name in ("source_only", "target_only"):
        model = get_method(name, n_labelled_target=10).build(make_classifier("logreg"), 0)
        accuracy[name] = np.mean(model.fit(X, y, sample_domain=sd).predict(X[90:]) == yt[10:])
    assert accuracy["target_only"] > accuracy["source_only"] + 0.2


def test_pooled_gives_the_target_half_the_weight():
    _, y, sd, _ = _problem()
    model = METHODS.get("pooled").build(make_classifier("logreg"), 0)
    rows, weight = model._rows(y, sd)
    target = sd[rows] < 0
    assert np.isclose(weight[target].sum(), weight[~target].sum())


def test_methods_needing_labels_refuse_k_zero():
    with pytest.raises(ConfigError, match="'target_only' needs labelled target samples"):
        get_method("target_only", n_labelled_target=0)


def test_pooled_without_a_share_counts_every_labelled_row_once():
    X, y, sd, _ = _problem()
    unweighted = Pooled(make_classifier("logreg"), target_share=None)
    rows, weight = unweighted._rows(y, sd)
    assert weight is None and rows.sum() == 90
    plain = make_classifier("logreg").fit(X[rows], y[rows])
    np.testing.assert_allclose(unweighted.fit(X, y, sample_domain=sd).predict_proba(X[90:]),
                               plain.predict_proba(X[90:]))
