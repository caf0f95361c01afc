"""medtransfer extract: a feature store that resumes after a kill, shards, and loads for fit."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from medtransfer.cli import app
from medtransfer.data.domain import Domain
from medtransfer.features.archive import extract_to_store, load_feature_domain, parse_shard
from medtransfer.features.extract import extract_features
from medtransfer.params import ParameterError

N, SIZE = 10, 32
KILLED_AFTER_TWO_BATCHES = """
import os, signal, sys
import numpy as np
from medtransfer.features import store
from medtransfer.features.archive import extract_to_store
from medtransfer.data.domain import Domain
real, calls = store.FeatureStore.put_many, []
def put_then_die(self, digests, rows):
    real(self, digests, rows)
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
store.FeatureStore.put_many = put_then_die
images = np.load(sys.argv[1])
domain = Domain("imgs", "image", inputs=images, ids=np.arange(len(images)).astype(str),
                labels=np.arange(len(images)) % 2, class_names=("a", "b"))
extract_to_store(domain, sys.argv[2], image_size=32, batch_size=3, engine="torch",
                 progress=False)
"""


def _domain(images: np.ndarray) -> Domain:
    return Domain("imgs", "image", inputs=images, ids=np.arange(len(images)).astype(str),
                  labels=np.arange(len(images)) % 2, class_names=("a", "b"))


@pytest.fixture
def images(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (N, 24, 24, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", array)
    return array


@pytest.mark.slow
def test_killed_extract_resumes_to_the_uninterrupted_features(tmp_path, images):
    out = tmp_path / "store"
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_TWO_BATCHES,
                             str(tmp_path / "images.npy"), str(out)], capture_output=True)
    assert killed.returncode == -9  # SIGKILL after two batches were stored
    summary = extract_to_store(_domain(images), out, image_size=SIZE, batch_size=3,
                               engine="torch", progress=False)
    assert summary == {"rows": N, "computed": N - 6, "stored": N}
    resumed = load_feature_domain(out)
    uninterrupted = extract_features(_domain(images), image_size=SIZE, batch_size=3,
                                     engine="torch", cache=False, progress=False)
    np.testing.assert_allclose(resumed.inputs.to_numpy(), uninterrupted, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(resumed.labels, np.arange(N) % 2)
    assert resumed.kind == "table" and resumed.class_names == ("a", "b")


@pytest.mark.slow
def test_shards_of_a_job_array_make_one_store(tmp_path, images):
    out = tmp_path / "store"
    for index in range(3):
        extract_to_store(_domain(images), out, image_size=SIZE, shard=(index, 3),
                         engine="torch", progress=False)
    loaded = load_feature_domain(out)
    assert list(loaded.ids) == [str(k) for k in range(N)]
    whole = extract_features(_domain(images), image_size=SIZE, engine="torch", cache=False,
                             progress=False)
    np.testing.assert_allclose(loaded.inputs.to_numpy(), whole, rtol=0, atol=1e-5)


def test_bad_shard_is_refused():
    assert parse_shard("2/4") == (2, 4) and parse_shard(None) == (0, 1)
    for text in ("4/4", "a/b", "1"):
        with pytest.raises(ParameterError, match=rf"^parse_shard\(shard='{text}'\): expected i/N "
                           r"with 0 <= i < N, e.g. 0/4$"):
            parse_shard(text)


@pytest.mark.slow
def test_cli_extract_then_fit_reads_the_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTRANSFER_ENGINE", "torch")
    rng = np.random.default_rng(1)
    for name in ("src", "tgt"):
        images = rng.integers(0, 256, (12, 20, 20), dtype=np.uint8)
        np.savez(tmp_path / f"{name}.npz", train_images=images,
                 train_labels=np.arange(12) % 2)
    runner = CliRunner()
    for name in ("src", "tgt"):
        result = runner.invoke(app, ["extract", str(tmp_path / f"{name}.npz"), "-o",
                                     str(tmp_path / name), "--image-size", "32", "--quiet"])
        assert result.exit_code == 0, result.output
        assert "12 rows of shard 0/1" in result.output
    fit = runner.invoke(app, ["fit", str(tmp_path / "src"), str(tmp_path / "tgt"), "-o",
                              str(tmp_path / "run"), "--method", "source_only",
                              "--target-labels", "4", "--quiet"])
    assert fit.exit_code == 0, fit.output
    bad = runner.invoke(app, ["extract", str(tmp_path / "src.npz"), "-o", str(tmp_path / "x"),
                              "--shard", "9/2"])
    assert bad.exit_code == 2 and "expected i/N" in bad.output
