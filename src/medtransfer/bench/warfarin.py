"""``warfarin``: weekly dose from 17 IWPC sites to the East-Asian sites 3, 4, 8 and 18.

Source: every site except 3, 4, 8, 18 and 13 (a selected low-dose sample). Target: sites 3,
4, 8 and 18, patients with age, height and weight (where the IWPC formulas apply). k target
patients are labelled (uniformly, seeded); the rest are the test set, whose features (never
doses) the methods see as unlabelled target rows. Every method learns sqrt(dose); PW20 and MAE
(mg/week) are scored beside the published IWPC pharmacogenetic and clinical formulas.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from medtransfer.bench.competitors import medtransfer_methods
from medtransfer.bench.core import Split, Suite, Unit
from medtransfer.data.domain import Domain
from medtransfer.data.sampling import choose_labelled
from medtransfer.datasets.warfarin import warfarin
from medtransfer.evaluate.dosing import mae, pw20
from medtransfer.features.tabular import TabularEncoder
from medtransfer.models.dosing import IWPCClinical, IWPCPharmacogenetic

TARGET_SITES, EXCLUDED_SITES = (3, 4, 8, 18), (13,)
SOURCE, TARGET = "IWPC sites except 3,4,8,18,13", "IWPC sites 3,4,8,18"
FORMULAS = {"iwpc_pharmacogenetic": IWPCPharmacogenetic, "iwpc_clinical": IWPCClinical}


@cache
def _domains() -> tuple[Domain, Domain, np.ndarray, np.ndarray]:
    """Source, target (formula-ready patients) and their encoded features."""
    data = warfarin()
    site = data.metadata["site"].to_numpy()
    source = data.subset(np.flatnonzero(~np.isin(site, TARGET_SITES + EXCLUDED_SITES)))
    target = data.subset(np.flatnonzero(np.isin(site, TARGET_SITES)))
    complete = target.inputs[["age_decades", "height_cm", "weight_kg"]].notna().all(axis=1)
    target = target.subset(np.flatnonzero(complete.to_numpy()))
    frame = pd.concat([source.inputs, target.inputs], ignore_index=True)
    domain = np.r_[np.ones(len(source)), -2 * np.ones(len(target))].astype(int)
    encoder = TabularEncoder().fit(frame, sample_domain=domain)  # features only, no doses
    return source, target, encoder.transform(source.inputs), encoder.transform(target.inputs)


class WarfarinSuite(Suite):
    """PW20 and MAE of every regression method, ``auto`` and the IWPC formulas."""

    name = "warfarin"
    metrics = ("pw20", "mae")
    lower_is_better = frozenset({"mae"})
    default_k = (0, 20, 100)

    def pairs(self) -> list[tuple[str, str]]:
        return [(SOURCE, TARGET)]

    def split(self, unit: Unit) -> Split:
        source, target, Xs, Xt = _domains()
        labelled = choose_labelled(target, unit.k, random_state=unit.seed)
        test = np.setdiff1d(np.arange(len(target)), labelled)
        y = np.r_[source.labels, np.full(len(target), np.nan)]
        y[len(source) + labelled] = target.labels[labelled]
        return Split(
            X=np.vstack([Xs, Xt]), y=np.sqrt(y),
            sample_domain=np.r_[np.ones(len(Xs)), -2 * np.ones(len(Xt))].astype(int),
            test=len(source) + test, y_test=target.labels[test],
            context={"test_inputs": target.inputs.iloc[test]},
        )

    def competitors(self, unit: Unit, split: Split) -> dict[str, Any]:
        formulas = {name: _formula(cls) for name, cls in FORMULAS.items()}
        # auto reports the dose most likely within ±20% (PW20, the clinical target), on mg/week
        auto = {"point": "pw20", "target_transform": "sqrt"}
        return {**formulas, **medtransfer_methods("regression", unit.k, unit.seed,
                                                  auto_options=auto)}

    def predict(self, model: BaseEstimator, X: np.ndarray) -> np.ndarray:
        """Dose in mg/week: the model learns sqrt(dose)."""
        return np.clip(np.asarray(model.predict(X), dtype=float), 0, None) ** 2

    def score(self, y_test: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
        return {"pw20": pw20(y_test, prediction), "mae": mae(y_test, prediction)}


def _formula(cls: type) -> Any:
    def predict(split: Split) -> np.ndarray:
        return cls().predict(split.context["test_inputs"])

    return predict
