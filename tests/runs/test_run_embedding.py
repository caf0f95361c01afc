"""Every run writes embedding.npz (before / after adaptation) and its report draws it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from medtransfer import artifacts
from medtransfer.datasets import heart_disease
from medtransfer.errors import ArtifactError
from medtransfer.report.html import write_report
from medtransfer.runs.embedding import EMBEDDING, adaptation_embedding, write_embedding
from medtransfer.runs.fit import fit_run
from medtransfer.runs.pipeline import TransferPipeline

POINTS = ("source", "target", "source_adapted", "target_adapted")


def fit(tmp_path_factory, method: str, k: int = 10, **params):
    out = tmp_path_factory.mktemp(method) / "run"
    source, target = heart_disease("Cleveland"), heart_disease("Hungary")
    pipeline = TransferPipeline(method=method, classifier="logreg", method_params=params or None)
    result = fit_run(pipeline, source, target, out, target_labels=k, n_resamples=20)
    write_report(out)
    return result, source, target


def load(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / EMBEDDING, allow_pickle=False) as data:
        return {key: data[key] for key in data}


def section(run: Path) -> str:
    text = (run / "report.html").read_text()
    found = re.search(r"<section id='embedding'>.*?</section>", text, re.DOTALL)
    assert found, "no embedding section in the report"
    return found.group(0)


@pytest.fixture(scope="module")
def coral(tmp_path_factory):
    return fit(tmp_path_factory, "coral")


@pytest.mark.slow
def test_run_writes_the_embedding_and_lists_it_in_the_manifest(coral):
    result, source, target = coral
    embedding = load(result.path)
    assert set(embedding) == {*POINTS, "effect", "projection"}
    assert embedding["source"].shape == (source.labelled_mask.sum(), 2)
    assert embedding["target"].shape == (len(target), 2)
    for key in POINTS:
        assert embedding[key].dtype == float and np.isfinite(embedding[key]).all()
    assert str(embedding["effect"]) == "mapped" and str(embedding["projection"]) == "shared"
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["files"][EMBEDDING] == artifacts.sha256_file(result.path / EMBEDDING)
    # coordinates and two words only: no id, no label, nothing that could identify a patient
    words = {k: v for k, v in embedding.items() if v.dtype.kind != "f"}
    assert {k: (v.dtype.kind, v.shape) for k, v in words.items()} == {
        "effect": ("U", ()), "projection": ("U", ())}


@pytest.mark.slow
def test_coral_brings_the_source_covariance_closer_to_the_targets(tmp_path_factory):
    # light regularisation: the default Ledoit-Wolf shrinkage ("auto") matches the heart
    # data's 24-column covariances only partly, and not along their first two principal axes
    result, _, _ = fit(tmp_path_factory, "coral", adapter__reg=1e-2)
    embedding = load(result.path)

    def gap(source, target):
        return np.linalg.norm(np.cov(source.T) - np.cov(target.T))

    before = gap(embedding["source"], embedding["target"])
    after = gap(embedding["source_adapted"], embedding["target_adapted"])
    assert after < 0.5 * before, (before, after)


def test_report_draws_the_embedding_and_says_what_coral_did(coral):
    html = section(coral[0].path)
    assert "src='data:image/png;base64," in html
    assert "coral moves the features" in html and "one PCA" in html


def test_a_tampered_embedding_is_refused(coral, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(coral[0].path, run)
    embedding = load(run)
    embedding["source_adapted"] = embedding["target_adapted"][: len(embedding["source"])]
    write_embedding(run / EMBEDDING, embedding)
    with pytest.raises(ArtifactError, match=r"embedding.npz does not match its sha256"):
        write_report(run)


def test_embedding_is_subsampled_per_domain_and_seeded(coral):
    result, source, target = coral
    first = adaptation_embedding(result.model, source, target, max_points=50)
    again = adaptation_embedding(result.model, source, target, max_points=50)
    for key in POINTS:
        assert first[key].shape == (50, 2)
        np.testing.assert_array_equal(first[key], again[key])


@pytest.mark.parametrize(("entry", "value", "message"), [
    ("effect", np.array("moved"), r"'effect' must be one of \['mapped', 'reweighted'"),
    ("projection", np.array(3), r"'projection' must be one of \['shared', 'separate'\]"),
    ("source_weight", np.ones(5), r"'source_weight' must hold one finite, non-negative"),
    ("source_weight", None, r"'source_weight' must hold one finite, non-negative"),
])
def test_the_report_refuses_a_malformed_embedding(coral, tmp_path, entry, value, message):
    run = tmp_path / "run"
    shutil.copytree(coral[0].path, run)
    embedding = load(run)
    if value is None:  # one weight per point, but a negative one
        value = -np.ones(len(embedding["source"]))
    embedding[entry] = value
    write_embedding(run / EMBEDDING, embedding)
    manifest = json.loads((run / "manifest.json").read_text())
    artifacts.write_manifest(run, {**manifest, "files": artifacts.record_files(run)})
    with pytest.raises(ArtifactError, match=message):
        write_report(run)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:DensityRatioReweighted. effective sample size")
def test_reweighting_keeps_the_features_and_sizes_the_source_by_weight(tmp_path_factory):
    result, _, _ = fit(tmp_path_factory, "density_ratio", k=0)
    embedding = load(result.path)
    assert str(embedding["effect"]) == "reweighted"
    np.testing.assert_array_equal(embedding["source_adapted"], embedding["source"])
    np.testing.assert_array_equal(embedding["target_adapted"], embedding["target"])
    weight = embedding["source_weight"]
    assert weight.shape == (len(embedding["source"]),) and weight.std() > 0
    np.testing.assert_allclose(weight, result.model.models_["density_ratio"].source_weights_)
    html = section(result.path)
    assert "density_ratio reweights the source samples; the features are unchanged" in html


@pytest.mark.slow
def test_a_baseline_says_its_features_are_unchanged(tmp_path_factory):
    result, _, _ = fit(tmp_path_factory, "source_only", k=0)
    embedding = load(result.path)
    assert str(embedding["effect"]) == "unchanged" and "source_weight" not in embedding
    np.testing.assert_array_equal(embedding["source_adapted"], embedding["source"])
    assert "source_only is a baseline without adaptation" in section(result.path)


@pytest.mark.slow
def test_a_method_with_its_own_space_gets_its_own_projection(tmp_path_factory):
    result, _, _ = fit(tmp_path_factory, "tca", k=0)
    embedding = load(result.path)
    assert str(embedding["projection"]) == "separate"
    assert "tca works in a space of its own" in section(result.path)
