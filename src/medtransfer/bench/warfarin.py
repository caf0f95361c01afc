"""``warfarin``: weekly dose from 17 IWPC sites to the East-Asian sites 3, 4, 8 and 18.

Source: every site except 3, 4, 8, 18 and 13 (a selected low-dose sample). Target: sites 3,
4, 8 and 18, patients with age, height and weight (where the IWPC formulas apply). k target
patients are labelled (uniformly, seeded); the rest are the test set, whose features (never
doses) the methods see as unlabelled target rows. Every method learns sqrt(dose); PW15, PW20,
PW25 and MAE (mg/week) are scored beside the published IWPC pharmacogenetic and clinical
formulas.

The patients' biology (the IWPC formula's covariates and sex:
:data:`~medtransfer.datasets.warfarin.COVARIATES`) is protected: the alignment and
harmonisation methods, on their own and inside ``auto``, align only the other columns (target
INR, smoking, the recorded co-medications and comorbidities), and ComBat keeps the
covariates' effect. The ``*_unprotected`` rows are four of them aligning every column, as
before protection existed.

The same suite with other target sites (``WarfarinSuite(target_sites=(6,))``, the East-Asian
sites then excluded) is the design set on which the suite's choices were made
(``benchmarks/warfarin_design.py``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from medtransfer.adapt.base import METHODS
from medtransfer.adapt.protect import encoded_columns
from medtransfer.bench.competitors import medtransfer_methods
from medtransfer.bench.core import Split, Suite, Unit
from medtransfer.data.domain import Domain
from medtransfer.data.sampling import choose_labelled
from medtransfer.datasets.warfarin import COVARIATES, warfarin
from medtransfer.evaluate.dosing import mae, within
from medtransfer.features.tabular import TabularEncoder
from medtransfer.models.dosing import IWPCClinical, IWPCPharmacogenetic
from medtransfer.models.tolerance import from_model_scale, to_model_scale

TARGET_SITES, EXCLUDED_SITES = (3, 4, 8, 18), (13,)
FORMULAS = {"iwpc_pharmacogenetic": IWPCPharmacogenetic, "iwpc_clinical": IWPCClinical}
# Methods also run aligning every column, to show what protecting the covariates changes.
UNPROTECTED = ("site_standardize", "combat", "coral", "subspace_alignment")
TOLERANCES = {"pw15": 0.15, "pw20": 0.20, "pw25": 0.25}


def _sites(sites: tuple[int, ...]) -> str:
    return ",".join(map(str, sites))


@cache
def _domains(target_sites: tuple[int, ...] = TARGET_SITES,
             excluded_sites: tuple[int, ...] = EXCLUDED_SITES,
             ) -> tuple[Domain, Domain, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Source, target (formula-ready patients), their encoded features and the positions of
    the features derived from :data:`COVARIATES`."""
    data = warfarin()
    site = data.metadata["site"].to_numpy()
    source = data.subset(np.flatnonzero(~np.isin(site, target_sites + excluded_sites)))
    target = data.subset(np.flatnonzero(np.isin(site, target_sites)))
    complete = target.inputs[["age_decades", "height_cm", "weight_kg"]].notna().all(axis=1)
    target = target.subset(np.flatnonzero(complete.to_numpy()))
    frame = pd.concat([source.inputs, target.inputs], ignore_index=True)
    domain = np.r_[np.ones(len(source)), -2 * np.ones(len(target))].astype(int)
    encoder = TabularEncoder().fit(frame, sample_domain=domain)  # features only, no doses
    return (source, target, encoder.transform(source.inputs), encoder.transform(target.inputs),
            encoded_columns(encoder, COVARIATES))


class WarfarinSuite(Suite):
    """PW15/PW20/PW25 and MAE of every regression method, ``auto`` and the IWPC formulas.

    Parameters
    ----------
    target_sites : tuple of int
        Target sites (default: the East-Asian sites 3, 4, 8 and 18).
    excluded_sites : tuple of int
        Sites in neither domain (default: site 13, a selected low-dose sample). A design run
        on other target sites excludes the East-Asian sites too.
    transform : {"sqrt", "log", "none"}
        The scale every method learns the dose on.
    """

    metrics = ("pw20", "pw15", "pw25", "mae")
    lower_is_better = frozenset({"mae"})
    default_k = (0, 20, 100)

    def __init__(self, target_sites: tuple[int, ...] = TARGET_SITES,
                 excluded_sites: tuple[int, ...] = EXCLUDED_SITES,
                 transform: str = "sqrt") -> None:
        self.target_sites = tuple(target_sites)
        self.excluded_sites = tuple(excluded_sites)
        self.transform = transform
        default = self.target_sites == TARGET_SITES and transform == "sqrt"
        self.name = "warfarin" if default else (
            f"warfarin-sites{_sites(self.target_sites)}-{transform}")

    def pairs(self) -> list[tuple[str, str]]:
        left_out = _sites(self.target_sites + self.excluded_sites)
        return [(f"IWPC sites except {left_out}", f"IWPC sites {_sites(self.target_sites)}")]

    def _domains(self) -> tuple[Domain, Domain, np.ndarray, np.ndarray, tuple[int, ...]]:
        return _domains(self.target_sites, self.excluded_sites)

    def split(self, unit: Unit) -> Split:
        source, target, Xs, Xt, _ = self._domains()
        labelled = choose_labelled(target, unit.k, random_state=unit.seed)
        test = np.setdiff1d(np.arange(len(target)), labelled)
        y = np.r_[source.labels, np.full(len(target), np.nan)]
        y[len(source) + labelled] = target.labels[labelled]
        return Split(
            X=np.vstack([Xs, Xt]), y=to_model_scale(y, self.transform),
            sample_domain=np.r_[np.ones(len(Xs)), -2 * np.ones(len(Xt))].astype(int),
            test=len(source) + test, y_test=target.labels[test],
            context={"test_inputs": target.inputs.iloc[test]},
        )

    def competitors(self, unit: Unit, split: Split) -> dict[str, Any]:
        protect = list(self._domains()[4])
        formulas = {name: _formula(cls) for name, cls in FORMULAS.items()}
        # auto reports the dose most likely within ±20% (PW20, the clinical target), on mg/week
        auto = {"point": "pw20", "target_transform": self.transform, "protect": protect}
        methods = medtransfer_methods("regression", unit.k, unit.seed, auto_options=auto)
        for method in methods.values():
            if "protect" in method.get_params(deep=False):
                method.set_params(protect=protect)
        final = methods["auto"].estimator
        unprotected = {f"{name}_unprotected": METHODS.get(name).build(final, unit.seed)
                       for name in UNPROTECTED}
        return {**formulas, **methods, **unprotected}

    def predict(self, model: BaseEstimator, X: np.ndarray) -> np.ndarray:
        """Dose in mg/week: the model learns it on the suite's ``transform`` scale."""
        return from_model_scale(np.asarray(model.predict(X), dtype=float), self.transform)

    def score(self, y_test: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
        scores = {name: within(y_test, prediction, tol) for name, tol in TOLERANCES.items()}
        return {**scores, "mae": mae(y_test, prediction)}


def _formula(cls: type) -> Any:
    def predict(split: Split) -> np.ndarray:
        return cls().predict(split.context["test_inputs"])

    return predict
