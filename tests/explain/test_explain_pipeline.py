"""Grad-CAM of a fitted TransferPipeline explains the pipeline's own score, end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.tiny_images import TINY, two_class_images

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.explain.gradcam import grad_cam
from medtransfer.explain.pipeline import (
    check_explain_dir,
    explain_pipeline,
    overlay_names,
    score_head,
)
from medtransfer.explain.scores import NumericalScoreHead, log_proba_scores
from medtransfer.features.backbones import create_backbone
from medtransfer.finetune.inputs import image_tensor
from medtransfer.params import ParameterError
from medtransfer.runs.pipeline import TransferPipeline


def _images(n: int, seed: int, offset: int) -> Domain:
    return two_class_images(n, seed, offset, ids="p{seed}/img{i}.png",
                            class_names=("plain", "square"))


def _fit(method: str, classifier: str) -> tuple[TransferPipeline, Domain]:
    target = _images(12, 1, 30)
    pipeline = TransferPipeline(method=method, classifier=classifier, backbone=TINY,
                                weights="random", image_size=32, progress=False)
    return pipeline.fit(_images(16, 0, 0), target, target_labels=4), target


@pytest.fixture(scope="module")
def coral_svm():
    return _fit("coral", "svm")


@pytest.fixture(scope="module")
def logreg():
    return _fit("source_only", "logreg")


@pytest.mark.slow
def test_heads_are_exact_for_a_plain_logistic_regression_and_numerical_otherwise(
    coral_svm, logreg
):
    pipeline, target = coral_svm
    X = pipeline.features(target)
    assert score_head(pipeline, "coral", X)[1] == "numerical (logits)"
    assert score_head(pipeline, "source_only", X)[1] == "numerical (logits)"
    pipeline, target = logreg
    head, how = score_head(pipeline, "source_only", pipeline.features(target))
    assert how == "exact"
    logits = head(torch.from_numpy(pipeline.features(target))).detach().double()
    proba = pipeline.proba_from_features(pipeline.features(target), "source_only")
    assert np.allclose(torch.softmax(logits, 1).numpy(), proba, atol=1e-5)


def test_exact_and_numerical_heads_give_the_same_heat_maps(logreg):
    pipeline, target = logreg
    backbone = create_backbone(TINY, weights="random", device="cpu")
    images = image_tensor(target, backbone.config, 32)[:4]
    exact, _ = score_head(pipeline, "source_only")
    numerical = NumericalScoreHead(
        log_proba_scores(lambda F: pipeline.proba_from_features(F, "source_only")))
    for method in ("gradcam", "gradcam++"):
        a, ca = grad_cam(backbone, exact, images, method=method)
        b, cb = grad_cam(backbone, numerical, images, method=method)
        assert ca.tolist() == cb.tolist()
        assert np.abs(a - b).max() < 2e-3


def test_chained_gradient_equals_finite_differences_of_the_pipeline_score(coral_svm):
    """The gradient reaching the image is that of the pipeline's own centred log-probability."""
    pipeline, target = coral_svm
    backbone = create_backbone(TINY, weights="random", device="cpu").double()
    images = image_tensor(target, backbone.config, 32)[:2].double()
    with torch.no_grad():
        X = backbone(images).numpy()
    head, how = score_head(pipeline, "coral", X)
    assert how == "numerical (logits)"
    proba = pipeline.proba_from_features(X, "coral")
    assert (proba.max(1) < 1 - 1e-6).all()  # not saturated, so log p is informative
    classes = torch.as_tensor(proba.argmax(1))

    def chained(x: torch.Tensor) -> torch.Tensor:
        z = head(backbone(x))
        return (z - z.mean(1, keepdim=True))[torch.arange(len(x)), classes].sum()

    def pipeline_score(x: torch.Tensor) -> float:
        with torch.no_grad():
            p = np.log(pipeline.proba_from_features(backbone(x).numpy(), "coral"))
        return float((p - p.mean(1, keepdims=True))[np.arange(len(x)), classes.numpy()].sum())

    x = images.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(chained(x), x)
    direction = torch.from_numpy(np.random.default_rng(0).normal(size=x.shape))
    eps = 1e-3
    slope = (pipeline_score(images + eps * direction)
             - pipeline_score(images - eps * direction)) / (2 * eps)
    assert float((gradient * direction).sum()) == pytest.approx(slope, rel=1e-3)


def test_explain_pipeline_explains_the_predicted_class_of_the_default_model(coral_svm):
    pipeline, target = coral_svm
    explanation = explain_pipeline(pipeline, target, n=5, method="gradcam++")
    assert explanation.heatmaps.shape == (5, 32, 32)
    assert np.isfinite(explanation.heatmaps).all() and explanation.heatmaps.min() >= 0
    predicted = pipeline.predict_proba(target.subset(np.arange(5))).argmax(1)
    assert explanation.classes.tolist() == predicted.tolist()
    assert explanation.ids.tolist() == [f"p1/img{i}.png" for i in range(5)]
    with pytest.raises(ParameterError, match=r"^explain_pipeline\(method='cam'\): expected one "
                       r"of 'gradcam', 'gradcam\+\+'$"):
        explain_pipeline(pipeline, target, method="cam")
    with pytest.raises(ParameterError, match=r"^explain_pipeline\(n=0\): expected an integer >= "
                       r"1; a number of images, e.g. 8$"):
        explain_pipeline(pipeline, target, n=0)


def test_an_explain_dir_that_is_a_file_or_holds_other_files_names_the_parameter(tmp_path):
    run, file = tmp_path / "run", tmp_path / "x.png"
    run.mkdir()
    file.write_bytes(b"")
    with pytest.raises(ParameterError, match=rf"^check_explain_dir\(explain_dir='{file}'\): is a "
                       r"file; pass a folder$"):
        check_explain_dir(file, run, force=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ParameterError, match=r"holds files medtransfer did not write "
                       r"\(\['notes.txt'\]\); force replaces the whole folder"):
        check_explain_dir(tmp_path / "mine", run, force=True)
    with pytest.raises(ParameterError, match=r"would replace or change the run's own files"):
        check_explain_dir(run / "model", run, force=True)


def test_overlay_names_are_safe_and_unique():
    names = overlay_names(np.array(["a/b.png", "a b.png", "a_b_1", "a_b", "../x.dcm", ""]))
    assert names == ["a_b.png", "a_b_1.png", "a_b_1_1.png", "a_b_2.png", "x.png", "image_5.png"]


def test_a_boosting_run_is_refused_with_the_reason(logreg):
    pipeline, _ = logreg
    boosting = TransferPipeline.__new__(TransferPipeline)
    boosting.__dict__.update(pipeline.__dict__, classifier="boosting", classifier_="boosting")
    with pytest.raises(ConfigError, match=r"boosting classifier is piecewise constant"):
        score_head(boosting)
