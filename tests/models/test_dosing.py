"""IWPC dosing formulas against the published/measured figures, and the sqrt-dose wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression

from medtransfer.adapt.baselines import SourceOnly
from medtransfer.datasets.warfarin import warfarin
from medtransfer.errors import DataError
from medtransfer.models.dosing import (
    IWPCClinical,
    IWPCPharmacogenetic,
    SqrtDoseRegressor,
    sqrt_dose,
)


@pytest.fixture(scope="module")
def everyone():
    """Every patient, VKORC1 as genotyped (the shared data README measured the figures so)."""
    return warfarin(impute_vkorc1=False)


def scores(y: np.ndarray, pred: np.ndarray) -> tuple[int, float, float]:
    """(n with a prediction, MAE, PW20) computed here, independently of evaluate.dosing."""
    ok = ~np.isnan(pred)
    error = np.abs(pred[ok] - y[ok])
    return int(ok.sum()), float(error.mean()), float(np.mean(error <= 0.2 * y[ok]))


@pytest.mark.parametrize(
    ("model", "mae", "pw20"),
    [(IWPCPharmacogenetic(), 8.85, 0.454), (IWPCClinical(), 10.22, 0.395)],
)
def test_formulas_reproduce_the_measured_figures(everyone, model, mae, pw20):
    n, got_mae, got_pw20 = scores(everyone.labels, model.fit(everyone.inputs).predict(
        everyone.inputs))
    assert n == 4895  # patients with age, height and weight
    assert got_mae == pytest.approx(mae, abs=0.02)
    assert got_pw20 == pytest.approx(pw20, abs=0.005)


def test_pharmacogenetic_formula_on_the_east_asian_sites():
    east = warfarin(site=[3, 4, 8, 18], impute_vkorc1=False)
    _, mae, pw20 = scores(east.labels, IWPCPharmacogenetic().predict(east.inputs))
    assert mae == pytest.approx(6.58, abs=0.02)
    assert pw20 == pytest.approx(0.416, abs=0.005)


def test_imputed_vkorc1_improves_the_pharmacogenetic_formula(everyone):
    imputed = warfarin()
    formula = IWPCPharmacogenetic()
    _, mae_imputed, pw20_imputed = scores(imputed.labels, formula.predict(imputed.inputs))
    _, mae_genotyped, pw20_genotyped = scores(everyone.labels, formula.predict(everyone.inputs))
    assert mae_imputed == pytest.approx(8.64, abs=0.02)
    assert mae_imputed < mae_genotyped - 0.15 and pw20_imputed > pw20_genotyped + 0.005


def patient(**changes) -> pd.DataFrame:
    row = {"age_decades": 6.0, "height_cm": 170.0, "weight_kg": 80.0, "race": "White",
           "enzyme_inducer": np.nan, "amiodarone": 0.0, "cyp2c9": "*1/*1", "vkorc1": "G/G"}
    return pd.DataFrame([{**row, **changes}])


def test_one_patient_by_hand():
    base = 5.6044 - 0.2614 * 6 + 0.0087 * 170 + 0.0128 * 80
    model = IWPCPharmacogenetic()
    assert model.predict(patient())[0] == pytest.approx(base**2)
    asian = base - 1.6974 - 0.9357 - 0.1092 - 0.5503
    got = model.predict(patient(race="Asian", vkorc1="A/A", cyp2c9="*1/*3", amiodarone=1.0))
    assert got[0] == pytest.approx(asian**2)
    # Rare star alleles and genotypes not typed both take the "unknown" coefficient.
    other = model.predict(pd.concat([patient(cyp2c9="other"), patient(cyp2c9="unknown")]))
    assert other == pytest.approx([(base - 0.2188) ** 2] * 2)
    clinical = 4.0376 - 0.2546 * 6 + 0.0118 * 170 + 0.0134 * 80 + 0.4060 + 1.2799
    got = IWPCClinical().predict(patient(race="Black or African American", enzyme_inducer=1.0))
    assert got[0] == pytest.approx(clinical**2)


def test_missing_height_gives_nan_and_sklearn_contract_holds():
    model = IWPCClinical()
    assert np.isnan(model.predict(patient(height_cm=np.nan))[0])
    assert clone(model).get_params() == {}
    assert model.fit(patient(), [30.0]) is model and model.n_features_in_ == 8


def test_formula_input_errors_name_the_columns():
    with pytest.raises(DataError, match=r"missing column\(s\) \['vkorc1'\]"):
        IWPCPharmacogenetic().fit(patient().drop(columns=["vkorc1"]))
    with pytest.raises(DataError, match=r"needs a DataFrame with columns .*got ndarray"):
        IWPCClinical().predict(np.zeros((2, 6)))


def test_sqrt_dose_passes_nan_and_rejects_bad_doses():
    np.testing.assert_allclose(sqrt_dose([4.0, np.nan, 49.0]), [2.0, np.nan, 7.0])
    with pytest.raises(DataError, match=r"2 dose\(s\) ≤ 0 cannot take the square-root"):
        sqrt_dose([10.0, 0.0, -3.0])
    with pytest.raises(DataError, match=r"dose: non-numeric dose value\(s\)"):
        sqrt_dose(["ten", "20"])


def test_sqrt_dose_regressor_fits_the_square_root_and_passes_sample_domain():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(60, 1))
    dose = (2 + 3 * X[:, 0]) ** 2
    model = SqrtDoseRegressor(LinearRegression()).fit(X, dose)
    np.testing.assert_allclose(model.regressor_.coef_, [3.0])
    np.testing.assert_allclose(model.predict(X), dose)
    domain = np.r_[np.ones(40), -np.ones(20)].astype(int)
    shifted = dose.copy()
    shifted[40:] = np.nan  # unlabelled target rows are skipped, not an error
    wrapped = SqrtDoseRegressor(SourceOnly(LinearRegression())).fit(X, shifted,
                                                                   sample_domain=domain)
    assert wrapped.regressor_.n_train_ == 40
    with pytest.raises(DataError, match=r"y: 1 dose\(s\) ≤ 0"):
        SqrtDoseRegressor(LinearRegression()).fit(X, np.r_[0.0, dose[1:]])
