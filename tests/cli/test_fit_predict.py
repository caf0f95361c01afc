import json

import pandas as pd
import pytest

from medtransfer.cli import app

HEART = [
    "--label-col", "diagnosis", "--site-col", "dataset",
    "--source-site", "Cleveland", "--target-site", "Hungary",
]  # fmt: skip


@pytest.mark.slow
def test_fit_writes_a_run_with_metrics_and_the_labelled_ids(runner, heart_csv, tmp_path):
    run = tmp_path / "run"
    args = ["fit", str(heart_csv), str(heart_csv), *HEART, "--target-labels", "10"]
    result = runner.invoke(app, [*args, "--method", "pooled", "--seed", "3", "-o", str(run)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["method"] == "pooled" and len(manifest["labelled_target_ids"]) == 10
    assert set(manifest["metrics"]) == {"pooled", "source_only", "target_only"}
    assert 0.7 < manifest["metrics"]["pooled"]["auroc"]["value"] < 1
    predictions = pd.read_csv(run / "predictions.csv")
    heldout = predictions[predictions.model == "pooled"]
    assert len(heldout) == 293 - 10
    assert not set(heldout["id"].astype(str)) & set(manifest["labelled_target_ids"])


def test_predict_and_evaluate_a_saved_run(runner, heart_csv, tmp_path):
    run, out = tmp_path / "run", tmp_path / "p.csv"
    fit = ["fit", str(heart_csv), str(heart_csv), *HEART, "--method", "source_only", "-o", str(run)]
    assert runner.invoke(app, fit).exit_code == 0
    site = ["--site-col", "dataset", "--site", "VA Long Beach"]
    result = runner.invoke(app, ["predict", str(run), str(heart_csv), *site, "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "prediction", "p_disease", "p_no disease"]
    assert len(frame) == 200 and frame["prediction"].isin(["disease", "no disease"]).all()
    evaluate = ["evaluate", str(run), str(heart_csv), "--label-col", "diagnosis", *site]
    result = runner.invoke(app, [*evaluate, "--format", "json", "--n-resamples", "50"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["source_only"]["auroc"]["low"] <= metrics["source_only"]["auroc"]["value"]


@pytest.mark.slow
def test_image_folders_fit_and_predict_by_relative_path(runner, image_folders, tmp_path):
    source, target = image_folders
    run, out = tmp_path / "run", tmp_path / "p.csv"
    args = ["fit", str(source), str(target), "--image-size", "32", "--target-labels", "4"]
    result = runner.invoke(app, [*args, "--method", "pooled", "--quiet", "-o", str(run)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["class_names"] == ["horizontal", "vertical"]
    assert manifest["metrics"]["pooled"]["auroc"]["value"] > 0.8
    result = runner.invoke(app, ["predict", str(run), str(target), "--quiet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 16 and frame["id"].str.match(r"(HORIZONTAL|Vertical)/\d{3}\.png").all()


@pytest.mark.slow
def test_fit_recalibrates_and_predict_uses_the_recalibrated_model(runner, heart_csv, tmp_path):
    run, out = tmp_path / "run", tmp_path / "p.csv"
    fit = ["fit", str(heart_csv), str(heart_csv), *HEART, "--target-labels", "20", "--method",
           "source_only", "--classifier", "logreg", "--recalibrate", "temperature", "-o", str(run)]
    result = runner.invoke(app, fit)
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert "source_only+recalibrated" in manifest["metrics"]
    site = ["--site-col", "dataset", "--site", "Hungary"]
    result = runner.invoke(app, ["predict", str(run), str(heart_csv), *site, "-o", str(out)])
    assert result.exit_code == 0, result.output
    recalibrated = pd.read_csv(run / "predictions.csv").query("model == 'source_only+recalibrated'")
    predicted = pd.read_csv(out).set_index("id").loc[recalibrated["id"]]
    gap = predicted["p_disease"].to_numpy() - recalibrated["p_disease"].to_numpy()
    assert abs(gap).max() < 1e-9


def test_fit_refuses_recalibration_without_target_labels(runner, heart_csv, tmp_path):
    fit = ["fit", str(heart_csv), str(heart_csv), *HEART, "--recalibrate", "platt",
           "--method", "source_only", "-o", str(tmp_path / "run")]
    result = runner.invoke(app, fit)
    assert result.exit_code == 2
    assert "at least two classes" in result.output


def test_fit_with_classifier_auto_says_which_family_and_the_run_predicts(runner, heart_csv,
                                                                         tmp_path):
    run, out = tmp_path / "run", tmp_path / "p.csv"
    fit = ["fit", str(heart_csv), str(heart_csv), *HEART, "--method", "source_only",
           "--classifier", "auto", "-o", str(run)]
    result = runner.invoke(app, fit)
    assert result.exit_code == 0, result.output
    assert "classifier auto chose logreg: logreg had the best 5-fold" in result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["classifier"] == manifest["chosen_classifier"] == "logreg"
    assert set(manifest["classifier_selection"]["families"]) == {"logreg", "svm", "boosting"}
    site = ["--site-col", "dataset", "--site", "VA Long Beach"]
    result = runner.invoke(app, ["predict", str(run), str(heart_csv), *site, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 200
