"""Per-subgroup performance on the real heart-disease sites."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_predict

from medtransfer.errors import DataError
from medtransfer.evaluate.metrics import classification_metrics
from medtransfer.evaluate.roc import roc_band
from medtransfer.evaluate.subgroups import age_bands, subgroup_metrics

HEART = "/work/shared/data/heart_disease_uci.csv"


@pytest.fixture(scope="module")
def heart() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    df = pd.read_csv(HEART)
    X = df[["age", "trestbps", "chol", "thalch", "oldpeak"]].to_numpy(dtype=float)
    y = (df["num"] > 0).astype(int).to_numpy()
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    p = cross_val_predict(model, X, y, cv=3, method="predict_proba")
    return df, y, p


def test_subgroup_values_equal_metrics_on_the_subset(heart) -> None:
    df, y, p = heart
    table = pd.DataFrame({"site": df["dataset"], "sex": df["sex"], "age": age_bands(df["age"])})
    res = subgroup_metrics(y, p, class_names=["h", "d"], subgroups=table, n_resamples=20)
    assert set(res["attribute"]) == {"site", "sex", "age"}
    row = res.query("attribute == 'site' and subgroup == 'Hungary' and metric == 'auroc'").iloc[0]
    hungary = (df["dataset"] == "Hungary").to_numpy()
    expected = classification_metrics(y[hungary], p[hungary], class_names="hd")["auroc"]
    assert row["n"] == 293 and row["value"] == pytest.approx(expected)
    assert row["low"] <= row["value"] <= row["high"]
    assert set(res.query("attribute == 'age'")["subgroup"]) <= {"<40", "40-49", "50-59", "60-69",
                                                               ">=70"}


def test_small_subgroups_report_size_only(heart) -> None:
    _, y, p = heart
    table = pd.DataFrame({"site": np.where(np.arange(len(y)) < 5, "tiny", "big")})
    res = subgroup_metrics(y, p, class_names="hd", subgroups=table, n_resamples=5, min_size=10)
    tiny = res[res["subgroup"] == "tiny"]
    assert tiny["metric"].tolist() == ["n"] and tiny["n"].iloc[0] == 5


def test_age_bands_keep_missing() -> None:
    bands = age_bands([39, 40, 59.5, 70, None])
    assert bands.iloc[:4].tolist() == ["<40", "40-49", "50-59", ">=70"]
    assert pd.isna(bands.iloc[4])


def test_subgroup_rows_must_match_cases(heart) -> None:
    _, y, p = heart
    with pytest.raises(DataError, match="subgroups has 2 rows but there are 920 cases"):
        subgroup_metrics(y, p, class_names="hd", subgroups=pd.DataFrame({"s": [1, 2]}))


def test_roc_band_brackets_the_curve_and_is_seeded(heart) -> None:
    _, y, p = heart
    band = roc_band(y, p[:, 1], n_resamples=50, random_state=1)
    assert np.all(band["low"] <= band["tpr"] + 1e-12)
    assert np.all(band["tpr"] <= band["high"] + 1e-12)
    assert np.all(np.diff(band["tpr"]) >= 0) and band["tpr"][-1] == 1.0
    again = roc_band(y, p[:, 1], n_resamples=50, random_state=1)
    np.testing.assert_array_equal(band["low"], again["low"])
    with pytest.raises(DataError, match="labels of both classes 0 and 1"):
        roc_band(np.zeros(5), np.arange(5.0))
