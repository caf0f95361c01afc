"""`medtransfer fit` then `medtransfer report`: the report draws the run's embedding."""

import json

import numpy as np
import pytest

from medtransfer.cli import app

pytestmark = pytest.mark.slow

HEART = [
    "--label-col", "diagnosis", "--site-col", "dataset",
    "--source-site", "Cleveland", "--target-site", "Hungary",
]  # fmt: skip


def fit_and_report(runner, args, run):
    result = runner.invoke(app, ["fit", *args, "--quiet", "-o", str(run)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    return (run / "report.html").read_text()


def test_report_of_a_fitted_table_run_shows_the_embedding(runner, heart_csv, tmp_path):
    run = tmp_path / "run"
    args = [str(heart_csv), str(heart_csv), *HEART, "--method", "coral", "--target-labels", "10"]
    text = fit_and_report(runner, args, run)
    assert "<section id='embedding'>" in text and "coral moves the features" in text
    assert "embedding.npz" in json.loads((run / "manifest.json").read_text())["files"]


def test_report_of_a_fitted_image_run_shows_the_embedding(runner, image_folders, tmp_path):
    source, target = image_folders
    run = tmp_path / "run"
    args = [str(source), str(target), "--image-size", "32", "--method", "kmm"]
    text = fit_and_report(runner, args, run)
    assert "<section id='embedding'>" in text
    assert "kmm reweights the source samples; the features are unchanged" in text
    with np.load(run / "embedding.npz", allow_pickle=False) as data:
        assert data["source"].shape == (24, 2) and data["target"].shape == (16, 2)
        assert data["source_weight"].shape == (24,)
