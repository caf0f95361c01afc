"""A run: fit a TransferPipeline, score it and its baselines on held-out target data, write RUN/.

RUN/ holds the manifest, the models, ``predictions.csv`` and ``embedding.npz`` (2-D views of
source and target before and after adaptation, for the report).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA

from medtransfer import artifacts
from medtransfer.adapt import adapted_features
from medtransfer.adapt.domain_estimator import subsample_rows
from medtransfer.data import Domain, harmonize_classes
from medtransfer.data.sample_domain import SOURCE, TARGET
from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.bootstrap import evaluate_predictions
from medtransfer.evaluate.dosing import dosing_metrics
from medtransfer.evaluate.subgroups import age_bands
from medtransfer.pipeline import TransferPipeline
from medtransfer.validation_run import (
    ValidationOptions,
    guard_run_heldout,
    plan_record,
    run_validation,
)
from medtransfer.validation_run import (
    heldout_target as heldout_target,  # re-exported: effect runs import it from here
)

if TYPE_CHECKING:
    from medtransfer.effect_pipeline import EffectPipeline

PREDICTIONS = "predictions.csv"
EMBEDDING = "embedding.npz"
EMBEDDING_MAX_POINTS = 2000


@dataclass
class RunResult:
    """What a run produced: the fitted pipeline, its folder, metrics and predictions."""

    pipeline: TransferPipeline | EffectPipeline
    path: Path
    manifest: dict[str, Any]
    predictions: pd.DataFrame


def fit_run(
    source: Domain,
    target: Domain,
    out: Path,
    *,
    pipeline: TransferPipeline,
    target_labels: int | Sequence[str] = 0,
    force: bool = False,
    n_resamples: int = 1000,
    data_options: dict[str, Any] | None = None,
    references: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    validation: ValidationOptions | None = None,
) -> RunResult:
    """Fit ``pipeline`` and write the run folder ``out`` atomically.

    The target samples whose labels were not given to the fit are the held-out test set:
    every model (the method and its baselines) is scored on them with 95% bootstrap
    intervals. ``references`` are fixed, already-fitted regressors (a published dosing
    formula, say) scored on the same samples, from the target's raw inputs. The folder also
    holds ``embedding.npz``, source and target before and after adaptation in 2-D (see
    :func:`adaptation_embedding`), listed with its sha256 in the manifest like every file.
    ``details`` are further manifest entries (how a fine-tuned backbone was trained, say).
    The held-out target is first checked for copies of source or labelled target cases
    (:func:`medtransfer.validation_run.guard_heldout`; ``validation.dedupe`` says what to
    do with them), recorded under ``leakage``. Nothing is written if any step fails.
    """
    artifacts.check_writable(out, force)
    validation = validation or ValidationOptions()
    validation.check()
    pipeline.fit(source, target, target_labels)
    features = pipeline.features(source), pipeline.features(target)
    heldout, leakage = guard_run_heldout(source, target, pipeline.labelled_target_ids_, features,
                                         validation.dedupe)
    position = {str(i): n for n, i in enumerate(target.ids)}
    rows = [position[str(i)] for i in heldout.ids]  # the fit's features, not computed again
    predictions = predict_frame(pipeline, heldout, X=features[1][rows])
    if references:
        predictions = pd.concat(
            [predictions, *(_reference_block(n, r, heldout) for n, r in references.items())],
            ignore_index=True,
        )
    predictions = _with_subgroups(predictions, heldout)
    embedding = adaptation_embedding(pipeline, source, target, features=features)
    metrics = score_models(pipeline, heldout, predictions, n_resamples)
    used = np.flatnonzero(np.isin(target.ids.astype(str), pipeline.labelled_target_ids_))
    study = None if pipeline.task != "classification" else run_validation(
        pipeline.method, list(pipeline.class_names_), predictions,
        predict_frame(pipeline, target.subset(used), [pipeline.method], X=features[1][used])
        if used.size else None,
        validation, n_resamples=n_resamples, random_state=pipeline.random_state)
    for name, measures in (study or {}).get("calibration", {}).items():
        metrics.get(name, {}).update(measures)
    manifest = {
        **run_header(pipeline, source, target, len(pipeline.labelled_target_ids_), data_options),
        "leakage": leakage,
        "chosen_method": pipeline.chosen_method,
        "selection": _selection(pipeline),
        "metrics": metrics,
        "validation": study,
        **(details or {}),
    }
    if validation.plan is not None:
        manifest["plan"] = plan_record(
            validation.plan, manifest, predictions, class_names=list(pipeline.class_names_ or []),
            labelled_ids=pipeline.labelled_target_ids_, recalibrate=pipeline.recalibrate)
    write_run(out, manifest, pipeline, predictions, force=force, embedding=embedding)
    return RunResult(pipeline, Path(out), manifest, predictions)


def write_run(
    out: Path, manifest: dict[str, Any], model: TransferPipeline | EffectPipeline,
    predictions: pd.DataFrame, *, force: bool, embedding: Mapping[str, np.ndarray] | None = None,
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
    pipeline: TransferPipeline, source: Domain, target: Domain, n_labelled: int,
    data_options: dict[str, Any] | None,
) -> dict[str, Any]:
    """The manifest entries every run starts with: when, how, and on what data."""
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "seed": pipeline.random_state,
        "task": pipeline.task,
        "method": pipeline.method,
        "classifier": pipeline.classifier,
        "backbone": pipeline.backbone if source.kind == "image" else None,
        "data_options": data_options or {},
        "source": describe_domain(source),
        "target": {**describe_domain(target), "n_labelled": n_labelled},
    }


def adaptation_embedding(
    pipeline: TransferPipeline,
    source: Domain,
    target: Domain,
    *,
    max_points: int = EMBEDDING_MAX_POINTS,
    features: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """2-D coordinates of source and target before and after the fitted method's adaptation.

    "Before" are the features the method was given (after the encoder or backbone): the
    labelled source rows and every target row, as in ``pipeline.fit``. "After" is what its
    final predictor saw of the same rows (see :func:`medtransfer.adapt.adapted_features`).
    Both panels use one PCA fitted on the before features of the drawn rows, each panel
    standardised over source and target together, so positions are comparable; a method
    that works in a space of its own (subspace alignment, TCA, JDA) gets its own PCA,
    rotated to match the before panel as closely as possible. At most ``max_points`` rows
    per domain are drawn, seeded by ``pipeline.random_state``. No ids are kept.

    Parameters
    ----------
    pipeline : TransferPipeline
        Fitted on ``source`` and ``target``.
    source, target : Domain
        The domains given to ``pipeline.fit``.
    max_points : int, default=2000
        Cap on the rows drawn from each domain.
    features : (ndarray, ndarray), optional
        ``pipeline.features`` of ``source`` and ``target``, when already computed.

    Returns
    -------
    dict of str to ndarray
        ``source``, ``target``, ``source_adapted``, ``target_adapted`` (n x 2 coordinates),
        ``effect`` ("mapped", "reweighted" or "unchanged"), ``projection`` ("shared" or
        "separate") and, for reweighting methods, ``source_weight`` (one per source point).
    """
    X_source, X_target = features or (pipeline.features(source), pipeline.features(target))
    X_source = X_source[source.labelled_mask]
    X = np.vstack([X_source, X_target])
    codes = np.r_[np.full(len(X_source), SOURCE), np.full(len(X_target), TARGET)]
    view = adapted_features(pipeline.models_[pipeline.method], X, codes, fitted_rows=True)
    rng = np.random.default_rng(pipeline.random_state)
    drawn = np.r_[subsample_rows(codes > 0, max_points, rng),
                  subsample_rows(codes < 0, max_points, rng)]
    is_source = codes[drawn] > 0
    before, after = _project(X[drawn], view.features[drawn], view.same_space,
                             pipeline.random_state)
    embedding = {
        "source": before[is_source],
        "target": before[~is_source],
        "source_adapted": after[is_source],
        "target_adapted": after[~is_source],
        "effect": np.array(view.effect),
        "projection": np.array("shared" if view.same_space else "separate"),
    }
    if view.weight is not None:
        embedding["source_weight"] = view.weight[drawn][is_source]
    return embedding


def _standardised(X: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance (constant columns only centred)."""
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)


def _pca_2d(Z: np.ndarray, seed: int) -> PCA:
    return PCA(n_components=min(2, *Z.shape), random_state=seed).fit(Z)


def _two_columns(coords: np.ndarray) -> np.ndarray:
    """Pad a projection with fewer than two components (one feature, one row) with zeros."""
    return np.column_stack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])


def _project(
    before: np.ndarray, after: np.ndarray, same_space: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates of the rows before and after adaptation (see adaptation_embedding)."""
    Zb, Za = _standardised(before), _standardised(after)
    pca = _pca_2d(Zb, seed)
    coords = _two_columns(pca.transform(Zb))
    if same_space:
        return coords, _two_columns(pca.transform(Za))
    own = _two_columns(_pca_2d(Za, seed).transform(Za))
    rotation, _ = orthogonal_procrustes(own, coords)
    return coords, own @ rotation


def write_embedding(path: Path, embedding: Mapping[str, np.ndarray]) -> None:
    """Write ``embedding`` (from :func:`adaptation_embedding`) as an ``.npz`` atomically.

    Only numeric arrays and plain strings are written, so the file loads with
    ``np.load(path, allow_pickle=False)``.
    """
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in embedding.items()})
    artifacts.write_bytes(Path(path), buffer.getvalue())


def evaluate_run(
    pipeline: TransferPipeline, test: Domain, *, n_resamples: int = 1000
) -> dict[str, dict]:
    """Metrics with 95% intervals of every model of a fitted pipeline on a labelled ``test``."""
    if test.labels is None or not test.labelled_mask.any():
        raise DataError(f"test data {test.name!r} has no labels to score against; pass --label-col")
    if pipeline.task == "classification":
        reference = Domain(
            "the run", test.kind, inputs=[], ids=np.array([]), class_names=pipeline.class_names_
        )
        _, test, _ = harmonize_classes(reference, test)
    return score_models(pipeline, test, predict_frame(pipeline, test), n_resamples)


def describe_domain(domain: Domain) -> dict[str, Any]:
    """Counts and label distribution of a domain, for the manifest."""
    return {
        "name": domain.name,
        "kind": domain.kind,
        "n": len(domain),
        "class_counts": domain.class_counts(),
        "label_summary": _label_summary(domain),
        "root": str(domain.root) if domain.root else None,
    }


def _label_summary(domain: Domain) -> dict[str, float] | None:
    """Mean, median and quartiles of a continuous label (None for classes)."""
    if not domain.is_regression or not domain.labelled_mask.any():
        return None
    y = domain.labels[domain.labelled_mask].astype(float)
    q1, median, q3 = np.percentile(y, [25, 50, 75])
    return {"mean": float(y.mean()), "median": float(median), "q1": float(q1), "q3": float(q3)}


def predict_frame(
    pipeline: TransferPipeline, domain: Domain, models: Sequence[str] | None = None,
    X: np.ndarray | None = None,
) -> pd.DataFrame:
    """Long table of the predictions of ``models`` (default: all) on ``domain``, one block each.

    ``X``, when given, are ``domain``'s features already computed (not computed again).
    """
    X = pipeline.features(domain) if X is None else X
    truth = _label_names(pipeline, domain)
    blocks = []
    for name in models or pipeline.model_names:
        block = pd.DataFrame({"model": name, "id": domain.ids.astype(str), "label": truth})
        if pipeline.task == "classification":
            proba = pipeline.proba_from_features(X, name)
            block["prediction"] = np.asarray(pipeline.class_names_)[proba.argmax(1)]
            for column, class_name in enumerate(pipeline.class_names_):
                block[f"p_{class_name}"] = proba[:, column]
        else:
            block["prediction"] = pipeline.values_from_features(X, name)
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def subgroup_columns(domain: Domain) -> pd.DataFrame:
    """Subgroup attributes of each sample: ``subgroup_site`` from the metadata, and for
    tables ``subgroup_sex`` and ``subgroup_age`` (age bands) from raw ``sex`` / ``age``
    columns (matched case-insensitively). Absent attributes are skipped; never patient ids."""
    columns: dict[str, np.ndarray] = {}
    if "site" in domain.metadata:
        columns["subgroup_site"] = domain.metadata["site"].to_numpy(dtype=object)
    if domain.kind == "table" and isinstance(domain.inputs, pd.DataFrame):
        raw = {str(c).lower(): c for c in domain.inputs.columns}
        if "sex" in raw:
            columns["subgroup_sex"] = domain.inputs[raw["sex"]].to_numpy(dtype=object)
        if "age" in raw:
            columns["subgroup_age"] = age_bands(domain.inputs[raw["age"]].to_numpy()).to_numpy(
                dtype=object, na_value=None)
    return pd.DataFrame(columns, index=range(len(domain)))


def _with_subgroups(predictions: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """``predictions`` (blocks of ``domain``'s samples, in order) with subgroup columns."""
    sub = subgroup_columns(domain)
    n_blocks, rest = divmod(len(predictions), max(len(domain), 1))
    if sub.empty or rest or not len(domain):
        return predictions
    tiled = pd.concat([sub] * n_blocks, ignore_index=True)
    return pd.concat([predictions.reset_index(drop=True), tiled], axis=1)


def _reference_block(name: str, reference: Any, domain: Domain) -> pd.DataFrame:
    """Predictions of a fixed regressor on a table domain's raw inputs."""
    if domain.kind != "table" or not domain.is_regression:
        raise ConfigError("reference predictors apply to regression on tables only")
    return pd.DataFrame(
        {
            "model": name,
            "id": domain.ids.astype(str),
            "label": domain.labels.astype(float),
            "prediction": reference.predict(domain.inputs),
        }
    )


def _label_names(pipeline: TransferPipeline, domain: Domain) -> list:
    if domain.labels is None:
        return [""] * len(domain)
    if pipeline.task == "regression":
        return list(domain.labels.astype(float))
    names = np.asarray(pipeline.class_names_, dtype=object)
    return [names[c] if c >= 0 else "" for c in domain.labels]


def score_models(
    pipeline: TransferPipeline, domain: Domain, predictions: pd.DataFrame, n_resamples: int
) -> dict[str, dict]:
    """Metrics with 95% intervals of every model on the labelled samples of ``domain``."""
    labelled = domain.labelled_mask
    if not labelled.any():
        return {}
    groups = domain.patient_ids
    groups = None if groups is None else groups[labelled]
    scores = {}
    for name, block in predictions.groupby("model", sort=False):
        block = block[labelled]
        if pipeline.task == "regression":
            # a fixed reference (a dosing formula) has no prediction where its inputs are missing
            block = block[np.isfinite(block["prediction"].to_numpy(float))]
            table = dosing_metrics(
                block["label"].to_numpy(float),
                block["prediction"].to_numpy(float),
                n_bootstrap=n_resamples,
                random_state=pipeline.random_state,
            )
            scores[name] = {
                row.metric: {"value": row.value, "low": row.ci_low, "high": row.ci_high}
                for row in table.itertuples()
            }
        else:
            proba = block[[f"p_{c}" for c in pipeline.class_names_]].to_numpy()
            scores[name] = evaluate_predictions(
                domain.labels[labelled],
                proba,
                class_names=pipeline.class_names_,
                groups=groups,
                n_resamples=n_resamples,
                random_state=pipeline.random_state,
            )
    return scores


def _selection(pipeline: TransferPipeline) -> dict | None:
    evidence = getattr(pipeline.models_[pipeline.method], "evidence_", None)
    return artifacts.to_json(evidence) if evidence is not None else None
