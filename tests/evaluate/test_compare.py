"""Paired comparison of two models on the same cases."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.errors import DataError
from medtransfer.evaluate.compare import compare_models, paired_p_value
from medtransfer.evaluate.delong import delong_test
from medtransfer.evaluate.metrics import classification_metrics


def paired_models(n: int = 300, gap: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    y = (rng.random(n) < 0.5).astype(int)
    noise = rng.normal(size=n)
    good = 1 / (1 + np.exp(-(noise + (0.8 + gap) * (2 * y - 1))))
    weak = 1 / (1 + np.exp(-(noise + 0.8 * (2 * y - 1) + rng.normal(size=n))))
    return y, good, weak


def test_better_model_wins_with_interval_excluding_zero() -> None:
    y, good, weak = paired_models()
    res = compare_models(y, good, weak, class_names=["n", "p"], n_resamples=200)
    auroc = res["auroc"]
    assert auroc["a"] == pytest.approx(classification_metrics(y, good, class_names="np")["auroc"])
    assert auroc["difference"] == pytest.approx(auroc["a"] - auroc["b"])
    assert 0 < auroc["low"] <= auroc["difference"] <= auroc["high"]
    assert auroc["p_value"] < 0.05
    assert auroc["delong_p"] == pytest.approx(delong_test(y, good, weak)["p_value"])
    assert auroc["delong_p"] < 0.05


def test_a_model_against_itself_shows_no_difference() -> None:
    y, good, _ = paired_models()
    res = compare_models(y, good, good, class_names=["n", "p"], n_resamples=50)
    for name, row in res.items():
        assert row["difference"] == 0.0 and row["low"] == 0.0 and row["high"] == 0.0, name
        assert row["p_value"] == 1.0


def test_paired_interval_is_narrower_than_unpaired_difference() -> None:
    # the pairing removes the shared noise: the paired interval must be tighter than the one
    # implied by two independent marginal intervals
    y, good, weak = paired_models(gap=0.2)
    res = compare_models(y, good, weak, class_names=["n", "p"], n_resamples=200, random_state=3)
    from medtransfer.evaluate.bootstrap import evaluate_predictions

    ea = evaluate_predictions(y, good, class_names="np", n_resamples=200, random_state=4)
    eb = evaluate_predictions(y, weak, class_names="np", n_resamples=200, random_state=5)
    unpaired = np.hypot(ea["brier"]["high"] - ea["brier"]["low"],
                        eb["brier"]["high"] - eb["brier"]["low"])
    assert res["brier"]["high"] - res["brier"]["low"] < unpaired


def test_p_value_never_zero_and_symmetric() -> None:
    assert paired_p_value(np.full(99, 0.3)) == pytest.approx(2 / 100)
    assert paired_p_value(np.full(99, -0.3)) == pytest.approx(2 / 100)
    assert np.isnan(paired_p_value(np.array([np.nan])))


def test_mismatched_models_are_named() -> None:
    y, good, _ = paired_models(n=20)
    with pytest.raises(DataError, match=r"shape \(19, 2\) but 20 labels"):
        compare_models(y, good, good[:19], class_names="np", n_resamples=5)
