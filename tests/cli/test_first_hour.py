"""What a new user meets first: the README heart example, JSON output, evaluate on seen rows."""

from __future__ import annotations

import json

import pytest

from medtransfer.cli import app
from medtransfer.datasets import files_path

MAP = "0=no disease,1-4=disease"


@pytest.mark.slow
def test_readme_heart_example_is_binary_json_is_strict_and_seen_rows_are_left_out(
    runner, tmp_path
):
    heart = str(files_path("heart_disease_uci.csv"))
    run = tmp_path / "hungary"
    fit = runner.invoke(app, [
        "fit", heart, heart, "--label-col", "num", "--label-map", MAP, "--site-col",
        "dataset", "--source-site", "Cleveland", "--target-site", "Hungary",
        "--target-labels", "10", "--method", "source_only", "--classifier", "logreg",
        "-o", str(run), "--format", "json", "-q"])
    assert fit.exit_code == 0, fit.output
    metrics = json.loads(fit.stdout)  # strict JSON: an undefined metric is null
    assert "NaN" not in fit.stdout
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["class_names"] == ["no disease", "disease"]
    assert 0.5 < metrics["source_only"]["auroc"]["value"] <= 1.0
    evaluate = runner.invoke(app, ["evaluate", str(run), heart, "--site", "Hungary",
                                   "--n-resamples", "50", "--format", "json", "-q"])
    assert evaluate.exit_code == 0, evaluate.output
    assert "10 of 293 TEST samples have the ids of labelled target samples" in evaluate.stderr


def test_the_demo_folder_is_its_own_to_replace_but_no_other(tmp_path):
    from medtransfer.runs.demo import _is_demo_folder

    (tmp_path / "heart").mkdir()
    (tmp_path / "heart" / "manifest.json").write_text("{}")
    assert _is_demo_folder(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    assert not _is_demo_folder(tmp_path)


def test_a_zero_width_interval_is_marked_and_explained():
    from rich.console import Console

    from medtransfer.cli.render import DEGENERATE_NOTE, format_interval, print_metrics

    assert format_interval({"value": 0.5, "low": 0.5, "high": 0.5}) == "0.500 [0.50, 0.50]*"
    assert format_interval({"value": None, "low": None, "high": None}) == "n/a"
    console = Console(record=True, width=200)
    print_metrics({"m": {"auroc": {"value": 0.5, "low": 0.5, "high": 0.5}}}, "t", console)
    assert DEGENERATE_NOTE[:40] in console.export_text()


def test_classes_with_one_or_two_held_out_cases_are_named():
    from medtransfer.cli.render import few_cases_note

    note = few_cases_note(["a"] * 30 + ["basophil"] + ["monocyte"] * 2 + ["", ""])
    assert "'basophil' (1 case), 'monocyte' (2 cases)" in note
    assert few_cases_note(["a"] * 3 + ["b"] * 3) is None


def test_help_shows_no_bool_or_list_type_names(runner):
    result = runner.invoke(app, ["rank", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.output and "<list[" not in result.output
    assert "--source heart.csv --source heart.csv" in result.output
