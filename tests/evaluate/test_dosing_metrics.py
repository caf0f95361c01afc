"""Dosing metrics (MAE, PW20, R²) with bootstrap intervals and group breakdowns."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, r2_score

from medtransfer.errors import DataError
from medtransfer.evaluate.dosing import dosing_breakdown, dosing_metrics, mae, pw20, r2


def doses(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.uniform(10, 70, n)
    return true, true * rng.normal(1.0, 0.25, n)


def test_point_metrics_by_hand_and_against_sklearn():
    true, pred = [10.0, 20.0, 40.0], [11.0, 30.0, 40.0]
    assert mae(true, pred) == pytest.approx(11 / 3)
    assert pw20(true, pred) == pytest.approx(2 / 3)
    assert pw20([10.0], [12.0]) == 1.0  # exactly 20% off counts as within
    true, pred = doses(200)
    assert mae(true, pred) == pytest.approx(mean_absolute_error(true, pred))
    assert r2(true, pred) == pytest.approx(r2_score(true, pred))


def test_bootstrap_intervals_are_seeded_and_cover_the_value():
    true, pred = doses(300)
    table = dosing_metrics(true, pred, n_bootstrap=300, random_state=1)
    assert list(table["metric"]) == ["mae", "pw20", "r2"]
    assert (table["ci_low"] <= table["value"]).all() and (table["value"] <= table["ci_high"]).all()
    assert (table["n"] == 300).all()
    again = dosing_metrics(true, pred, n_bootstrap=300, random_state=1)
    np.testing.assert_array_equal(table[["ci_low", "ci_high"]], again[["ci_low", "ci_high"]])
    other = dosing_metrics(true, pred, n_bootstrap=300, random_state=2)
    assert not np.array_equal(table["ci_low"], other["ci_low"])
    big = dosing_metrics(*doses(3000), n_bootstrap=300, random_state=1)
    width = (table["ci_high"] - table["ci_low"]).to_numpy()
    assert np.all((big["ci_high"] - big["ci_low"]).to_numpy() < width)


def test_breakdown_per_group_matches_the_subset():
    true, pred = doses(120, seed=3)
    sites = np.repeat(np.array([3, 4, 8], dtype=object), 40)
    table = dosing_breakdown(true, pred, sites, by="site", n_bootstrap=100)
    assert list(table.columns) == ["site", "metric", "value", "ci_low", "ci_high", "n"]
    assert set(table["site"]) == {"all", 3, 4, 8}
    row = table[(table.site == 4) & (table.metric == "pw20")].iloc[0]
    assert row["value"] == pytest.approx(pw20(true[40:80], pred[40:80])) and row["n"] == 40
    overall = table[table.site == "all"].reset_index(drop=True)
    expected = dosing_metrics(true, pred, n_bootstrap=100)
    np.testing.assert_allclose(overall["ci_low"], expected["ci_low"])


@pytest.mark.parametrize(
    ("true", "pred", "message"),
    [
        (["ten", "20"], [10.0, 20.0], r"y_true: non-numeric dose value\(s\)"),
        ([10.0, 20.0], [10.0, np.nan], r"y_pred: 1 missing or infinite value\(s\)"),
        ([10.0, 0.0], [10.0, 20.0], r"y_true: 1 dose\(s\) ≤ 0 mg/week"),
        ([10.0, 20.0], [10.0], r"y_true has 2 doses and y_pred 1"),
    ],
)
def test_bad_doses_are_rejected(true, pred, message):
    with pytest.raises(DataError, match=message):
        mae(true, pred)


def test_bad_groups_and_bootstrap_settings_are_rejected():
    true, pred = doses(10)
    with pytest.raises(DataError, match=r"groups has 3 entries for 10 patients"):
        dosing_breakdown(true, pred, [1, 2, 3])
    with pytest.raises(DataError, match=r"n_bootstrap=0, confidence=0.95: expected"):
        dosing_metrics(true, pred, n_bootstrap=0)


def test_an_outcome_that_is_not_a_positive_dose_is_scored_without_pw20():
    true = np.array([-1.0, 0.0, 0.5, 2.0, 3.0])
    pred = np.array([-0.5, 0.2, 0.4, 2.5, 2.0])
    table = dosing_metrics(true, pred, n_bootstrap=50, random_state=0, relative=False)
    assert list(table["metric"]) == ["mae", "r2"]
    mae_value = table.set_index("metric").loc["mae", "value"]
    assert mae_value == pytest.approx(np.mean(np.abs(pred - true)))
    with pytest.raises(DataError, match="must be positive"):
        dosing_metrics(true, pred, n_bootstrap=50)


def test_a_regression_run_on_a_signed_outcome_scores_mae_and_r2(tmp_path):
    from medtransfer.data.tables import domain_from_table
    from medtransfer.datasets import heart_disease
    from medtransfer.runs.fit import fit_run
    from medtransfer.runs.pipeline import TransferPipeline

    def st_depression(site):  # ST depression at exercise, in mm: zero and negative at times
        frame = heart_disease(site).inputs.dropna(subset=["oldpeak"])
        return domain_from_table(frame, where=site, name=site, label_col="oldpeak",
                                 task="regression")

    source, target = st_depression("Cleveland"), st_depression("Hungary")
    assert (target.labels <= 0).any()
    result = fit_run(TransferPipeline(method="source_only", task="regression", progress=False),
                     source, target, tmp_path / "run", target_labels=20, n_resamples=50)
    scores = result.manifest["metrics"]["source_only"]
    assert set(scores) == {"mae", "r2"} and scores["mae"]["value"] > 0
