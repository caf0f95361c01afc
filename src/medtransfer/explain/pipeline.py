"""Explain a fitted image TransferPipeline: Grad-CAM heat maps of its predictions, written as
PNG overlays (``medtransfer predict --explain``; tables: :mod:`medtransfer.explain.pipeline_table`).

Grad-CAM explains the pipeline's own class score: the logit the chosen model (adapter,
scaler, classifier and recalibrator, as fitted) gives each class, as a function of the
pooled backbone features, chained into the backbone by autograd. A logistic regression used
without a feature mapping (``source_only``, ``target_only``, ``pooled``, not recalibrated)
becomes an exact torch head; any other model contributes its local Jacobian by central
differences (:class:`~medtransfer.explain.scores.NumericalScoreHead`), of its logits where
their form is known (adapters, SVM, logistic regression) and of its log-probabilities
otherwise (a recalibrated model, for instance). Either way the gradient reaching the
backbone is ``(d features / d A)^T · (d score / d features)``: the chain rule, with the
second factor exact or estimated to O(h²).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from medtransfer import artifacts
from medtransfer.data.domain import Domain
from medtransfer.data.images import read_image
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.explain.gradcam import METHODS, grad_cam, save_overlay
from medtransfer.explain.scores import NumericalScoreHead, log_proba_scores
from medtransfer.features.backbones import create_backbone
from medtransfer.features.extract import image_items, native_pixels
from medtransfer.features.harmonized import harmonizer_from_spec
from medtransfer.finetune.head import sklearn_to_head
from medtransfer.finetune.inputs import image_tensor
from medtransfer.finetune.logits import linear_model_of, logit_function, softmax
from medtransfer.params import Interval, Options, ParameterError, check_value
from medtransfer.runs.pipeline import TransferPipeline
from medtransfer.runs.pipeline_files import MODEL_DIR

DEFAULT_N = 8
EXPLAIN_METHOD = Options(*METHODS)
EXPLAIN_N = Interval(int, 1, None, hint=f"a number of images, e.g. {DEFAULT_N}")
INDEX_FILE = "index.csv"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class ImageExplanation:
    """Heat maps of the first images of a domain.

    Attributes
    ----------
    ids : ndarray of str
    heatmaps : ndarray of float32, shape (n, size, size)
        In [0, 1], at the backbone's input size.
    classes : ndarray of int
        The class each map explains (the predicted one).
    probability : ndarray of float
        The model's probability of that class.
    gradient : str
        How the score's gradient with respect to the pooled features was obtained (see
        :func:`score_head`).
    """

    ids: np.ndarray
    heatmaps: np.ndarray
    classes: np.ndarray
    probability: np.ndarray
    gradient: str


def score_head(
    pipeline: TransferPipeline, model: str | None = None, X: np.ndarray | None = None
) -> tuple[nn.Module, str]:
    """A torch head mapping pooled backbone features to ``model``'s class scores.

    In order of preference: an exact linear head (a logistic regression without feature
    mapping), the model's logits with a numerical Jacobian (known adapters and predictors,
    see :func:`~medtransfer.finetune.logits.logit_function`), its log-probabilities with a
    numerical Jacobian (anything else, e.g. a recalibrated model). A candidate is used only
    if its softmax reproduces the pipeline's probabilities on ``X`` (when given).

    Parameters
    ----------
    pipeline : TransferPipeline
        Fitted, for classification.
    model : str or None
        A model of the run; None for its default model.
    X : ndarray (n, d) or None
        Pooled features on which a logit head is checked against the pipeline.

    Returns
    -------
    head : nn.Module
        Outputs (B, n_classes) in ``class_names`` order; their softmax is the model's
        probabilities.
    gradient : str
        "exact", "numerical (logits)" or "numerical (log-probabilities)".
    """
    name = model or pipeline.default_model
    if name not in pipeline.model_names:
        raise ConfigError(f"model {name!r} is not in this run; it has {pipeline.model_names}")
    if pipeline.classifier_ == "boosting":
        raise ConfigError(
            "Grad-CAM needs a class score that changes smoothly with the image features, but "
            "the run's boosting classifier is piecewise constant (its gradient is zero almost "
            "everywhere); explain a run fitted with --classifier logreg or svm"
        )
    estimator = pipeline.models_.get(name)
    n_classes = len(pipeline.class_names_)
    linear = linear_model_of(estimator, n_classes)
    if linear is not None:
        return sklearn_to_head(linear), "exact"
    logits = logit_function(estimator) if estimator is not None else None
    if logits is not None and _reproduces(logits, pipeline, name, X, n_classes):
        return NumericalScoreHead(logits), "numerical (logits)"
    proba = log_proba_scores(lambda F: pipeline.proba_from_features(F, name))
    return NumericalScoreHead(proba), "numerical (log-probabilities)"


def _reproduces(logits, pipeline: TransferPipeline, name: str, X: np.ndarray | None,
                n_classes: int) -> bool:
    """Whether softmax(logits) are the pipeline's probabilities on X (all classes, in order)."""
    if X is None or not len(X):
        return True
    values = logits(np.asarray(X, dtype=np.float64))
    if values.shape != (len(X), n_classes):
        return False
    return np.allclose(softmax(values), pipeline.proba_from_features(X, name), atol=1e-6)


def explain_pipeline(
    pipeline: TransferPipeline,
    domain: Domain,
    *,
    n: int = DEFAULT_N,
    method: str = "gradcam",
    model: str | None = None,
    layer: str | None = None,
) -> ImageExplanation:
    """Grad-CAM heat maps of the predicted class for the first ``n`` images of ``domain``.

    Parameters
    ----------
    pipeline : TransferPipeline
        Fitted on images, for classification.
    domain : Domain
        Images to explain (labels, if any, are not used).
    n : int
        How many images, from the first.
    method : {"gradcam", "gradcam++"}
    model : str or None
        A model of the run; None for its default model.
    layer : str or None
        Feature-map module of the backbone; None for its last convolution.

    Returns
    -------
    ImageExplanation
    """
    spec = pipeline.feature_spec_
    check_image_run(pipeline)
    check_explain_options(method, n)
    chosen = domain.subset(np.arange(min(n, len(domain))))
    # The class explained is the one the predictions CSV reports (cached features).
    X = pipeline.features(chosen)
    proba = pipeline.proba_from_features(X, model)
    head, gradient = score_head(pipeline, model, X)
    classes = proba.argmax(axis=1)
    backbone = create_backbone(spec["backbone"], weights=spec["weights"], device=pipeline.device)
    if backbone.weights_sha256 != spec["weights_sha256"]:
        raise ArtifactError(
            f"backbone weights {spec['weights']!r} changed since the run was fitted; restore "
            "them or refit the run"
        )
    images = image_tensor(_harmonized(chosen, spec), backbone.config, spec["image_size"])
    maps, _ = grad_cam(backbone, head, images, target_class=classes, layer=layer, method=method)
    return ImageExplanation(
        ids=chosen.ids.astype(str), heatmaps=maps, classes=classes,
        probability=proba[np.arange(len(classes)), classes], gradient=gradient,
    )


def _harmonized(domain: Domain, spec: dict) -> Domain:
    """The images as the backbone saw them at fit: through the run's harmoniser, if any."""
    harmonizer = harmonizer_from_spec(spec)
    if harmonizer is None:
        return domain
    return replace(domain, inputs=[harmonizer(native_pixels(i)) for i in image_items(domain)])


def check_explain_options(method: str, n: int, owner: str = "explain_pipeline",
                          names: tuple[str, str] = ("method", "n")) -> None:
    """ParameterError for an unknown Grad-CAM method or a number of images below 1.

    ``owner`` and ``names`` say whose parameters they are (``medtransfer predict`` checks
    its ``explain_method`` and ``explain_n``).
    """
    check_value(owner, names[0], method, EXPLAIN_METHOD)
    check_value(owner, names[1], n, EXPLAIN_N)


def check_image_run(pipeline: TransferPipeline) -> None:
    """ConfigError unless the run classifies images (Grad-CAM's requirement)."""
    if pipeline.feature_spec_.get("kind") != "image":
        raise ConfigError(
            "Grad-CAM heat maps need an image run, but this run was fitted on a table; for "
            "tables --explain writes permutation feature importance (explain.rank_features) "
            "and needs the true labels: pass --label-col"
        )
    if pipeline.task != "classification":
        raise ConfigError("Grad-CAM explains class scores; this run is a regression run")


def check_explain_dir(explain_dir: Path, run: Path, force: bool) -> None:
    """Refuse a folder that would damage the run or a folder of unrelated files.

    The folder may lie inside the run (``RUN/explain`` is shown by the report; files the
    manifest does not list are ignored by its hash check) but not be the run itself, hold
    it, or lie in its model folder, whose every file must be listed.
    """
    folder, run = Path(explain_dir).resolve(), Path(run).resolve()
    if folder == run or run.is_relative_to(folder) or folder.is_relative_to(run / MODEL_DIR):
        _refuse_dir(folder, lambda style: "would replace or change the run's own files; use a "
                    f"new folder such as {run / 'explain'}")
    if folder.exists() and not folder.is_dir():
        _refuse_dir(folder, lambda style: "is a file; pass a folder")
    artifacts.check_writable(folder, force)
    foreign = [p.name for p in folder.glob("*") if not _written_here(p)] if folder.exists() else []
    if foreign:
        _refuse_dir(folder, lambda style: (
            f"holds files medtransfer did not write ({foreign[:3]}); {style.name('force')} "
            "replaces the whole folder, so choose an empty or new one"))


def _refuse_dir(folder: Path, explain) -> None:
    # the path as text: the message shows '/runs/x', not PosixPath('/runs/x')
    raise ParameterError("check_explain_dir", "explain_dir", str(folder), explain)


def _written_here(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".png" or path.name == INDEX_FILE)


def overlay_names(ids: np.ndarray) -> list[str]:
    """One safe, unique ``.png`` file name per id (its image suffix dropped)."""
    names: list[str] = []
    for i, sample in enumerate(ids):
        stem = _UNSAFE.sub("_", re.sub(r"\.[A-Za-z]{2,5}$", "", str(sample))).strip("._")
        name, suffix = f"{stem or f'image_{i}'}.png", 0
        while name in names:
            suffix += 1
            name = f"{stem}_{suffix}.png"
        names.append(name)
    return names


def write_overlays(
    explanation: ImageExplanation,
    domain: Domain,
    class_names: tuple[str, ...],
    folder: Path,
    *,
    method: str,
    force: bool = False,
) -> list[Path]:
    """Write one PNG overlay per explained image and ``index.csv``, atomically.

    ``index.csv`` lists file, id, explained class, its probability, the method and how the
    gradient was obtained. Nothing but the images and these columns is written.
    """
    items = image_items(domain)
    names = overlay_names(explanation.ids)
    with artifacts.atomic_directory(folder, force) as tmp:
        for i, name in enumerate(names):
            save_overlay(_display_image(items[i]), explanation.heatmaps[i], tmp / name)
        pd.DataFrame({
            "file": names,
            "id": explanation.ids,
            "explained_class": np.asarray(class_names)[explanation.classes],
            "probability": explanation.probability,
            "method": method,
            "gradient": explanation.gradient,
        }).to_csv(tmp / INDEX_FILE, index=False)
    return [folder / name for name in names]


def _display_image(item) -> np.ndarray:
    image = read_image(Path(item)) if not isinstance(item, np.ndarray) else np.asarray(item)
    if image.ndim == 3:  # (H, W, 1) grayscale, or colour with a possible alpha channel
        return image[..., 0] if image.shape[-1] == 1 else image[..., :3]
    return image
