"""Recalibration as a pipeline step, on real data: heart disease, Cleveland -> Hungary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medtransfer import integrity
from medtransfer.datasets import heart_disease
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.report.html import write_report
from medtransfer.runs.fit import fit_run
from medtransfer.runs.pipeline import TransferPipeline

K = 20


@pytest.fixture(scope="module")
def domains():
    return heart_disease("Cleveland"), heart_disease("Hungary")


@pytest.fixture(scope="module")
def run(domains, tmp_path_factory):
    out = tmp_path_factory.mktemp("recal") / "run"
    pipeline = TransferPipeline(classifier="logreg", recalibrate="temperature", progress=False)
    return fit_run(pipeline, *domains, out, target_labels=K, n_resamples=30)


def test_run_writes_and_scores_the_recalibrated_block(run) -> None:
    blocks = set(run.predictions["model"])
    assert {"source_only", "source_only+recalibrated"} <= blocks
    assert "source_only+recalibrated" in run.manifest["metrics"]
    assert run.manifest["recalibrator"] in run.manifest["files"]


def test_predict_proba_is_recalibrated_and_raw_model_stays_available(run, domains) -> None:
    pipeline = run.model
    raw = pipeline.predict_proba(domains[1], model="source_only")
    recalibrated = pipeline.predict_proba(domains[1])
    assert not np.allclose(raw, recalibrated)
    np.testing.assert_allclose(recalibrated.sum(axis=1), 1.0)
    # temperature scaling keeps the ranking of the positive probability
    assert np.array_equal(np.argsort(raw[:, 1]), np.argsort(recalibrated[:, 1]))


def test_recalibrator_is_saved_and_loaded(run, domains) -> None:
    loaded = TransferPipeline.load(run.path, progress=False)
    np.testing.assert_allclose(
        loaded.predict_proba(domains[1]), run.model.predict_proba(domains[1])
    )


def test_loader_refuses_an_unlisted_recalibrator(run, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"][manifest["recalibrator"]]
    manifest["recalibrator"] = None
    # even with the manifest's digest recomputed, the file it no longer lists is refused
    (copy / "manifest.json").write_text(json.dumps(integrity.seal(manifest)))
    with pytest.raises(ArtifactError, match="does not list"):
        TransferPipeline.load(copy)


@pytest.mark.slow
def test_report_shows_before_and_after_recalibration(run) -> None:
    text = write_report(run.path).read_text()
    assert "source_only: before / after recalibration" in text


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_other_recalibration_methods_fit(domains, method: str) -> None:
    pipeline = TransferPipeline(classifier="logreg", recalibrate=method, baselines=False,
                                progress=False).fit(*domains, target_labels=K)
    proba = pipeline.predict_proba(domains[1])
    assert proba.shape == (len(domains[1]), 2)
    assert set(pipeline.predict(domains[1])) <= {0, 1}


def test_unknown_recalibration_method_is_refused(domains) -> None:
    with pytest.raises(ConfigError, match=r"TransferPipeline\(recalibrate='beta'\): "
                                          "expected one of 'temperature'"):
        TransferPipeline(recalibrate="beta", progress=False).fit(*domains, target_labels=K)


def test_recalibration_needs_classification(domains) -> None:
    pipeline = TransferPipeline(task="regression", recalibrate="temperature", progress=False)
    with pytest.raises(ConfigError, match=r"recalibrate=.temperature.\): applies only with "
                                          "task=.classification."):
        pipeline.fit(*domains, target_labels=K)


@pytest.mark.parametrize("k", [0, 1])
def test_recalibration_needs_labelled_targets_of_two_classes(domains, k: int) -> None:
    pipeline = TransferPipeline(classifier="logreg", recalibrate="platt", progress=False)
    with pytest.raises(ConfigError, match="at least two classes"):
        pipeline.fit(*domains, target_labels=k)
