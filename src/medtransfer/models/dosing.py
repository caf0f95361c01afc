"""Warfarin dosing models: the IWPC formulas and a square-root dose wrapper for any regressor.

The IWPC formulas (N Engl J Med 2009;360:753-764) predict sqrt(weekly dose) linearly; they
are the clinical standard any learned or transferred dosing model has to beat.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from medtransfer.errors import DataError

PHARMACOGENETIC = {
    "intercept": 5.6044, "age_decades": -0.2614, "height_cm": 0.0087, "weight_kg": 0.0128,
    "vkorc1=A/G": -0.8677, "vkorc1=A/A": -1.6974, "vkorc1=unknown": -0.4854,
    "cyp2c9=*1/*2": -0.5211, "cyp2c9=*1/*3": -0.9357, "cyp2c9=*2/*2": -1.0616,
    "cyp2c9=*2/*3": -1.9206, "cyp2c9=*3/*3": -2.3312, "cyp2c9=unknown": -0.2188,
    "race=asian": -0.1092, "race=black": -0.2760, "race=unknown": -0.1032,
    "enzyme_inducer": 1.1816, "amiodarone": -0.5503,
}
CLINICAL = {
    "intercept": 4.0376, "age_decades": -0.2546, "height_cm": 0.0118, "weight_kg": 0.0134,
    "race=asian": -0.6752, "race=black": 0.4060, "race=unknown": 0.0443,
    "enzyme_inducer": 1.2799, "amiodarone": -0.5695,
}
CYP2C9_KNOWN = ("*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3")
VKORC1_KNOWN = ("G/G", "A/G", "A/A")
CLINICAL_COLUMNS = ("age_decades", "height_cm", "weight_kg", "race", "enzyme_inducer", "amiodarone")


def _race_group(race: pd.Series) -> pd.Series:
    """OMB race → the formula's groups; anything but White/Asian/Black is "missing or mixed"."""
    lower = race.astype(object).fillna("").map(lambda s: str(s).strip().lower())
    group = lower.map(lambda s: "black" if s.startswith("black") else s)
    return group.where(group.isin(["white", "asian", "black"]), "unknown")


def _indicators(X: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Numeric design matrix whose columns are the formula's coefficient names."""
    design = pd.DataFrame(index=X.index)
    design["intercept"] = 1.0
    for name in ("age_decades", "height_cm", "weight_kg"):
        design[name] = pd.to_numeric(X[name], errors="coerce")
    # The IWPC analysis counted a drug as not taken when it was not recorded.
    for name in ("enzyme_inducer", "amiodarone"):
        design[name] = (pd.to_numeric(X[name], errors="coerce") == 1).astype(float)
    race = _race_group(X["race"])
    for group in ("asian", "black", "unknown"):
        design[f"race={group}"] = (race == group).astype(float)
    if "cyp2c9" in columns:
        cyp = X["cyp2c9"].astype(object).where(X["cyp2c9"].isin(CYP2C9_KNOWN), "unknown")
        vko = X["vkorc1"].astype(object).where(X["vkorc1"].isin(VKORC1_KNOWN), "unknown")
        for state in (*CYP2C9_KNOWN[1:], "unknown"):
            design[f"cyp2c9={state}"] = (cyp == state).astype(float)
        for state in ("A/G", "A/A", "unknown"):
            design[f"vkorc1={state}"] = (vko == state).astype(float)
    return design


class _IWPCFormula(RegressorMixin, BaseEstimator):
    """A fixed linear formula for sqrt(weekly dose); predictions are its square, mg/week."""

    coefficients: ClassVar[dict[str, float]] = {}
    columns: ClassVar[tuple[str, ...]] = ()

    def _check_columns(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise DataError(
                f"{type(self).__name__} needs a DataFrame with columns {list(self.columns)} "
                f"(as returned by medtransfer.datasets.warfarin), got {type(X).__name__}"
            )
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise DataError(
                f"{type(self).__name__}: missing column(s) {missing}; expected the parsed "
                "warfarin features of medtransfer.datasets.warfarin (parse_iwpc)"
            )
        return X

    def fit(self, X, y=None) -> _IWPCFormula:
        """Check that ``X`` has the formula's columns; the coefficients are fixed."""
        X = self._check_columns(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # a published formula needs no fitting

    def predict_sqrt(self, X) -> np.ndarray:
        """The formula's value, sqrt(mg/week); NaN where age, height or weight is missing."""
        check_is_fitted(self)
        design = _indicators(self._check_columns(X), self.columns)
        coef = pd.Series(self.coefficients)
        return design[coef.index].to_numpy(dtype=float) @ coef.to_numpy()

    def predict(self, X) -> np.ndarray:
        """Weekly dose in mg, the squared formula; NaN where age, height or weight is missing."""
        return self.predict_sqrt(X) ** 2


class IWPCPharmacogenetic(_IWPCFormula):
    """IWPC pharmacogenetic warfarin dosing formula (clinical + CYP2C9 + VKORC1 -1639).

    Needs the columns ``age_decades``, ``height_cm``, ``weight_kg``, ``race``,
    ``enzyme_inducer``, ``amiodarone``, ``cyp2c9`` and ``vkorc1``. Unrecorded drugs count as
    not taken; genotypes outside the formula's states (rare star alleles) count as unknown.
    """

    coefficients: ClassVar[dict[str, float]] = PHARMACOGENETIC
    columns: ClassVar[tuple[str, ...]] = (*CLINICAL_COLUMNS, "cyp2c9", "vkorc1")


class IWPCClinical(_IWPCFormula):
    """IWPC clinical warfarin dosing formula (age, height, weight, race, co-medication)."""

    coefficients: ClassVar[dict[str, float]] = CLINICAL
    columns: ClassVar[tuple[str, ...]] = CLINICAL_COLUMNS


def sqrt_dose(dose, *, name: str = "dose") -> np.ndarray:
    """Square root of weekly doses; NaN (unlabelled) passes through.

    Raises
    ------
    DataError
        If a dose is non-numeric, zero or negative.
    """
    try:
        values = np.asarray(dose, dtype=float)
    except (TypeError, ValueError):
        raise DataError(
            f"{name}: non-numeric dose value(s); expected weekly doses in mg (numbers, NaN "
            "for unlabelled): convert the column with pandas.to_numeric"
        ) from None
    if np.any(values[~np.isnan(values)] <= 0):
        raise DataError(
            f"{name}: {int(np.sum(values <= 0))} dose(s) ≤ 0 cannot take the square-root "
            "transform; a weekly dose is positive: drop or correct those rows"
        )
    return np.sqrt(values)


class SqrtDoseRegressor(RegressorMixin, BaseEstimator):
    """Fit ``regressor`` on sqrt(dose) and predict the squared output (mg/week).

    Like sklearn's TransformedTargetRegressor, but it keeps NaN labels of unlabelled target
    rows, passes ``sample_domain`` and other fit parameters through, and rejects doses ≤ 0.

    Parameters
    ----------
    regressor : estimator
        Any regressor or transfer method (``fit(X, y, *, sample_domain)``).
    """

    def __init__(self, regressor: BaseEstimator) -> None:
        self.regressor = regressor

    def fit(self, X, y, **fit_params) -> SqrtDoseRegressor:
        """Fit a clone of ``regressor`` on the square root of ``y``."""
        self.regressor_ = clone(self.regressor).fit(X, sqrt_dose(y, name="y"), **fit_params)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted weekly dose: the regressor's output squared (clipped at 0 first)."""
        check_is_fitted(self, "regressor_")
        return np.clip(np.asarray(self.regressor_.predict(X), dtype=float), 0, None) ** 2
