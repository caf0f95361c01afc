"""The Domain: one data set from one place (a hospital, a scanner, a population)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from medtransfer.data.sample_domain import UNLABELLED as UNLABELLED  # re-exported for the loaders
from medtransfer.data.sample_domain import labelled_rows
from medtransfer.errors import DataError

Kind = Literal["image", "table"]
ImageInputs = list[Path] | np.ndarray


@dataclass(frozen=True, eq=False)
class Domain:
    """A data set from one domain: inputs, optional labels and per-sample metadata.

    A Domain is data, not behaviour: loaders return Domains, and nothing else reads files.

    Parameters
    ----------
    name : str
        Human-readable name ("Cleveland", "pneumonia/test").
    kind : {"image", "table"}
        What ``inputs`` holds.
    inputs : list of Path, ndarray or DataFrame
        Images as file paths or as an array of shape (n, H, W) or (n, H, W, C) of uint8;
        tables as a DataFrame of feature columns (the label and site columns removed).
    ids : ndarray of str
        One stable identifier per sample (id column, or path relative to the input root).
    labels : ndarray or None
        Classification: integer codes into ``class_names``, ``-1`` for an unlabelled
        sample. Regression: floats, NaN for unlabelled. ``None`` when no label is known.
    class_names : tuple of str or None
        Names of the classes; ``None`` for regression or unlabelled domains.
    metadata : DataFrame
        Per-sample metadata (``patient_id``, ``site``, ...), one row per sample. Never holds
        direct patient identifiers such as names.
    root : Path or None
        Folder the inputs were read from, if any.
    """

    name: str
    kind: Kind
    inputs: ImageInputs | pd.DataFrame
    ids: np.ndarray
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    metadata: pd.DataFrame = field(default_factory=pd.DataFrame)
    root: Path | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.inputs) != n:
            raise DataError(f"domain {self.name!r}: {len(self.inputs)} inputs but {n} ids")
        if self.labels is not None and len(self.labels) != n:
            raise DataError(f"domain {self.name!r}: {len(self.labels)} labels but {n} ids")
        if len(self.metadata) not in (0, n):
            raise DataError(f"domain {self.name!r}: {len(self.metadata)} metadata rows, {n} ids")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_regression(self) -> bool:
        """True when labels are continuous (no class names)."""
        return self.labels is not None and self.class_names is None

    @property
    def labelled_mask(self) -> np.ndarray:
        """Boolean mask of the samples that carry a label."""
        if self.labels is None:
            return np.zeros(len(self), dtype=bool)
        return labelled_rows(self.labels, "regression" if self.is_regression else "classification")

    @property
    def patient_ids(self) -> np.ndarray | None:
        """Patient identifier per sample (for grouped splits), or None."""
        if "patient_id" in self.metadata:
            return self.metadata["patient_id"].to_numpy()
        return None

    def subset(self, index: np.ndarray | list[int], name: str | None = None) -> Domain:
        """A new Domain holding only the samples at positional ``index``."""
        idx = np.asarray(index, dtype=int)
        if isinstance(self.inputs, pd.DataFrame):
            inputs: ImageInputs | pd.DataFrame = self.inputs.iloc[idx].reset_index(drop=True)
        elif isinstance(self.inputs, np.ndarray):
            inputs = self.inputs[idx]
        else:
            inputs = [self.inputs[i] for i in idx]
        metadata = self.metadata
        if len(metadata):
            metadata = metadata.iloc[idx].reset_index(drop=True)
        return replace(
            self,
            name=name or self.name,
            inputs=inputs,
            ids=self.ids[idx],
            labels=None if self.labels is None else self.labels[idx],
            metadata=metadata,
        )

    def without_labels(self) -> Domain:
        """The same samples with every label hidden."""
        return replace(self, labels=None)

    def class_counts(self) -> dict[str, int]:
        """Number of labelled samples per class name."""
        if self.labels is None or self.class_names is None:
            return {}
        codes = self.labels[self.labelled_mask]
        return {c: int(np.sum(codes == i)) for i, c in enumerate(self.class_names)}
