"""Policy values of effect runs through the CLI: fit, evaluate and report; --n-refits."""

from __future__ import annotations

import json

import pytest
from tests.cli_output import one_clean_line

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.cli import app
from medtransfer.datasets import files_path

WARFARIN = files_path("iwpc_warfarin.csv")
AMIODARONE = "Amiodarone (Cordarone)"
SITES = ["--id-col", "PharmGKB Subject ID", "--site-col", "Project Site"]
EFFECT = ["--task", "regression", "--label-col", "Therapeutic Dose of Warfarin", *SITES,
          "--source-site", "1", "--target-site", "4", "--treatment-col", AMIODARONE,
          "--target-transform", "sqrt", "--method", "pooled", "--classifier", "logreg",
          "--target-labels", "60", "--quiet"]


@pytest.fixture(scope="module")
def warfarin_run(tmp_path_factory):
    """Amiodarone's effect on the weekly dose, site 1 -> site 4, valued with lower better."""
    from typer.testing import CliRunner

    run = tmp_path_factory.mktemp("warfarin") / "run"
    result = CliRunner().invoke(app, ["fit", str(WARFARIN), str(WARFARIN), *EFFECT,
                                      "--n-refits", "8", "--better", "lower", "-o", str(run)])
    assert result.exit_code == 0, result.output
    return run, result.output


def test_a_warfarin_effect_run_values_its_recommendations(warfarin_run):
    run, output = warfarin_run
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["effect"]["n_refits"] == 8 and manifest["metrics"]["mean_effect"][
        "n_refits"] == 8
    policy = manifest["metrics"]["policy_value"]
    assert policy["n"] == manifest["metrics"]["mean_effect"]["n"] == 190
    assert policy["better"] == "lower" and policy["propensity"]["kind"] == "logistic"
    for per in (*policy["values"].values(), *policy["differences"].values()):
        for ci in per.values():
            assert ci["low"] <= ci["value"] <= ci["high"]
    # no one is treated under treat-none: both estimators are the untreated rows' mean dose
    none = policy["values"]["treat_none"]
    assert none["ipw"]["value"] == pytest.approx(none["dr"]["value"], abs=0.5)
    assert 15 < none["dr"]["value"] < 30  # mg/week at the East-Asian site 4
    # amiodarone is rare at site 4: the propensities are extreme and the warning counts them
    assert policy["n_clipped"] > 100
    assert f"{policy['n_clipped']} of 190 rows have a propensity" in output
    assert "mean outcome by policy (lower is better; 190 rows" in output
    assert "recommended - treat none" in output


def test_evaluate_values_the_policy_on_new_rows_with_another_propensity(runner, warfarin_run,
                                                                       tmp_path):
    run, _ = warfarin_run
    args = ["evaluate", str(run), str(WARFARIN), *SITES, "--site", "4", "--quiet"]
    result = runner.invoke(app, [*args, "--propensity", "share", "--format", "json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output[result.output.index("{"):])
    policy = metrics["policy_value"]
    assert policy["propensity"]["kind"] == "share" and policy["n"] == 190
    assert set(metrics) == {"mean_effect", "factual", "calibration_by_quantile", "policy_value"}
    # with a given propensity the bins' observed effects are mean DR pseudo-outcomes
    calibration = metrics["calibration_by_quantile"]
    assert calibration["estimator"].startswith("mean doubly robust")
    assert len(calibration["bins"]) == 5 and sum(b["n"] for b in calibration["bins"]) == 190
    line = one_clean_line(runner.invoke(app, [*args, "--propensity", "1.5"]))
    assert line.startswith("error: --propensity 1.5: expected one of logistic, share or a "
                           "number in (0, 1)")
    line = one_clean_line(runner.invoke(app, [*args, "--better", "up"]))
    assert line.startswith("error: --better 'up': expected None or one of higher, lower")


def test_the_report_shows_the_policy_values_escaped(runner, tmp_path):
    trial = simulate_trial(200, 150, random_state=3)
    drug = "<b>drug</b>"
    for domain in (trial.source, trial.target):
        frame = domain.inputs.rename(columns={"treated": drug})
        frame.assign(id=domain.ids, outcome=domain.labels).to_csv(
            tmp_path / f"{domain.name}.csv", index=False)
    run = tmp_path / "run"
    result = runner.invoke(app, [
        "fit", str(tmp_path / "source.csv"), str(tmp_path / "target.csv"), "--task",
        "regression", "--label-col", "outcome", "--id-col", "id", "--treatment-col", drug,
        "--method", "source_only", "--classifier", "logreg", "--target-labels", "10",
        "--n-refits", "5", "--better", "higher", "--propensity", "0.5", "--quiet",
        "-o", str(run)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text()
    assert drug not in page and "&lt;b&gt;drug&lt;/b&gt;" in page
    policy = json.loads((run / "manifest.json").read_text())["metrics"]["policy_value"]
    assert "<section id='policy'><h2>Policy value</h2>" in page
    assert f"{policy['values']['treat_all']['dr']['value']:.3f}" in page
    assert "Propensity: known (mean 0.500" in page and "every component fits" in page
    assert "Calibration of effects by quantile" in page


def test_bad_effect_options_are_one_line_before_any_data_is_read(runner, tmp_path):
    missing = str(tmp_path / "absent.csv")
    base = ["fit", missing, missing, "-o", str(tmp_path / "run")]
    line = one_clean_line(runner.invoke(app, [*base, "--treatment-col", "t", "--n-refits",
                                              "1"]))
    assert line == "error: --n-refits 1: expected 0 or an integer >= 2"
    line = one_clean_line(runner.invoke(app, [*base, "--treatment-col", "t", "--better",
                                              "more"]))
    assert line.startswith("error: --better 'more': expected None or one of higher, lower")
    line = one_clean_line(runner.invoke(app, [*base, "--n-refits", "50"]))
    assert "--n-refits appl(ies) only to a treatment-effect fit" in line
    line = one_clean_line(runner.invoke(app, [*base, "--treatment-col", "t", "--learner",
                                              "r"]))
    assert line == "error: --learner 'r': expected one of t, s, x, dr"
    line = one_clean_line(runner.invoke(app, [*base, "--learner", "dr"]))
    assert "--learner appl(ies) only to a treatment-effect fit" in line
    assert not (tmp_path / "run").exists()


def test_an_effect_run_chooses_one_classifier_family_for_both_arms(runner, tmp_path):
    options = [*EFFECT[:EFFECT.index("--classifier")], "--classifier", "auto",
               *EFFECT[EFFECT.index("--classifier") + 2:]]
    options.remove("--quiet")
    result = runner.invoke(app, ["fit", str(WARFARIN), str(WARFARIN), *options,
                                 "--n-refits", "0", "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    family = manifest["classifier"]
    assert manifest["classifier_selection"]["chosen"] == family
    assert {c["task"] for c in manifest["components"].values()} == {"regression"}
    assert f"classifier auto chose {family}: " in result.output


def test_recommend_follows_the_direction_the_run_was_fitted_with(runner, warfarin_run, tmp_path):
    run, _ = warfarin_run
    base = ["predict", str(run), str(WARFARIN), "--id-col", "PharmGKB Subject ID",
            "--site-col", "Project Site", "--site", "4", "--quiet", "--recommend"]
    fitted = runner.invoke(app, [*base, "-o", str(tmp_path / "fitted.csv")])
    given = runner.invoke(app, [*base, "--better", "lower", "-o", str(tmp_path / "given.csv")])
    assert fitted.exit_code == 0 and given.exit_code == 0, fitted.output + given.output
    assert (tmp_path / "fitted.csv").read_text() == (tmp_path / "given.csv").read_text()
    assert "recommended" in (tmp_path / "fitted.csv").read_text().splitlines()[0]


def test_a_tampered_direction_in_the_manifest_is_refused_in_one_line(runner, warfarin_run,
                                                                     tmp_path):
    import shutil

    from medtransfer import artifacts, integrity

    run = shutil.copytree(warfarin_run[0], tmp_path / "run")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.pop(integrity.INTEGRITY)
    manifest["effect"]["better"] = "__import__('os')"
    artifacts.write_manifest(run, manifest)  # re-sealed: an unsigned digest proves nothing
    line = one_clean_line(runner.invoke(app, [
        "predict", str(run), str(WARFARIN), "--site-col", "Project Site", "--site", "4",
        "--quiet", "--recommend", "-o", str(tmp_path / "advice.csv")]))
    assert "effect.better \"__import__('os')\" is neither 'higher' nor 'lower'" in line
    assert not (tmp_path / "advice.csv").exists()
