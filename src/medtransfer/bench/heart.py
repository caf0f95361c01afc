"""``heart``: the four UCI heart-disease hospitals, all 12 source -> target pairs.

k target patients are labelled (stratified by class); the rest of the target is the test set,
whose rows the methods see unlabelled and whose labels only the AUROC sees. Features:
:class:`~medtransfer.features.TabularEncoder` fitted on source + target features (never on
labels); ``chol == 0`` read as missing; columns mostly missing at a site dropped.
The final predictor is a logistic regression, or with ``classifier="auto"`` the family chosen
per unit on the source rows (``medtransfer bench --suite heart --classifier auto``, written to
``heart.classifier-auto``).
"""

from __future__ import annotations

from functools import cache
from itertools import permutations
from typing import Any

import numpy as np
import pandas as pd

from medtransfer.bench.competitors import medtransfer_methods, skada_competitors
from medtransfer.bench.core import Split, Suite, Unit
from medtransfer.data.sampling import choose_labelled
from medtransfer.datasets.heart import heart_disease
from medtransfer.evaluate.metrics import binary_auroc
from medtransfer.features.tabular import TabularEncoder

SITES = ("Cleveland", "Hungary", "Switzerland", "VA Long Beach")
# The suite's final predictor unless --classifier says otherwise.
DEFAULT_CLASSIFIER = "logreg"
# Single fits above ~0.5 s on these tables: benchmarked on their own, not tried by auto.
SLOW = ("jda", "tca", "tradaboost", "mapping_network", "adaptive_svm")


@cache
def _encoded(source: str, target: str) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray]:
    src, tgt = heart_disease(source), heart_disease(target)
    frame = pd.concat([src.inputs, tgt.inputs], ignore_index=True)
    sample_domain = np.r_[np.ones(len(src)), -2 * np.ones(len(tgt))].astype(int)
    encoder = TabularEncoder(zero_as_missing=("chol",)).fit(frame, sample_domain=sample_domain)
    return encoder.transform(frame), src.labels, tgt, sample_domain


class HeartSuite(Suite):
    """Target AUROC of every method, ``auto`` and skada's pipelines on the heart sites.

    Parameters
    ----------
    sites : tuple of str
        Hospitals; every ordered pair is a unit's source -> target.
    auto_repeats : int
        ``n_repeats`` of ``auto``'s cross-validation.
    classifier : str, default="logreg"
        Final predictor of medtransfer's competitors: a registered classifier or "auto"
        (see :func:`~medtransfer.bench.competitors.medtransfer_methods`).
    """

    name = "heart"
    metrics = ("auroc",)
    default_k = (0, 10, 40)

    def __init__(self, sites: tuple[str, ...] = SITES, auto_repeats: int = 2,
                 classifier: str = DEFAULT_CLASSIFIER) -> None:
        self.sites = sites
        self.auto_repeats = auto_repeats
        self.classifier = classifier

    @property
    def settings(self) -> dict[str, str]:
        return {"classifier": self.classifier}

    @property
    def label(self) -> str:
        """``heart`` with the logistic regression (the files of earlier runs), else
        ``heart.classifier-NAME``."""
        if self.classifier == DEFAULT_CLASSIFIER:
            return self.name
        return f"{self.name}.classifier-{self.classifier}"

    def pairs(self) -> list[tuple[str, str]]:
        return list(permutations(self.sites, 2))

    def split(self, unit: Unit) -> Split:
        X, y_source, tgt, sample_domain = _encoded(unit.source, unit.target)
        labelled = choose_labelled(tgt, unit.k, random_state=unit.seed)
        test = np.setdiff1d(np.arange(len(tgt)), labelled)
        n_s = len(y_source)
        y = np.r_[y_source, np.full(len(tgt), -1)]
        y[n_s + labelled] = tgt.labels[labelled]
        return Split(X, y, sample_domain, n_s + test, tgt.labels[test])

    def competitors(self, unit: Unit, split: Split) -> dict[str, Any]:
        methods = medtransfer_methods(
            "classification", unit.k, unit.seed, estimator=self.classifier,
            auto_exclude=SLOW,
            auto_options={"n_repeats": self.auto_repeats},
        )
        return {**methods, **skada_competitors(unit.seed)}

    def score(self, y_test: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
        return {"auroc": binary_auroc(y_test, prediction[:, 1])}
