"""Source-free runs: adapted backbone weights stored in the run, hash-verified, portable."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from tests.tiny_images import TINY, two_class_images

from medtransfer import artifacts, integrity
from medtransfer.data.domain import Domain
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.backbones import create_backbone
from medtransfer.finetune.inputs import image_tensor
from medtransfer.runs.fit import fit_run
from medtransfer.runs.pipeline import TransferPipeline
from medtransfer.runs.pipeline_files import RUN_WEIGHTS
from medtransfer.runs.source_free import MODEL_NAME, REFERENCE, SourceFreePipeline


def _images(n: int, seed: int, offset: int) -> Domain:
    return two_class_images(n, seed, offset, ids="img{i}")


def _source_run(tmp_path_factory, method: str, classifier: str):
    out = tmp_path_factory.mktemp(f"{method}-{classifier}") / "run"
    pipeline = TransferPipeline(method=method, classifier=classifier, backbone=TINY,
                                weights="random", image_size=32, baselines=False,
                                progress=False)
    fit_run(pipeline, _images(16, 0, 0), _images(8, 1, 60), out, target_labels=0,
            n_resamples=20)
    return out


@pytest.fixture(scope="module")
def logreg_run(tmp_path_factory):
    return _source_run(tmp_path_factory, "source_only", "logreg")


@pytest.fixture(scope="module")
def adapted(logreg_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("adapted") / "run"
    target = _images(12, 2, 70)
    model = SourceFreePipeline(logreg_run, adaptation="adabn+shot", epochs=1, batch_size=6,
                               lr=1e-3, progress=False)
    result = fit_run(model, None, target, out, n_resamples=20)
    return result, target


@pytest.mark.slow
def test_the_adapted_run_stores_its_weights_and_predicts_as_it_scored(adapted):
    result, target = adapted
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["files"][RUN_WEIGHTS] == artifacts.sha256_file(result.path / RUN_WEIGHTS)
    assert manifest["features"]["weights"] == RUN_WEIGHTS
    assert manifest["features"]["weights_sha256"] == manifest["files"][RUN_WEIGHTS]
    assert manifest["models"] == [MODEL_NAME] and manifest["labelled_target_ids"] == []
    assert [h["stage"] for h in manifest["source_free"]["history"]] == ["adabn", "shot"]
    assert manifest["source"]["read"] is False
    assert set(manifest["metrics"]) == {MODEL_NAME, REFERENCE}
    stored = pd.read_csv(result.path / "predictions.csv")
    ours = stored[stored.model == MODEL_NAME][["p_a", "p_b"]].to_numpy()
    before = stored[stored.model == REFERENCE][["p_a", "p_b"]].to_numpy()
    loaded = TransferPipeline.load(result.path, progress=False)
    assert np.allclose(loaded.predict_proba(target), ours, atol=1e-6)
    assert not np.allclose(ours, before, atol=1e-3)  # the adapted backbone is the one used


def test_a_moved_run_still_loads_its_own_weights(adapted, tmp_path):
    result, target = adapted
    moved = tmp_path / "elsewhere"
    shutil.copytree(result.path, moved)
    pipeline = TransferPipeline.load(moved, progress=False)
    assert pipeline.weights == str((moved / RUN_WEIGHTS).resolve())
    assert np.allclose(pipeline.predict_proba(target),
                       TransferPipeline.load(result.path).predict_proba(target), atol=1e-6)


def test_changed_or_unlisted_weights_are_refused(adapted, tmp_path):
    result, _ = adapted
    tampered = tmp_path / "tampered"
    shutil.copytree(result.path, tampered)
    (tampered / RUN_WEIGHTS).write_bytes((tampered / RUN_WEIGHTS).read_bytes()[:-4] + b"0000")
    with pytest.raises(ArtifactError, match=r"backbone\.safetensors does not match its sha256"):
        TransferPipeline.load(tampered)
    unlisted = tmp_path / "unlisted"
    shutil.copytree(result.path, unlisted)
    manifest = json.loads((unlisted / "manifest.json").read_text())
    del manifest["files"][RUN_WEIGHTS]
    (unlisted / "manifest.json").write_text(json.dumps(integrity.seal(manifest)))
    with pytest.raises(ArtifactError, match=r"manifest does not list"):
        TransferPipeline.load(unlisted)


@pytest.mark.slow
def test_adabn_alone_adapts_any_classifier_and_stores_the_target_statistics(tmp_path_factory):
    run = _source_run(tmp_path_factory, "coral", "svm")
    target = _images(10, 3, 90)
    out = tmp_path_factory.mktemp("adabn") / "run"
    with pytest.raises(ConfigError, match=r"SHOT trains the backbone through the classifier"):
        fit_run(SourceFreePipeline(run, adaptation="shot", progress=False), None, target, out)
    result = fit_run(SourceFreePipeline(run, adaptation="adabn", batch_size=10, progress=False),
                     None, target, out, n_resamples=20)
    # the pipeline is loaded back from the run folder, weights and all
    loaded = TransferPipeline.load(result.path)
    backbone = create_backbone(TINY, weights=loaded.weights, device="cpu")
    model = backbone.model
    images = image_tensor(target, backbone.config, 32)
    with torch.no_grad():
        stem = model.conv_stem(images)
    assert torch.allclose(model.bn1.running_mean, stem.mean(dim=(0, 2, 3)), atol=1e-4)


def test_bad_source_runs_and_targets_are_refused(logreg_run, tmp_path):
    target = _images(4, 4, 0)
    with pytest.raises(ConfigError, match=r"adaptation='tent'\): expected one of 'adabn'"):
        fit_run(SourceFreePipeline(logreg_run, adaptation="tent"), None, target, tmp_path / "a")
    with pytest.raises(ConfigError, match=r"has no images"):
        fit_run(SourceFreePipeline(logreg_run, progress=False), None, target.subset([]),
                tmp_path / "b")
