"""Per-column drift and missingness, on planted shifts and on the real heart data."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control

from medtransfer.datasets.heart import heart_disease
from medtransfer.errors import DataError
from medtransfer.shift.tabular import adjust_p_values, feature_drift, missingness_shift


def planted(n=150, seed=0):
    rng = np.random.default_rng(seed)
    def table(shift):
        return pd.DataFrame({
            **{f"x{i}": rng.normal(size=n) + (shift if i == 3 else 0.0) for i in range(5)},
            "colour": rng.choice(["red", "blue"], n),
        })
    return table(0.0), table(1.0)


def test_drift_ranks_the_planted_feature_first():
    source, target = planted()
    rows = feature_drift(source, target)
    assert rows[0]["column"] == "x3" and rows[0]["rank"] == 1
    assert rows[0]["q_value"] < 1e-6 and rows[0]["wasserstein"] > 0.7
    assert all(r["effect"] < rows[0]["effect"] / 2 for r in rows[1:])
    assert [r["rank"] for r in rows] == list(range(1, 7))
    colour = next(r for r in rows if r["column"] == "colour")
    assert colour["kind"] == "categorical" and colour["test"] == "chi-square"


def test_drift_detects_a_categorical_shift():
    source, target = planted(seed=1)
    target["colour"] = np.where(np.arange(len(target)) % 5 == 0, "blue", "red")
    rows = {r["column"]: r for r in feature_drift(source, target)}
    assert rows["colour"]["q_value"] < 1e-3
    assert rows["colour"]["total_variation"] == pytest.approx(
        abs((source["colour"] == "red").mean() - 0.8))


def test_benjamini_hochberg_by_hand_and_as_scipy():
    assert adjust_p_values([0.01, 0.04, 0.03, 0.5]) == pytest.approx(
        [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    p = np.random.default_rng(0).uniform(size=20) ** 3
    assert adjust_p_values(p) == pytest.approx(false_discovery_control(p, method="bh"))
    with_nan = np.r_[p[:5], np.nan]
    q = adjust_p_values(with_nan)
    assert np.isnan(q[-1]) and q[:5] == pytest.approx(false_discovery_control(p[:5]))


def test_heart_cleveland_vs_switzerland_missingness_of_ca_is_flagged():
    cleveland, swiss = heart_disease("Cleveland"), heart_disease("Switzerland")
    rows = missingness_shift(cleveland.inputs, swiss.inputs)
    ca = next(r for r in rows if r["column"] == "ca")
    assert ca["flagged"] and ca["missing_target"] > 0.9 and ca["missing_source"] < 0.05
    assert rows[0]["column"] == "ca"
    assert not next(r for r in rows if r["column"] == "age")["flagged"]


def test_columns_with_too_few_values_are_reported_not_tested():
    source, target = planted(n=30)
    target["x0"] = np.nan
    row = next(r for r in feature_drift(source, target) if r["column"] == "x0")
    assert row["p_value"] is None and row["q_value"] is None and "fewer than 2" in row["note"]


def test_bad_tables_are_explained():
    source, target = planted(n=20)
    both_empty = source.assign(x1=np.nan), target.assign(x1=np.nan)
    with pytest.raises(DataError, match=r"column 'x1' is missing in every row of both.*drop"):
        feature_drift(*both_empty)
    with pytest.raises(DataError, match=r"only in source: \['x4'\].*same feature columns"):
        feature_drift(source, target.drop(columns="x4"))
    with pytest.raises(DataError, match="the target table has no rows"):
        missingness_shift(source, target.iloc[:0])
    with pytest.raises(DataError, match="source inputs are ndarray; expected a pandas"):
        missingness_shift(source.to_numpy(), target)
