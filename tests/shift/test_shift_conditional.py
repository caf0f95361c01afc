"""Per-class MMD: shift within one class, none within the other."""

import numpy as np

from medtransfer.errors import DataError
from medtransfer.shift.conditional import per_class_shift


def test_per_class_shift_finds_the_shifted_class_only():
    rng = np.random.default_rng(0)
    ys, yt = np.repeat([0, 1], 40), np.repeat([0, 1], 40)
    Xs = rng.normal(size=(80, 2)) + 3 * ys[:, None]
    Xt = rng.normal(size=(80, 2)) + 3 * yt[:, None] + np.where(yt == 0, 1.5, 0.0)[:, None]
    rows = per_class_shift(Xs, ys, Xt, yt, class_names=("healthy", "sick"), n_permutations=100)
    by = {r["class"]: r for r in rows}
    assert by["healthy"]["q_value"] < 0.05 and by["sick"]["q_value"] > 0.05


def test_rare_classes_and_unlabelled_rows_are_left_out_with_a_note():
    rng = np.random.default_rng(1)
    ys = np.r_[np.zeros(20, int), np.ones(3, int)]
    yt = np.r_[np.zeros(20, int), -np.ones(5, int)]
    rows = per_class_shift(rng.normal(size=(23, 2)), ys, rng.normal(size=(25, 2)), yt,
                           n_permutations=20)
    assert [r["class"] for r in rows] == ["0", "1"]
    assert rows[1]["p_value"] is None and "at least 5 samples" in rows[1]["note"]
    assert rows[0]["q_value"] == rows[0]["p_value"]


def test_per_class_needs_class_labels():
    X = np.zeros((10, 2))
    import pytest
    with pytest.raises(DataError, match=r"per-class shift \(target\): labels are continuous"):
        per_class_shift(X, np.zeros(10), X, np.linspace(0, 1, 10))
