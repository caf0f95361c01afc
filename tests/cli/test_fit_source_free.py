"""``medtransfer fit TARGET --source-model RUN``: source-free adaptation from the CLI."""

import json

import pandas as pd
import pytest

from medtransfer.cli import app

TINY = ["--backbone", "timm:test_efficientnet", "--weights", "random", "--image-size", "32"]


@pytest.fixture(scope="module")
def source_run(image_folders, tmp_path_factory):
    from typer.testing import CliRunner

    source, target = image_folders
    run = tmp_path_factory.mktemp("sf") / "run"
    args = ["fit", str(source), str(target), *TINY, "--method", "source_only", "--classifier",
            "logreg", "--quiet", "-o", str(run)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.slow
def test_fit_with_only_target_and_a_source_model_writes_a_usable_run(
    runner, source_run, image_folders, tmp_path
):
    _, target = image_folders
    out = tmp_path / "adapted"
    args = ["fit", str(target), "--source-model", str(source_run), "--epochs", "1",
            "--batch-size", "8", "--quiet", "--format", "json", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert set(metrics) == {"source_free", "source_model"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source_free"]["method"] == "adabn+shot"
    assert "model/backbone.safetensors" in manifest["files"]
    predictions = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(out), str(target), "--quiet", "-o",
                                 str(predictions), "--explain", "--explain-n", "2"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(predictions)) == 16
    assert len(list((tmp_path / "p_explain").glob("*.png"))) == 2
    result = runner.invoke(app, ["evaluate", str(out), str(target), "--format", "json",
                                 "--n-resamples", "20"])
    assert result.exit_code == 0, result.output
    assert "source_free" in json.loads(result.output)
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["SOURCE_TOO"], "SOURCE"),
        (["--method", "coral"], "--method do(es) not apply with --source-model"),
        (["--target-labels", "4"], "--target-labels do(es) not apply"),
        (["--source-free", "tent"], "--source-free 'tent': expected one of adabn"),
    ],
)
def test_source_free_misuse_is_one_clear_error(
    runner, source_run, image_folders, tmp_path, extra, message
):
    source, target = image_folders
    paths = [str(source), str(target)] if extra == ["SOURCE_TOO"] else [str(target)]
    options = [] if extra == ["SOURCE_TOO"] else extra
    args = ["fit", *paths, "--source-model", str(source_run), *options, "-o",
            str(tmp_path / "x")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "x").exists()


def test_fit_without_source_needs_a_source_model(runner, image_folders, tmp_path):
    _, target = image_folders
    result = runner.invoke(app, ["fit", str(target), "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "fit needs SOURCE and TARGET (or only TARGET with --source-model RUN" in result.output
