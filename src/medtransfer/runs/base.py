"""The protocol every run model follows, so that one :func:`~medtransfer.runs.fit.fit_run`
fits, scores and writes any of them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtransfer.data import Domain
from medtransfer.runs.validation import heldout_target


class RunModel(ABC):
    """A model that a run folder holds.

    ``fit`` learns from the source and the target (``target_labels`` of its labels), and
    sets ``labelled_target_ids_``, the target samples whose labels it used: every other
    target sample is held out and scored. ``predict_frame`` gives the long table of
    predictions written as ``predictions.csv``, ``score`` the metrics with intervals,
    ``write_to`` the model's files and manifest entries, ``run_entries`` what the run's
    manifest says about the fit (task, method, what was chosen and why).

    The remaining methods are optional steps of a run with defaults that skip them.
    """

    labelled_target_ids_: list[str]
    random_state: int

    @abstractmethod
    def fit(
        self, source: Domain | None, target: Domain, target_labels: int | Sequence[str] = 0
    ) -> RunModel:
        """Fit on ``source`` and ``target``; set ``labelled_target_ids_``."""

    @abstractmethod
    def predict_frame(self, domain: Domain, X: np.ndarray | None = None) -> pd.DataFrame:
        """Predictions on every sample of ``domain`` (``X``: its features, if computed)."""

    @abstractmethod
    def score(self, domain: Domain, predictions: pd.DataFrame, n_resamples: int) -> dict:
        """Metrics with 95% intervals of ``predictions`` on the labelled samples of ``domain``."""

    @abstractmethod
    def write_to(self, folder: Path) -> dict[str, Any]:
        """Write the model's files under ``folder``; return its manifest entries."""

    @abstractmethod
    def run_entries(self) -> dict[str, Any]:
        """Manifest entries of the fit: task, method, chosen method, selection, ..."""

    def heldout(
        self, source: Domain | None, target: Domain, dedupe: str
    ) -> tuple[Domain, dict | None]:
        """The target samples to score, and the leakage check's record (None: not checked)."""
        return heldout_target(target, self.labelled_target_ids_), None

    def validate(
        self, target: Domain, predictions: pd.DataFrame, options: Any, n_resamples: int,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        """Manifest entries of the run's clinical validation (``options``: a
        :class:`~medtransfer.runs.validation.ValidationOptions`); none by default."""
        return {}

    def embedding(self, source: Domain | None, target: Domain) -> dict[str, np.ndarray] | None:
        """2-D views of source and target before and after adaptation (None: not drawn)."""
        return None
