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

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from medtransfer import artifacts
from medtransfer.data import Domain, harmonize_classes
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.backbones import Backbone, create_backbone
from medtransfer.features.featurize import image_spec
from medtransfer.finetune.checkpoint import cpu_state, save_weights
from medtransfer.finetune.inputs import image_tensor
from medtransfer.finetune.logits import linear_model_of
from medtransfer.finetune.source_free import shot_adapt, source_model, update_batch_norm
from medtransfer.params import Constraints, Interval, Options, check_params
from medtransfer.runs.base import RunModel
from medtransfer.runs.frames import describe_domain
from medtransfer.runs.pipeline import TransferPipeline
from medtransfer.runs.pipeline_files import SAVED_PARAMS

SOURCE_FREE_METHODS = ("adabn", "shot", "adabn+shot")
MODEL_NAME = "source_free"
REFERENCE = "source_model"


class SourceFreePipeline(BaseEstimator, RunModel):
    """A fitted image run's model adapted to unlabelled target images without source data.

    Parameters
    ----------
    source_run : Path
        A run fitted on images for classification (``medtransfer fit``).
    adaptation : {"adabn", "shot", "adabn+shot"}, default="adabn+shot"
        AdaBN works with any classifier; SHOT trains the backbone through the classifier,
        so it needs RUN's chosen model to be a logistic regression on unmapped features
        (``--method source_only --classifier logreg``, say).
    epochs, lr, batch_size : int, float, int
        SHOT's epochs, AdamW learning rate and batch size (AdaBN uses the batch size).
    random_state : int, default=0
        Seed of SHOT's batches.
    progress : bool, default=True
    device : str or None, default=None
    verify_key : bytes, optional
        Also check ``source_run``'s signature.

    Attributes
    ----------
    pipeline_ : TransferPipeline
        RUN's chosen model on the adapted backbone (what the written run holds).
    source_pipeline_ : TransferPipeline
        RUN's pipeline as it was loaded (scored beside it as ``source_model``).
    target_ : Domain
        The target re-coded to RUN's classes.
    labelled_target_ids_ : list
        Always empty: no target label is used.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "adaptation": Options(*SOURCE_FREE_METHODS),
        "epochs": Interval(int, 1, None),
        "lr": Interval(float, 0, None, closed="neither"),
        "batch_size": Interval(int, 1, None),
    }

    def __init__(
        self, source_run: Path, adaptation: str = "adabn+shot", epochs: int = 2, lr: float = 1e-4,
        batch_size: int = 32, random_state: int = 0, progress: bool = True,
        device: str | None = None, verify_key: bytes | None = None,
    ) -> None:
        self.source_run = source_run
        self.adaptation = adaptation
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress
        self.device = device
        self.verify_key = verify_key

    def fit(
        self, source: Domain | None, target: Domain, target_labels: int | Sequence[str] = 0
    ) -> SourceFreePipeline:
        """Adapt RUN's backbone to ``target``'s images; ``source`` must be None and
        ``target_labels`` 0 (labels, if any, only score the result)."""
        if source is not None:
            raise ConfigError(f"source-free adaptation reads no source data; got {source.name!r}")
        if not isinstance(target_labels, int | np.integer) or target_labels:
            raise ConfigError("source-free adaptation uses no target label; pass target_labels=0")
        check_params(self)
        run = Path(self.source_run)
        run_model = TransferPipeline.load(run, self.verify_key, progress=self.progress,
                                             device=self.device)
        self.target_, classes_report = _check(run_model, target, run)
        head = linear_model_of(run_model.models_[run_model.method],
                               len(run_model.class_names_))
        if "shot" in self.adaptation and head is None:
            raise ConfigError(
                f"SHOT trains the backbone through the classifier of {run}, which must be a "
                "logistic regression on unmapped features (fit it with --method source_only "
                "--classifier logreg); its model is "
                f"{type(run_model.models_[run_model.method]).__name__}. --source-free "
                "adabn works with any classifier"
            )
        spec = run_model.feature_spec_
        backbone = create_backbone(spec["backbone"], weights=spec["weights"], device=self.device)
        if backbone.weights_sha256 != spec["weights_sha256"]:
            raise ArtifactError(f"the backbone weights of {run} changed since it was fitted")
        options = {"epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                   "random_state": self.random_state, "progress": self.progress}
        backbone, history = _adapt(backbone, head, run_model, self.target_, self.adaptation,
                                   options)
        self._weights_dir = tempfile.TemporaryDirectory(prefix="medtransfer-source-free-")
        weights = Path(self._weights_dir.name) / "backbone.safetensors"
        save_weights(weights, cpu_state(backbone.model))
        self.pipeline_ = _adapted_pipeline(run_model, weights, self.progress, self.device)
        self.source_pipeline_ = run_model
        self.labelled_target_ids_ = []
        self.details_ = {
            "method": self.adaptation, "source_run": str(run.resolve()),
            "source_model": run_model.default_model, "target_classes": classes_report,
            "history": history, **{k: v for k, v in options.items() if k != "progress"},
        }
        return self

    def heldout(
        self, source: Domain | None, target: Domain, dedupe: str
    ) -> tuple[Domain, dict | None]:
        """Every target image (re-coded to RUN's classes): no target label was used."""
        check_is_fitted(self, "pipeline_")
        return self.target_, None

    def predict_frame(self, domain: Domain, X: np.ndarray | None = None) -> pd.DataFrame:
        """The adapted model's predictions on ``domain``, then RUN's model's own
        (``source_model``)."""
        check_is_fitted(self, "pipeline_")
        adapted = self.pipeline_.predict_frame(domain, X)
        before = self.source_pipeline_.predict_frame(
            domain, models=[self.source_pipeline_.default_model])
        before["model"] = REFERENCE
        return pd.concat([adapted, before], ignore_index=True)

    def score(self, domain: Domain, predictions: pd.DataFrame, n_resamples: int) -> dict:
        """Metrics with 95% intervals of the adapted and the source model on ``domain``."""
        return self.pipeline_.score(domain, predictions, n_resamples)

    def write_to(self, folder: Path) -> dict[str, Any]:
        """Write the adapted pipeline (it loads as a TransferPipeline)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.write_to(folder)

    def run_entries(self) -> dict[str, Any]:
        """The manifest's description: RUN's classifier and backbone, the adaptation, and
        what RUN says of its source data (the source itself is not read)."""
        check_is_fitted(self, "pipeline_")
        return {
            "task": "classification",
            "method": MODEL_NAME,
            "classifier": self.source_pipeline_.classifier_,
            "backbone": self.source_pipeline_.feature_spec_["backbone"],
            "source": _source_description(Path(self.source_run)),
            "target": {**describe_domain(self.target_), "n_labelled": 0},
            "chosen_method": MODEL_NAME,
            "selection": None,
            "source_free": self.details_,
        }


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
                  baselines=False, recalibrate=None, store_weights=True)
    pipeline = TransferPipeline(**params, progress=progress, device=device,
                                cache_dir=source.cache_dir)
    spec = source.feature_spec_
    pipeline.class_names_ = source.class_names_
    pipeline.classes_report_ = source.classes_report_
    pipeline.labelled_target_ids_ = []
    pipeline.feature_spec_ = image_spec(spec["backbone"], weights=weights,
                                        image_size=spec["image_size"])
    pipeline.models_ = {MODEL_NAME: source.models_[source.method]}
    pipeline.classifier_ = source.classifier_
    pipeline.classifier_selection_ = source.classifier_selection_
    pipeline.recalibrator_ = None
    return pipeline


def _source_description(run: Path) -> dict[str, Any]:
    """What RUN says of its source data (counts only); the source itself is not read."""
    described = artifacts.read_manifest(run, verify=False).get("source") or {}
    return {**described, "read": False}
