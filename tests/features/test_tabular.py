"""TabularEncoder on the real UCI heart data (four hospitals, features missing by site)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from medtransfer.errors import ArtifactError, ConfigError, DataError
from medtransfer.features.tabular import TabularEncoder

HEART = "/work/shared/data/heart_disease_uci.csv"


@pytest.fixture(scope="module")
def heart() -> pd.DataFrame:
    return pd.read_csv(HEART)


def _pair(heart: pd.DataFrame, source: str, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    rows = heart[heart["dataset"].isin([source, target])].reset_index(drop=True)
    sample_domain = np.where(rows["dataset"] == source, 1, -2)
    return rows.drop(columns=["id", "dataset", "num"]), sample_domain


def test_ca_missing_in_hungary_is_dropped_and_reported(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    encoder = TabularEncoder().fit(X, sample_domain=domains)
    assert set(encoder.report_["dropped"]) == {"ca", "thal"}
    assert encoder.report_["dropped"]["ca"]["target"] == pytest.approx(290 / 293, abs=1e-4)
    assert encoder.report_["dropped"]["ca"]["source"] < 0.02
    names = list(encoder.get_feature_names_out())
    assert not any(n == "ca" or n.startswith("thal_") for n in names)
    encoded = encoder.transform(X)
    assert encoded.shape == (len(X), len(names)) and encoded.dtype == np.float64
    assert np.isfinite(encoded).all()


def test_numeric_imputation_and_indicators(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    encoder = TabularEncoder().fit(X, sample_domain=domains)
    encoded = pd.DataFrame(encoder.transform(X), columns=encoder.get_feature_names_out())
    gaps = X["chol"].isna()
    assert gaps.sum() == 23
    median = float(X["chol"].median())
    assert encoder.report_["imputed"]["chol"]["median"] == median
    assert (encoded.loc[gaps, "chol"] == median).all()
    np.testing.assert_array_equal(encoded["missingindicator_chol"], gaps.astype(float))
    np.testing.assert_array_equal(encoded.loc[~gaps, "chol"], X.loc[~gaps, "chol"])


def test_zero_chol_in_switzerland_declared_missing(heart):
    X, domains = _pair(heart, "Cleveland", "Switzerland")
    plain = TabularEncoder().fit(X, sample_domain=domains)
    assert "chol" not in plain.report_["dropped"]
    declared = TabularEncoder(zero_as_missing=("chol",)).fit(X, sample_domain=domains)
    assert declared.report_["dropped"]["chol"] == {"source": 0.0, "target": 1.0}
    assert declared.report_["zero_as_missing"] == ["chol"]


def test_keep_mode_keeps_and_reports(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    encoder = TabularEncoder(mostly_missing="keep").fit(X, sample_domain=domains)
    assert encoder.report_["dropped"] == {}
    assert set(encoder.report_["kept_mostly_missing"]) == {"ca", "thal"}
    assert "ca" in encoder.get_feature_names_out()
    loose = TabularEncoder(missing_threshold=0.6).fit(X, sample_domain=domains)
    assert set(loose.report_["dropped"]) == {"ca", "thal", "slope"}


def test_one_hot_ignores_unknown_categories(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    encoder = TabularEncoder().fit(X, sample_domain=domains)
    names = list(encoder.get_feature_names_out())
    cp = [names.index(n) for n in names if n.startswith("cp_")]
    assert len(cp) == 4
    new = X.head(2).copy()
    new["cp"] = ["atypical angina", "never seen"]
    rows = encoder.transform(new)[:, cp]
    np.testing.assert_array_equal(rows.sum(axis=1), [1.0, 0.0])


def test_labels_are_never_used(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    a = TabularEncoder().fit(X, np.zeros(len(X)), sample_domain=domains).transform(X)
    b = TabularEncoder().fit(X, np.arange(len(X)), sample_domain=domains).transform(X)
    np.testing.assert_array_equal(a, b)


def test_json_round_trip_reproduces_transform(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    encoder = TabularEncoder(zero_as_missing=("chol",)).fit(X, sample_domain=domains)
    restored = TabularEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    va = heart[heart["dataset"] == "VA Long Beach"].drop(columns=["id", "dataset", "num"])
    np.testing.assert_array_equal(restored.transform(va), encoder.transform(va))
    assert restored.report_ == encoder.report_
    assert restored.get_params() == encoder.get_params()
    assert list(restored.get_feature_names_out()) == list(encoder.get_feature_names_out())


def test_sklearn_contract(heart):
    encoder = TabularEncoder(zero_as_missing=("chol",), missing_threshold=0.5)
    copy = clone(encoder)
    assert copy.get_params() == encoder.get_params()
    X, domains = _pair(heart, "Cleveland", "Hungary")
    np.testing.assert_array_equal(
        copy.fit_transform(X, sample_domain=domains),
        encoder.fit(X, sample_domain=domains).transform(X),
    )
    one_domain = TabularEncoder().fit(X)
    assert one_domain.report_["domains"] == ["source"] and one_domain.report_["dropped"] == {}


def test_errors_name_the_problem(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    with pytest.raises(DataError, match=r"expects a pandas DataFrame.*got ndarray"):
        TabularEncoder().fit(X.to_numpy())
    with pytest.raises(DataError, match=r"column\(s\) \['cholesterol'\] not found.*available"):
        TabularEncoder(zero_as_missing=("cholesterol",)).fit(X)
    with pytest.raises(ConfigError, match=r"\(mostly_missing='ignore'\): expected one of 'drop'"):
        TabularEncoder(mostly_missing="ignore").fit(X)
    with pytest.raises(ConfigError, match=r"\(missing_threshold=1.5\): expected a number in"):
        TabularEncoder(missing_threshold=1.5).fit(X)
    with pytest.raises(ConfigError, match=r"\['age'\] are listed as both numeric and categorical"):
        TabularEncoder(numeric=["age"], categorical=["age"]).fit(X)
    with pytest.raises(DataError, match=r"sample_domain has shape \(3,\).*non-zero integers"):
        TabularEncoder().fit(X, sample_domain=domains[:3])


def test_transform_errors_name_the_column(heart):
    X, domains = _pair(heart, "Cleveland", "Hungary")
    encoder = TabularEncoder().fit(X, sample_domain=domains)
    with pytest.raises(DataError, match=r"column\(s\) \['age'\] missing from the table"):
        encoder.transform(X.drop(columns=["age"]))
    encoder.transform(X.drop(columns=["ca"]))  # a dropped column is not needed
    bad = X.head(2).astype({"age": object})
    bad.loc[0, "age"] = "sixty"
    with pytest.raises(DataError, match=r"column 'age' should be numeric.*sixty"):
        encoder.transform(bad)


def test_from_dict_rejects_foreign_state():
    with pytest.raises(
        ArtifactError, match=r"format 'sklearn'; expected 'medtransfer.TabularEncoder'"
    ):
        TabularEncoder.from_dict({"format": "sklearn", "version": 1})
    with pytest.raises(ArtifactError, match=r"lacks \['numeric_'"):
        TabularEncoder.from_dict({"format": "medtransfer.TabularEncoder", "version": 1})
