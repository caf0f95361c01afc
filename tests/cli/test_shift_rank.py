import json

import pytest

from medtransfer.cli import app


@pytest.mark.slow
def test_shift_detects_cleveland_vs_switzerland_and_writes_json(runner, heart_csv, tmp_path):
    out = tmp_path / "shift"
    args = ["shift", str(heart_csv), str(heart_csv), "--label-col", "diagnosis"]
    args += ["--site-col", "dataset", "--source-site", "Cleveland", "--target-site", "Switzerland"]
    result = runner.invoke(app, [*args, "--permutations", "50", "--no-tsne", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "shift.json").read_text())
    assert report["mmd"]["p_value"] < 0.05 and report["classifier"]["auc"] > 0.9
    assert "diagnosis" not in {row["column"] for row in report["drift"]}
    assert "strong covariate shift" in result.output and "`ca` missing" in result.output
    assert (out / "embedding_pca.png").stat().st_size > 1000


@pytest.mark.slow
def test_shift_of_a_site_against_itself_is_not_flagged(runner, heart_csv, tmp_path):
    args = ["shift", str(heart_csv), str(heart_csv), "--label-col", "diagnosis"]
    args += ["--site-col", "dataset", "--source-site", "Hungary", "--target-site", "Hungary"]
    result = runner.invoke(app, [*args, "--permutations", "50", "--no-tsne", "-o", str(tmp_path)])
    assert result.exit_code == 2  # the folder exists: refused without --force
    result = runner.invoke(
        app, [*args, "--permutations", "50", "--no-tsne", "-o", str(tmp_path), "--force"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "shift.json").read_text())
    assert report["mmd"]["p_value"] > 0.5
    # every target row is a source row: the leakage guard says so
    leakage = json.loads((tmp_path / "leakage.json").read_text())
    assert leakage["pairs"][0]["exact"] == leakage["roles"]["target"] == 293
    assert "LEAKAGE: 293 of 293 target cases are duplicates" in result.output


def test_rank_scores_sources_and_validates_against_fitted_auroc(runner, heart_csv, tmp_path):
    sources = []
    for site in ("Hungary", "VA Long Beach", "Switzerland"):
        sources += ["--source", str(heart_csv), "--source-site", site]
    args = ["rank", str(heart_csv), *sources, "--label-col", "diagnosis", "--site-col", "dataset"]
    args += ["--target-site", "Cleveland", "--target-labels", "30", "--validate"]
    result = runner.invoke(app, [*args, "--score", "leep", "-o", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    ranking = json.loads((tmp_path / "r" / "rank.json").read_text())
    assert [row["rank"] for row in ranking["ranking"]] == [1, 2, 3]
    assert {row["name"] for row in ranking["ranking"]} == {
        "Hungary",
        "VA Long Beach",
        "Switzerland",
    }
    assert all(0.5 < row["fitted_auroc"] <= 1 for row in ranking["ranking"])
    assert -1 <= ranking["validation"]["kendall_tau"] <= 1
    assert "Kendall's tau" in result.output


def test_rank_needs_one_site_per_source(runner, heart_csv, tmp_path):
    args = ["rank", str(heart_csv), "--source", str(heart_csv), "--source", str(heart_csv)]
    args += ["--source-site", "Hungary", "--label-col", "diagnosis", "--site-col", "dataset"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "2 --source but 1 --source-site" in result.output
