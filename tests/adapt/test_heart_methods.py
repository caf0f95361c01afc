"""Real data: every registered method transfers Cleveland -> Hungary (UCI heart disease)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from medtransfer.adapt import METHODS
from medtransfer.models.classifiers import make_classifier

pytestmark = pytest.mark.slow

HEART = Path("/work/shared/data/heart_disease_uci.csv")
NUMERIC = ["age", "trestbps", "chol", "thalch", "oldpeak"]
N_LABELLED = 10


@pytest.fixture(scope="module")
def heart():
    if not HEART.exists():
        pytest.skip(f"{HEART} is not available")
    table = pd.read_csv(HEART)
    table = table[table["dataset"].isin(["Cleveland", "Hungary"])].reset_index(drop=True)
    numeric = table[NUMERIC].astype(float)
    X = np.column_stack([
        numeric.fillna(numeric.median()).to_numpy(),
        (table["sex"] == "Male").to_numpy(float),
        (table["exang"].astype(str) == "True").to_numpy(float),
    ])
    y = (table["num"] > 0).to_numpy(int)
    domain = np.where(table["dataset"] == "Cleveland", 1, -2)
    target = np.flatnonzero(domain < 0)
    labelled = np.random.default_rng(0).choice(target, N_LABELLED, replace=False)
    y_fit = np.where(domain > 0, y, -1)
    y_fit[labelled] = y[labelled]
    return X, y, y_fit, domain, np.setdiff1d(target, labelled)


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if "classification" in m.tasks])
def test_method_transfers_cleveland_to_hungary(heart, name):
    X, y, y_fit, domain, test = heart
    model = METHODS.get(name).build(make_classifier("logreg", "classification", 0), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y_fit, sample_domain=domain)
    auroc = roc_auc_score(y[test], model.predict_proba(X[test])[:, 1])
    assert auroc > 0.6, f"{name}: AUROC {auroc:.3f} on Hungary"
