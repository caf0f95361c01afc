"""Self-training and label spreading: class-balanced pseudo-labels, stopping, bad input."""

import numpy as np
import pytest

from medtransfer.adapt.pseudo_label import SelfTraining, TargetLabelSpreading, confident_per_class
from medtransfer.errors import ConfigError
from medtransfer.models.classifiers import make_classifier


def shifted_blobs(seed=0):
    """Two classes; the target is the source moved and rescaled, 80% class 0."""
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, 2, 200)
    yt = (rng.random(150) < 0.2).astype(int)
    Xs = rng.normal(size=(200, 5)) + 2.5 * ys[:, None]
    Xt = 1.5 * (rng.normal(size=(150, 5)) + 2.5 * yt[:, None]) + 4
    y = np.r_[ys, np.full(150, -1)]
    return np.vstack([Xs, Xt]), y, np.r_[np.ones(200), -np.ones(150)].astype(int), yt


def test_each_predicted_class_keeps_its_own_most_confident_share():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.55, 0.45], [0.3, 0.7], [0.45, 0.55]])
    chosen = confident_per_class(proba, np.array([0, 1]), 0.5)
    # two of the four rows predicted 0 and one of the two predicted 1, the most confident
    np.testing.assert_array_equal(chosen, [0, 1, 4])


def test_self_training_settles_and_labels_the_shifted_target():
    X, y, sd, yt = shifted_blobs()
    model = SelfTraining(make_classifier("logreg", random_state=0), max_iter=10)
    model.fit(X, y, sample_domain=sd)
    shares = [h["share"] for h in model.history_]
    assert shares[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert model.n_iter_ < 10 and model.history_[-1]["changed"] == 0
    assert np.mean(model.predict(X[200:]) == yt) > 0.9


def test_label_spreading_keeps_most_seeds_and_predicts_the_target():
    X, y, sd, yt = shifted_blobs(1)
    model = TargetLabelSpreading(make_classifier("logreg", random_state=0))
    model.fit(X, y, sample_domain=sd)
    assert model.agreement_ > 0.8
    assert np.mean(model.predict(X[200:]) == yt) > 0.9


@pytest.mark.parametrize("cls", [SelfTraining, TargetLabelSpreading])
def test_regression_labels_and_a_bad_share_are_refused(cls):
    X, y, sd, _ = shifted_blobs()
    y_reg = np.where(y >= 0, y, np.nan).astype(float) + 0.5
    with pytest.raises(ConfigError, match="is for classification"):
        cls(make_classifier("logreg", "regression")).fit(X, y_reg, sample_domain=sd)
    with pytest.raises(ConfigError, match=r"\(target_share=1\.5\): expected a number in \(0, 1\)"):
        cls(make_classifier("logreg"), target_share=1.5).fit(X, y, sample_domain=sd)
