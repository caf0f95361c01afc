"""BBSE label-shift estimation on data with a known target prevalence."""

import numpy as np
import pytest

from medtransfer.errors import DataError
from medtransfer.shift.label_shift import bbse_weights, label_shift_estimate


def label_shifted(n_source=400, n_target=400, target_prior=0.8, seed=0):
    """Same p(x | y) in both domains (two Gaussians), different p(y)."""
    rng = np.random.default_rng(seed)
    ys = rng.binomial(1, 0.5, n_source)
    yt = rng.binomial(1, target_prior, n_target)
    draw = lambda y: rng.normal(size=(len(y), 2)) + 1.5 * y[:, None]  # noqa: E731
    return draw(ys), ys, draw(yt), yt


def test_bbse_weights_solve_the_confusion_system():
    confusion = np.array([[0.4, 0.1], [0.1, 0.4]])
    w_true = np.array([0.4, 1.6])
    assert bbse_weights(confusion, confusion @ w_true) == pytest.approx(w_true)


def test_bbse_recovers_the_target_prevalence_without_target_labels():
    Xs, ys, Xt, yt = label_shifted(target_prior=0.8)
    result = label_shift_estimate(Xs, ys, Xt, random_state=0)
    assert result["target_prevalence_estimate"][1] == pytest.approx(yt.mean(), abs=0.06)
    assert result["source_prevalence"][1] == pytest.approx(ys.mean())
    assert result["target_prevalence_observed"] is None
    assert np.sum(result["confusion"]) == pytest.approx(1.0)


def test_no_label_shift_gives_the_source_prevalence_and_reports_observed():
    Xs, ys, Xt, yt = label_shifted(target_prior=0.5, seed=1)
    result = label_shift_estimate(Xs, ys, Xt, yt=np.where(np.arange(len(yt)) < 50, -1, yt))
    assert result["target_prevalence_estimate"][1] == pytest.approx(0.5, abs=0.07)
    assert result["target_prevalence_observed"][1] == pytest.approx(yt[50:].mean())
    assert result["weights"] == pytest.approx([1.0, 1.0], abs=0.15)


def test_label_shift_rejects_unusable_labels():
    Xs, ys, Xt, _ = label_shifted(n_source=40, n_target=20)
    with pytest.raises(DataError, match=r"labels are continuous.*regression"):
        label_shift_estimate(Xs, ys + 0.5, Xt)
    with pytest.raises(DataError, match=r"class counts \[40\]; every class"):
        label_shift_estimate(Xs, np.zeros(40, int), Xt)
    with pytest.raises(DataError, match=r"class counts \[1, 1\]; every class"):
        label_shift_estimate(Xs, np.r_[0, 1, -np.ones(38, int)], Xt)
    with pytest.raises(DataError, match="39 labels for 40 rows"):
        label_shift_estimate(Xs, ys[:-1], Xt)
