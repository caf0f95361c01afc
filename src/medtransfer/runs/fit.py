"""Fit any run model, score it and its baselines on the held-out target, write RUN/.

RUN/ holds the manifest, the model's files, ``predictions.csv`` and, for pipelines,
``embedding.npz`` (2-D views of source and target before and after adaptation, for the
report). Every file is listed with its sha256 in the manifest.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtransfer import artifacts
from medtransfer.data import Domain, harmonize_classes
from medtransfer.errors import DataError
from medtransfer.runs.base import RunModel
from medtransfer.runs.embedding import EMBEDDING, write_embedding
from medtransfer.runs.frames import describe_domain, reference_block, with_subgroups
from medtransfer.runs.validation import ValidationOptions

PREDICTIONS = "predictions.csv"


@dataclass
class RunResult:
    """What a run produced: the fitted model, its folder, manifest and predictions."""

    model: RunModel
    path: Path
    manifest: dict[str, Any]
    predictions: pd.DataFrame


def fit_run(
    model: RunModel,
    source: Domain | None,
    target: Domain,
    out: Path,
    *,
    target_labels: int | Sequence[str] = 0,
    force: bool = False,
    n_resamples: int = 1000,
    data_options: dict[str, Any] | None = None,
    references: Mapping[str, Any] | None = None,
    validation: ValidationOptions | None = None,
) -> RunResult:
    """Fit ``model`` on ``source`` and ``target`` and write the run folder ``out`` atomically.

    The target samples whose labels were not given to the fit are the held-out test set:
    every model the run holds (the method and its baselines) is scored on them with 95%
    bootstrap intervals. A pipeline first checks the held-out target for copies of source or
    labelled target cases (``validation.dedupe`` says what to do with them; recorded under
    ``leakage``). ``references`` are fixed, already-fitted regressors (a published dosing
    formula, say) scored on the same samples, from the target's raw inputs. Nothing is
    written if any step fails.

    Parameters
    ----------
    model : RunModel
        Unfitted: a TransferPipeline, FineTunedPipeline, SourceFreePipeline or EffectPipeline.
    source : Domain or None
        Labelled source data (None for a source-free model).
    target : Domain
        Target data; ``target_labels`` of its labels may be used by the fit.
    out : Path
        Run folder to write.
    target_labels : int or sequence of str, default=0
        k labelled target samples drawn stratified with the model's seed, or their ids.
    force : bool, default=False
        Replace an existing ``out``.
    n_resamples : int, default=1000
        Bootstrap resamples of the metrics' intervals.
    data_options : dict, optional
        Loader options, recorded in the manifest.
    references : mapping of str to regressor, optional
        Fixed predictors scored beside the run's models.
    validation : ValidationOptions, optional
        Leakage handling, operating point, prevalence and site-adaptation plan.
    """
    artifacts.check_writable(out, force)
    validation = validation or ValidationOptions()
    validation.check()
    model.fit(source, target, target_labels)
    heldout, leakage = model.heldout(source, target, validation.dedupe)
    predictions = model.predict_frame(heldout)
    if references:
        predictions = pd.concat(
            [predictions, *(reference_block(n, r, heldout) for n, r in references.items())],
            ignore_index=True,
        )
    if "model" in predictions:  # a block per model: each block gets the samples' subgroups
        predictions = with_subgroups(predictions, heldout)
    manifest = {
        **run_header(source, target, len(model.labelled_target_ids_), data_options,
                     model.random_state),
        **({} if leakage is None else {"leakage": leakage}),
        **model.run_entries(),
        "metrics": model.score(heldout, predictions, n_resamples),
    }
    manifest.update(model.validate(target, predictions, validation, n_resamples, manifest))
    write_run(out, manifest, model, predictions, force=force,
              embedding=model.embedding(source, target))
    return RunResult(model, Path(out), manifest, predictions)


def write_run(
    out: Path, manifest: dict[str, Any], model: RunModel, predictions: pd.DataFrame, *,
    force: bool, embedding: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write a run folder atomically: the model's files, ``predictions.csv``, the embedding
    if any, and the manifest (completed with the model's entries and every file's sha256)."""
    with artifacts.atomic_directory(out, force) as tmp:
        manifest.update(model.write_to(tmp))
        predictions.to_csv(tmp / PREDICTIONS, index=False)
        if embedding is not None:
            write_embedding(tmp / EMBEDDING, embedding)
        artifacts.write_manifest(tmp, manifest)


def run_header(
    source: Domain | None, target: Domain, n_labelled: int,
    data_options: dict[str, Any] | None, seed: int,
) -> dict[str, Any]:
    """The manifest entries every run starts with: when, how, and on what data."""
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "seed": seed,
        "data_options": data_options or {},
        "source": None if source is None else describe_domain(source),
        "target": {**describe_domain(target), "n_labelled": n_labelled},
    }


def evaluate_run(model: RunModel, test: Domain, *, n_resamples: int = 1000) -> dict[str, dict]:
    """Metrics with 95% intervals of every model of a fitted run model on a labelled ``test``."""
    if test.labels is None or not test.labelled_mask.any():
        raise DataError(f"test data {test.name!r} has no labels to score against; pass --label-col")
    class_names = getattr(model, "class_names_", None)
    if class_names is not None:
        reference = Domain("the run", test.kind, inputs=[], ids=np.array([]),
                           class_names=class_names)
        _, test, _ = harmonize_classes(reference, test)
    return model.score(test, model.predict_frame(test), n_resamples)
