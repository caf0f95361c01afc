"""Read what the report needs from a run directory (manifest, predictions, optional extras).

Every file is read with a safe parser (JSON, CSV, ``np.load(allow_pickle=False)``, PNG bytes);
nothing a user hands us is unpickled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.artifacts import read_manifest
from medtransfer.data.sample_domain import labelled_rows
from medtransfer.errors import ArtifactError

PREDICTIONS = "predictions.csv"
TASKS = ("classification", "regression")
BASELINE_ORDER = ("source_only", "target_only", "pooled")
RECALIBRATED = "+recalibrated"
EMBEDDING_KEYS = ("source", "target", "source_adapted", "target_adapted")
EMBEDDING_EFFECTS = ("mapped", "reweighted", "unchanged")
EMBEDDING_PROJECTIONS = ("shared", "separate")
SUBGROUP_PREFIX = "subgroup_"
# keys that may carry a direct patient identifier: never rendered from free-form JSON
IDENTIFYING = re.compile(
    r"patient|person|subject|mrn|ssn|birth|dob|(^|_)ids?$|(^|_)(first|last|full|given|family)?"
    r"_?names?$",
    re.IGNORECASE,
)


@dataclass
class ModelPredictions:
    """One model's held-out predictions.

    Classification: ``y`` holds class codes (-1 unknown), ``proba`` the probabilities and
    ``predicted`` the called class names. Regression: ``y`` and ``predicted`` are floats
    (NaN unknown or not predicted) and ``proba`` has no columns. ``subgroups`` holds the
    run's ``subgroup_<attribute>`` columns (site, sex, age band), one column per attribute
    named without the prefix, NA where unknown; no columns when the run wrote none.
    """

    name: str
    ids: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    predicted: np.ndarray
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def labelled(self) -> np.ndarray:
        """Mask of the cases whose true label is known."""
        return labelled_rows(self.y)

    @property
    def scored(self) -> np.ndarray:
        """Mask of the cases that can be scored: label known and, for regression, a finite
        prediction (a reference formula gives none when an input it needs is missing)."""
        if self.predicted.dtype.kind == "f":
            return self.labelled & np.isfinite(self.predicted)
        return self.labelled


@dataclass
class Embedding:
    """Source and target in 2-D, before and after adaptation (a run's ``embedding.npz``).

    ``points`` maps each of ``EMBEDDING_KEYS`` to an (n, 2) array. ``effect`` says what the
    method did to the features ("mapped", "reweighted" or "unchanged"), ``projection``
    whether both panels share one PCA ("shared") or the after panel has its own
    ("separate"), and ``source_weight`` holds the training weight of each source point of a
    reweighting method; all three are None in files written without them.
    """

    points: dict[str, np.ndarray]
    effect: str | None = None
    projection: str | None = None
    source_weight: np.ndarray | None = None


@dataclass
class RunData:
    """Everything a report shows, read from one run directory."""

    path: Path
    manifest: dict
    class_names: list[str]
    models: dict[str, ModelPredictions]
    shift: dict | None = None
    embedding: Embedding | None = None
    explain: list[Path] = field(default_factory=list)

    @property
    def chosen(self) -> str:
        """Name of the model the run selected (its predictions block)."""
        return str(self.manifest.get("method"))

    @property
    def selected(self) -> str:
        """The method behind the chosen model (``auto`` resolves to the one it picked)."""
        return str(self.manifest.get("chosen_method") or self.chosen)

    @property
    def task(self) -> str:
        """"classification" or "regression"."""
        return str(self.manifest.get("task") or "classification")

    @property
    def is_regression(self) -> bool:
        """Whether the outcome is a continuous value rather than a class."""
        return self.task == "regression"


def load_run(run_dir: Path) -> RunData:
    """Read and check ``run_dir``'s manifest (sha256-verified) and predictions.

    Parameters
    ----------
    run_dir : Path
        A run directory written by ``medtransfer fit``.

    Returns
    -------
    RunData
    """
    run = Path(run_dir)
    manifest = read_manifest(run, verify=True)
    if "effect" in manifest:
        raise ArtifactError(
            f"{run} is a treatment-effect run: RunData holds one outcome per case; its report "
            "is medtransfer.report.effect.effect_html (what `medtransfer report` writes)"
        )
    task = str(manifest.get("task") or "classification")
    if task not in TASKS:
        raise ArtifactError(
            f"{run / 'manifest.json'}: 'task' is {task!r}; expected one of {list(TASKS)}"
        )
    class_names = [str(c) for c in manifest.get("class_names") or []]
    if task == "classification" and len(class_names) < 2:
        raise ArtifactError(
            f"{run / 'manifest.json'}: 'class_names' lists {class_names}; a classification run "
            "needs at least two classes; refit the run"
        )
    models = read_predictions(run / PREDICTIONS, class_names, task)
    if str(manifest.get("method")) not in models:
        raise ArtifactError(
            f"{run / PREDICTIONS} has no rows for the chosen method {manifest.get('method')!r} "
            f"(models found: {sorted(models)}); refit the run"
        )
    shift = read_shift(run / "shift.json")
    return RunData(
        path=run, manifest=manifest, class_names=class_names,
        models=order_models(models, str(manifest.get("method"))), shift=shift,
        embedding=read_embedding(run / "embedding.npz"),
        explain=sorted((run / "explain").glob("*.png")),
    )


def read_predictions(
    path: Path, class_names: list[str], task: str = "classification"
) -> dict[str, ModelPredictions]:
    """Parse the long-format predictions file into one block per model."""
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; the run is incomplete, refit it")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    regression = task == "regression"
    needed = ["model", "id", "label", "prediction",
              *([] if regression else [f"p_{c}" for c in class_names])]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ArtifactError(
            f"{path} lacks columns {missing}; expected {needed}"
            + ("" if regression else " (one p_<class> per class name)")
        )
    if regression:
        return read_values(path, table)
    codes = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(table["label"]) - set(codes) - {""})
    if unknown:
        raise ArtifactError(
            f"{path}: column 'label' holds {unknown[:5]}, not among class_names {class_names}; "
            "leave unknown labels empty"
        )
    models = {}
    for name, block in table.groupby("model", sort=False):
        proba = block[[f"p_{c}" for c in class_names]].astype(float).to_numpy()
        models[str(name)] = ModelPredictions(
            name=str(name), ids=block["id"].to_numpy(dtype=str),
            y=block["label"].map(lambda v: codes.get(v, -1)).to_numpy(dtype=int),
            proba=proba, predicted=block["prediction"].to_numpy(dtype=str),
            subgroups=subgroup_table(block),
        )
    return models


def subgroup_table(block: pd.DataFrame) -> pd.DataFrame:
    """The ``subgroup_*`` columns of a block (strings, empty cells NA), named by attribute;
    a column whose name suggests a patient identifier is never read."""
    names = [c for c in block.columns if str(c).startswith(SUBGROUP_PREFIX)
             and not IDENTIFYING.search(str(c)[len(SUBGROUP_PREFIX):])]
    table = block[names].astype("string").reset_index(drop=True)
    table = table.mask(table.apply(lambda col: col.str.strip() == ""))
    return table.rename(columns=lambda c: str(c)[len(SUBGROUP_PREFIX):])


def numbers(path: Path, table: pd.DataFrame, column: str) -> np.ndarray:
    """A column of numbers; empty cells (and "nan") are missing, anything else is refused."""
    values = pd.to_numeric(table[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = sorted(set(table[column][np.isnan(values)]) - {"", "nan", "NaN"})
    if bad:
        raise ArtifactError(
            f"{path}: column {column!r} holds {bad[:5]}, not numbers; a regression run writes "
            "numeric values and leaves unknown ones empty"
        )
    return values


def read_values(path: Path, table: pd.DataFrame) -> dict[str, ModelPredictions]:
    """A regression run's blocks: true and predicted values per model."""
    y, predicted = numbers(path, table, "label"), numbers(path, table, "prediction")
    models = {}
    for name, block in table.groupby("model", sort=False):
        rows = block.index.to_numpy()  # positions: the table keeps its default index
        models[str(name)] = ModelPredictions(
            name=str(name), ids=table["id"].to_numpy(dtype=str)[rows], y=y[rows],
            proba=np.empty((len(rows), 0)), predicted=predicted[rows],
            subgroups=subgroup_table(block),
        )
    return models


def order_models(models: dict[str, ModelPredictions], chosen: str) -> dict[str, ModelPredictions]:
    """Chosen model first, then the baselines in their usual order, then any others."""
    first = [chosen, *[b for b in BASELINE_ORDER if b != chosen]]
    names = [n for n in first if n in models] + [n for n in models if n not in first]
    return {n: models[n] for n in names}


def read_embedding(path: Path) -> Embedding | None:
    """The 2-D embeddings of source and target before/after adaptation, if saved."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: np.asarray(data[k], dtype=float) for k in EMBEDDING_KEYS if k in data}
        effect = _choice(path, data, "effect", EMBEDDING_EFFECTS)
        projection = _choice(path, data, "projection", EMBEDDING_PROJECTIONS)
        weight = np.asarray(data["source_weight"], dtype=float) if "source_weight" in data else None
    bad = [k for k, a in arrays.items() if a.ndim != 2 or a.shape[1] != 2]
    if bad or set(arrays) != set(EMBEDDING_KEYS):
        raise ArtifactError(
            f"{path} must hold 2-D arrays {list(EMBEDDING_KEYS)} of shape (n, 2); "
            f"found {sorted(arrays)} with bad shapes for {bad}"
        )
    if weight is not None and (weight.shape != (len(arrays["source_adapted"]),)
                               or not np.all(np.isfinite(weight)) or np.any(weight < 0)):
        raise ArtifactError(
            f"{path}: 'source_weight' must hold one finite, non-negative weight per source "
            f"point ({len(arrays['source_adapted'])}); found shape {weight.shape}"
        )
    return Embedding(arrays, effect, projection, weight)


def _choice(path: Path, data, key: str, allowed: tuple[str, ...]) -> str | None:
    """An optional one-word string entry of an ``.npz``, checked against ``allowed``."""
    if key not in data:
        return None
    value = data[key]
    word = str(value[()]) if value.dtype.kind == "U" and value.ndim == 0 else None
    if word not in allowed:
        raise ArtifactError(f"{path}: {key!r} must be one of {list(allowed)}; refit the run")
    return word


def read_shift(path: Path) -> dict | None:
    """The run's ``shift.json`` (as written by `medtransfer shift`), None when absent."""
    if not path.is_file():
        return None
    try:
        shift = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"{path} is not valid JSON ({exc}); write it with `medtransfer shift` or remove it"
        ) from None
    if not isinstance(shift, dict):
        raise ArtifactError(
            f"{path} holds a JSON {type(shift).__name__}, not the object `medtransfer shift` "
            "writes; write it again with `medtransfer shift` or remove it"
        )
    return shift
