import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.errors import ConfigError, DataError
from medtransfer.explain.importance import rank_features

HEART = "/work/shared/data/heart_disease_uci.csv"


def test_the_feature_that_carries_the_signal_ranks_first():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"noise": rng.normal(size=300), "signal": rng.normal(size=300),
                      "weak": rng.normal(size=300)})
    y = (X["signal"] + 0.3 * X["weak"] > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(X, y)
    ranking = rank_features(model, X, y, n_repeats=3, random_state=0)
    assert [r.feature for r in ranking] == ["signal", "weak", "noise"]
    assert [r.rank for r in ranking] == [1, 2, 3]
    assert abs(ranking[-1].mean) < 0.02 < ranking[0].mean
    assert ranking == rank_features(model, X, y, n_repeats=3, random_state=0)


def test_real_heart_data_ranks_named_columns():
    frame = pd.read_csv(HEART)
    columns = ["age", "trestbps", "thalch", "oldpeak"]
    frame = frame.dropna(subset=columns)
    X, y = frame[columns].to_numpy(), (frame["num"] > 0).astype(int).to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    ranking = rank_features(model, X, y, feature_names=columns, scoring="roc_auc", n_repeats=3)
    assert sorted(r.feature for r in ranking) == sorted(columns)
    assert ranking[0].mean >= ranking[-1].mean and ranking[0].mean > 0


def test_bad_inputs_are_explained():
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ConfigError, match=r"LogisticRegression is not fitted; call fit"):
        rank_features(LogisticRegression(), X, y)
    fitted = LogisticRegression().fit(X + np.arange(4)[:, None], y)
    with pytest.raises(ConfigError, match=r"3 feature_names for 2 columns"):
        rank_features(fitted, X, y, feature_names=["a", "b", "c"])
    with pytest.raises(DataError, match=r"X has 4 rows but y has 3 labels"):
        rank_features(fitted, X, y[:3])
