"""A source-free run: adapt a fitted image run's backbone to unlabelled target images.

``medtransfer fit TARGET --source-model RUN`` reads no source data: it starts from RUN's
backbone and its chosen classifier, adapts the backbone to the target images (AdaBN, SHOT,
or AdaBN then SHOT; :mod:`medtransfer.finetune.source_free`) and writes a normal run folder
whose pipeline holds the adapted weights (``model/backbone.safetensors``, hash-listed in the
manifest) and RUN's classifier unchanged. So predict, evaluate and report work as for any
run. No target label is used for the adaptation; when TARGET has labels they only score
the adapted model and, as the reference ``source_model``, RUN's model before adaptation.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtransfer import artifacts
from medtransfer.data import Domain, harmonize_classes
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.explain.logits import linear_model_of
from medtransfer.features.backbones import Backbone, create_backbone
from medtransfer.features.featurize import image_spec
from medtransfer.finetune.checkpoint import cpu_state, save_weights
from medtransfer.finetune.inputs import image_tensor
from medtransfer.finetune.source_free import shot_adapt, source_model, update_batch_norm
from medtransfer.pipeline import SAVED_PARAMS, TransferPipeline
from medtransfer.run import (
    RunResult,
    describe_domain,
    predict_frame,
    score_models,
    subgroup_columns,
    write_run,
)

SOURCE_FREE_METHODS = ("adabn", "shot", "adabn+shot")
MODEL_NAME = "source_free"
REFERENCE = "source_model"


def fit_source_free_run(
    source_run: Path,
    target: Domain,
    out: Path,
    *,
    method: str = "adabn+shot",
    epochs: int = 2,
    lr: float = 1e-4,
    batch_size: int = 32,
    random_state: int = 0,
    force: bool = False,
    n_resamples: int = 1000,
    progress: bool = True,
    device: str | None = None,
    data_options: dict[str, Any] | None = None,
) -> RunResult:
    """Adapt ``source_run``'s model to ``target`` without source data; write the run ``out``.

    Parameters
    ----------
    source_run : Path
        A run fitted on images for classification (``medtransfer fit``).
    target : Domain
        Target images; labels, if any, are used only to score the result.
    out : Path
        Run folder to write (atomically).
    method : {"adabn", "shot", "adabn+shot"}
        AdaBN works with any classifier; SHOT trains the backbone through the classifier,
        so it needs RUN's chosen model to be a logistic regression on unmapped features
        (``--method source_only --classifier logreg``, say).
    epochs, lr, batch_size : int, float, int
        SHOT's epochs, AdamW learning rate and batch size (AdaBN uses the batch size).
    random_state : int
        Seed of SHOT's batches.
    force : bool
        Replace an existing ``out``.
    n_resamples : int
        Bootstrap resamples of the metrics' intervals.
    progress : bool
    device : str or None
    data_options : dict, optional
        Loader options, recorded in the manifest.

    Returns
    -------
    RunResult
        With the pipeline loaded back from ``out``.
    """
    artifacts.check_writable(out, force)
    if method not in SOURCE_FREE_METHODS:
        raise ConfigError(
            f"--source-free {method!r}; expected one of {', '.join(SOURCE_FREE_METHODS)}"
        )
    source = TransferPipeline.load(source_run, progress=progress, device=device)
    target, classes_report = _check(source, target, source_run)
    head = linear_model_of(source.models_[source.method], len(source.class_names_))
    if "shot" in method and head is None:
        raise ConfigError(
            f"SHOT trains the backbone through the classifier of {source_run}, which must be a "
            "logistic regression on unmapped features (fit it with --method source_only "
            "--classifier logreg); its model is "
            f"{type(source.models_[source.method]).__name__}. --source-free adabn works with "
            "any classifier"
        )
    spec = source.feature_spec_
    backbone = create_backbone(spec["backbone"], weights=spec["weights"], device=device)
    if backbone.weights_sha256 != spec["weights_sha256"]:
        raise ArtifactError(f"the backbone weights of {source_run} changed since it was fitted")
    options = {"epochs": epochs, "lr": lr, "batch_size": batch_size,
               "random_state": random_state, "progress": progress}
    with tempfile.TemporaryDirectory(prefix="medtransfer-source-free-") as tmp:
        backbone, history = _adapt(backbone, head, source, target, method, options)
        weights = Path(tmp) / "backbone.safetensors"
        save_weights(weights, cpu_state(backbone.model))
        pipeline = _adapted_pipeline(source, weights, progress, device)
        predictions = _predictions(pipeline, source, target)
        manifest = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "seed": random_state,
            "task": "classification",
            "method": MODEL_NAME,
            "classifier": source.classifier,
            "backbone": spec["backbone"],
            "data_options": data_options or {},
            "source": _source_description(source_run),
            "target": {**describe_domain(target), "n_labelled": 0},
            "chosen_method": MODEL_NAME,
            "selection": None,
            "source_free": {
                "method": method, "source_run": str(Path(source_run).resolve()),
                "source_model": source.default_model, "target_classes": classes_report,
                "history": history, **{k: v for k, v in options.items() if k != "progress"},
            },
            "metrics": score_models(pipeline, target, predictions, n_resamples),
        }
        write_run(out, manifest, pipeline, predictions, force=force)
    loaded = TransferPipeline.load(out, progress=progress, device=device)
    return RunResult(loaded, Path(out), manifest, predictions)


def _check(source: TransferPipeline, target: Domain, run: Path) -> tuple[Domain, dict]:
    """The target re-coded to the run's classes; errors for a run or target that cannot do."""
    if source.feature_spec_.get("kind") != "image" or source.task != "classification":
        raise ConfigError(
            f"--source-model {run} is a {source.feature_spec_.get('kind')} "
            f"{source.task} run; source-free adaptation adapts an image classifier's backbone"
        )
    if target.kind != "image":
        raise ConfigError(f"target {target.name!r} holds {target.kind} data; pass images")
    if len(target) == 0:
        raise ConfigError(
            f"target {target.name!r} has no images; source-free adaptation learns from the "
            "unlabelled target images"
        )
    reference = Domain(
        "the source run", "image", inputs=[], ids=np.array([]), class_names=source.class_names_
    )
    _, target, report = harmonize_classes(reference, target)
    return target, report


def _adapt(
    backbone: Backbone, head, source: TransferPipeline, target: Domain, method: str,
    options: dict[str, Any],
) -> tuple[Backbone, list[dict]]:
    """The adapted backbone (AdaBN and/or SHOT) and its history; target labels unused."""
    unlabelled = target.without_labels()
    size = source.feature_spec_["image_size"]
    history: list[dict] = []
    if "adabn" in method:
        images = image_tensor(unlabelled, backbone.config, size, progress=options["progress"])
        layers = update_batch_norm(backbone, images, batch_size=options["batch_size"])
        history.append({"stage": "adabn", "images": len(images), "layers": layers})
    if "shot" in method:
        model = source_model(backbone, head, source.class_names_, image_size=size,
                             batch_size=options["batch_size"])
        adapted = shot_adapt(
            model, unlabelled, epochs=options["epochs"], batch_size=options["batch_size"],
            lr=options["lr"], random_state=options["random_state"],
            progress=options["progress"],
        )
        backbone = adapted.backbone_
        history += adapted.history_
    return backbone.eval(), history


def _adapted_pipeline(
    source: TransferPipeline, weights: Path, progress: bool, device: str | None
) -> TransferPipeline:
    """RUN's chosen model (not recalibrated: its calibration was for the old features) on
    the adapted backbone."""
    params = {key: getattr(source, key) for key in SAVED_PARAMS}
    params.update(method=MODEL_NAME, method_params=None, weights=str(weights),
                  baselines=False, recalibrate=None)
    pipeline = TransferPipeline(**params, progress=progress, device=device,
                                cache_dir=source.cache_dir)
    spec = source.feature_spec_
    pipeline.class_names_ = source.class_names_
    pipeline.classes_report_ = source.classes_report_
    pipeline.labelled_target_ids_ = []
    pipeline.feature_spec_ = image_spec(spec["backbone"], weights=weights,
                                        image_size=spec["image_size"])
    pipeline.models_ = {MODEL_NAME: source.models_[source.method]}
    pipeline.recalibrator_ = None
    pipeline.run_weights_ = weights
    return pipeline


def _predictions(
    pipeline: TransferPipeline, source: TransferPipeline, target: Domain
) -> pd.DataFrame:
    """The adapted model's predictions on every target image, then RUN's model's own."""
    adapted = predict_frame(pipeline, target)
    before = predict_frame(source, target, models=[source.default_model])
    before["model"] = REFERENCE
    blocks = pd.concat([adapted, before], ignore_index=True)
    subgroups = subgroup_columns(target)
    if subgroups.empty:
        return blocks
    return pd.concat([blocks, pd.concat([subgroups] * 2, ignore_index=True)], axis=1)


def _source_description(run: Path) -> dict[str, Any]:
    """What RUN says of its source data (counts only); the source itself is not read."""
    described = artifacts.read_manifest(run, verify=False).get("source") or {}
    return {**described, "read": False}
