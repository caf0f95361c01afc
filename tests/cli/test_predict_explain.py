"""``medtransfer predict --explain``: Grad-CAM overlays for image runs, importance for tables."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medtransfer.cli import app
from medtransfer.runs.pipeline import TransferPipeline

TINY = ["--backbone", "timm:test_efficientnet", "--weights", "random", "--image-size", "32"]
HEART = ["--label-col", "diagnosis", "--site-col", "dataset", "--source-site", "Cleveland",
         "--target-site", "Hungary"]


@pytest.fixture(scope="module")
def image_run(image_folders, tmp_path_factory):
    from typer.testing import CliRunner

    source, target = image_folders
    run = tmp_path_factory.mktemp("explain") / "run"
    args = ["fit", str(source), str(target), *TINY, "--target-labels", "4", "--method", "coral",
            "--classifier", "logreg", "--quiet", "-o", str(run)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return run, target


@pytest.mark.slow
def test_predict_writes_one_overlay_per_explained_image(runner, image_run, tmp_path):
    run, target = image_run
    out = tmp_path / "p.csv"
    args = ["predict", str(run), str(target), "-o", str(out), "--quiet", "--explain",
            "--explain-n", "3", "--explain-method", "gradcam++"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 gradcam++ overlays in" in result.output
    folder = tmp_path / "p_explain"
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs == ["HORIZONTAL_000.png", "HORIZONTAL_001.png", "HORIZONTAL_002.png"]
    overlay = np.asarray(Image.open(folder / pngs[0]))
    assert overlay.shape == (24, 24, 3) and overlay.std() > 0
    index = pd.read_csv(folder / "index.csv")
    predictions = pd.read_csv(out).head(3)
    assert index["id"].tolist() == predictions["id"].tolist()
    assert index["explained_class"].tolist() == predictions["prediction"].tolist()
    assert set(index["gradient"]) == {"numerical (logits)"}  # CORAL, then logistic regression
    assert len(pd.read_csv(out)) == 16
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output


@pytest.mark.slow
def test_overlays_in_the_run_folder_keep_it_loadable_and_reach_the_report(
    runner, image_run, tmp_path
):
    run, target = image_run
    manifest = json.loads((run / "manifest.json").read_text())
    explain = ["predict", str(run), str(target), "-o", str(tmp_path / "p.csv"), "--quiet",
               "--explain", "--explain-n", "2"]
    result = runner.invoke(app, [*explain, "--explain-dir", str(run / "explain")])
    assert result.exit_code == 0, result.output
    assert len(list((run / "explain").glob("*.png"))) == 2
    assert json.loads((run / "manifest.json").read_text()) == manifest  # run untouched
    TransferPipeline.load(run)  # extra files outside model/ pass the hash check
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "Where the model looks (Grad-CAM)" in (run / "report.html").read_text()


@pytest.mark.parametrize("where", ["model/explain", ".", ".."])
def test_an_explain_dir_that_would_damage_the_run_is_refused(runner, image_run, tmp_path, where):
    run, target = image_run
    args = ["predict", str(run), str(target), "-o", str(tmp_path / "p.csv"), "--quiet",
            "--explain", "--explain-dir", str(run / where), "--force"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "would replace or change the run's own files" in result.output
    assert not (tmp_path / "p.csv").exists()


def test_an_explain_dir_of_other_files_is_not_replaced(runner, image_run, tmp_path):
    run, target = image_run
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    args = ["predict", str(run), str(target), "-o", str(tmp_path / "p.csv"), "--quiet",
            "--explain", "--explain-dir", str(folder), "--force"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip() == (
        f"error: --explain-dir '{folder.resolve()}': holds files medtransfer did not write "
        "(['notes.txt']); --force replaces the whole folder, so choose an empty or new one")
    assert (folder / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--explain-method", "cam", "--explain-method 'cam': expected one of gradcam, gradcam++"),
    ("--explain-n", "0", "--explain-n 0: expected an integer >= 1; a number of images, e.g. 8"),
])
def test_a_bad_explain_option_is_one_line_naming_its_flag(runner, image_run, tmp_path, flag,
                                                          value, expected):
    run, target = image_run
    args = ["predict", str(run), str(target), "-o", str(tmp_path / "p.csv"), "--quiet",
            "--explain", flag, value]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip() == f"error: {expected}"
    assert not (tmp_path / "p.csv").exists()


@pytest.fixture(scope="module")
def table_run(heart_csv, tmp_path_factory):
    from typer.testing import CliRunner

    run = tmp_path_factory.mktemp("table") / "run"
    args = ["fit", str(heart_csv), str(heart_csv), *HEART, "--method", "source_only",
            "--classifier", "logreg", "-o", str(run)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return run


def test_table_explain_without_labels_is_one_clear_line(runner, table_run, heart_csv, tmp_path):
    site = ["--site-col", "dataset", "--site", "Hungary"]
    args = ["predict", str(table_run), str(heart_csv), *site, "-o", str(tmp_path / "p.csv"),
            "--explain"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "Grad-CAM heat maps need an image run" in line
    assert "feature importance" in line and "--label-col" in line


def test_table_explain_with_labels_writes_feature_importance(
    runner, table_run, heart_csv, tmp_path
):
    out = tmp_path / "p.csv"
    args = ["predict", str(table_run), str(heart_csv), "--site-col", "dataset", "--site",
            "Hungary", "--label-col", "diagnosis", "-o", str(out), "--explain"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    importance = pd.read_csv(tmp_path / "p_importance.csv")
    assert list(importance.columns) == ["rank", "feature", "importance", "importance_std"]
    assert importance["rank"].tolist() == list(range(1, len(importance) + 1))
    assert importance["importance"].is_monotonic_decreasing
    assert importance["importance"].iloc[0] > 0
    assert not {"id", "patient"} & {c.lower() for c in importance["feature"]}
    assert list(pd.read_csv(out).columns) == ["id", "prediction", "p_disease", "p_no disease"]
