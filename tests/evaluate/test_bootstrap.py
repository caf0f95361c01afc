"""Bootstrap intervals: coverage of the estimate, width, seeding and patient-level resampling."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.bootstrap import bootstrap_indices, evaluate_predictions
from medtransfer.evaluate.metrics import classification_metrics


def simulated(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a moderately informative probability (AUROC about 0.8)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.3 * (2 * y - 1))))
    return y, p


def test_intervals_contain_the_estimate_and_shrink_with_n() -> None:
    widths = {}
    for n in (100, 1600):
        y, p = simulated(n)
        res = evaluate_predictions(y, p, class_names=["neg", "pos"], n_resamples=200)
        point = classification_metrics(y, p, class_names=["neg", "pos"])
        assert set(res) == set(point)
        for name, ci in res.items():
            assert ci["value"] == pytest.approx(point[name])
            assert ci["low"] <= ci["value"] <= ci["high"], name
        widths[n] = {k: v["high"] - v["low"] for k, v in res.items()}
    for name in widths[100]:
        # 16x the cases: about a quarter of the width; allow generous slack
        assert widths[1600][name] < 0.5 * widths[100][name], name


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    y, p = simulated(150)
    a = evaluate_predictions(y, p, class_names=["n", "p"], n_resamples=100, random_state=7)
    b = evaluate_predictions(y, p, class_names=["n", "p"], n_resamples=100, random_state=7)
    c = evaluate_predictions(y, p, class_names=["n", "p"], n_resamples=100, random_state=8)
    assert a == b
    assert a["auroc"]["low"] != c["auroc"]["low"]


def test_stratified_resamples_keep_class_sizes() -> None:
    y = np.array([0] * 30 + [1] * 7)
    for idx in bootstrap_indices(y, n_resamples=20, random_state=1):
        assert np.bincount(y[idx]).tolist() == [30, 7]


def test_grouped_bootstrap_resamples_whole_patients() -> None:
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(40), rng.integers(1, 5, 40))
    y = (patients % 3 == 0).astype(int)
    for idx in bootstrap_indices(y, groups=patients, n_resamples=30, random_state=2):
        drawn, times = np.unique(patients[idx], return_counts=True)
        for pid, t in zip(drawn, times, strict=True):
            size = np.sum(patients == pid)
            assert t % size == 0  # every draw of a patient brings all of that patient's cases
        # stratified by patient: the number of diseased patients drawn is fixed
        n_sick = sum(t // np.sum(patients == pid) for pid, t in zip(drawn, times, strict=True)
                     if pid % 3 == 0)
        assert n_sick == len(np.unique(patients[y == 1]))


def test_grouped_intervals_are_wider_when_cases_are_correlated() -> None:
    # 60 patients, each with 5 identical repeat scans: case-level resampling pretends 300
    # independent cases and must understate the uncertainty
    y0, p0 = simulated(60, seed=4)
    y, p, pid = np.repeat(y0, 5), np.repeat(p0, 5), np.repeat(np.arange(60), 5)
    kwargs = {"class_names": ["n", "p"], "n_resamples": 200}
    naive = evaluate_predictions(y, p, **kwargs)["auroc"]
    grouped = evaluate_predictions(y, p, groups=pid, **kwargs)["auroc"]
    assert grouped["high"] - grouped["low"] > 1.5 * (naive["high"] - naive["low"])


def test_multiclass_and_progress_bar() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 120)
    p = rng.dirichlet(np.ones(3), 120) + 2 * np.eye(3)[y]
    p /= p.sum(1, keepdims=True)
    res = evaluate_predictions(y, p, class_names="abc", n_resamples=30, progress=True)
    assert set(res) == {"auroc", "accuracy", "balanced_accuracy", "f1", "brier"}
    assert res["auroc"]["low"] > 0.6


def test_bad_arguments_are_named() -> None:
    y, p = simulated(20)
    with pytest.raises(ConfigError, match="n_resamples=0; use a positive number"):
        evaluate_predictions(y, p, class_names=["n", "p"], n_resamples=0)
    with pytest.raises(DataError, match="groups has 3 entries but there are 20 cases"):
        evaluate_predictions(y, p, class_names=["n", "p"], groups=[1, 2, 3], n_resamples=5)
