"""fit --plan/--strict, plan init, --dedupe and --prevalence from the command line."""

import json

import pytest

from medtransfer.cli import app
from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.plan import check_heldout_size, load_plan

HEART = ["--label-col", "diagnosis", "--site-col", "dataset", "--source-site", "Cleveland",
         "--target-site", "Hungary", "--target-labels", "10", "--method", "source_only"]


def _plan(runner, tmp_path, **acceptance):
    path = tmp_path / "plan.json"
    assert runner.invoke(app, ["plan", "init", "-o", str(path)]).exit_code == 0
    plan = json.loads(path.read_text())
    plan["acceptance"].update(acceptance)
    path.write_text(json.dumps(plan))
    return path


@pytest.fixture(scope="module")
def failed_run(heart_csv, tmp_path_factory):
    """A heart run whose plan asks for a lower AUROC limit no model reaches."""
    from typer.testing import CliRunner

    runner, tmp = CliRunner(), tmp_path_factory.mktemp("planned")
    plan = _plan(runner, tmp, auroc_lower=0.99, max_leaked_cases=None)
    result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *HEART, "--plan",
                                 str(plan), "--strict", "--prevalence", "0.2", "-o",
                                 str(tmp / "run"), "-q"])
    return result, tmp / "run"


@pytest.mark.slow
def test_a_failed_plan_exits_non_zero_with_strict_and_is_recorded(failed_run):
    result, run = failed_run
    assert result.exit_code == 1
    assert "plan: FAILED (lower 95% limit of auroc" in result.output
    record = json.loads((run / "manifest.json").read_text())["plan"]
    assert record["passed"] is False
    auroc = next(c for c in record["checks"] if c["criterion"] == "lower 95% limit of auroc")
    assert auroc["passed"] is False and auroc["observed"] < 0.99
    assert record["change_log"][0]["change"].startswith("source model used unchanged")


def test_the_report_shows_leakage_first_then_the_failed_plan_and_the_study(failed_run, runner):
    _, run = failed_run
    assert runner.invoke(app, ["report", str(run)]).exit_code == 0
    page = (run / "report.html").read_text()
    sections = [page.index(f"id='{s}'") for s in ("leakage", "plan", "data")]
    assert sections == sorted(sections)
    assert "The run FAILS its site-adaptation plan" in page
    for text in ("Calibration slope", "Calibration-in-the-large", "Decision curves",
                 "estimates AUROC to ±", "PPV at the stated prevalence", "TRIPOD+AI checklist"):
        assert text in page


def test_dedupe_error_refuses_the_duplicated_hungarian_row(runner, heart_csv, tmp_path):
    result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *HEART, "--dedupe",
                                 "error", "-o", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 2
    assert "LEAKAGE: 1 of 283 held-out target cases are duplicates" in result.output
    assert not (tmp_path / "run").exists()


def test_prevalence_outside_zero_one_is_one_line(runner, heart_csv, tmp_path):
    result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *HEART,
                                 "--prevalence", "0", "-o", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "error: --prevalence 0.0: expected None or a number in (0, 1)" in result.output


def test_plan_with_unknown_key_or_impossible_bounds_is_refused(runner, tmp_path):
    path = _plan(runner, tmp_path)
    plan = json.loads(path.read_text())
    path.write_text(json.dumps({**plan, "acceptence": {}}))
    with pytest.raises(ConfigError, match="unknown key 'acceptence' in the plan; did you mean "
                                          "'acceptance'"):
        load_plan(path)
    path.write_text(json.dumps({**plan, "acceptance": {"auroc_lower": 1.2}}))
    with pytest.raises(ConfigError, match=r"acceptance.auroc_lower = 1.2 is impossible"):
        load_plan(path)
    path.write_text(json.dumps({**plan, "acceptance": {"calibration_slope": [1.3, 0.7]}}))
    with pytest.raises(ConfigError, match=r"calibration_slope = \[1.3, 0.7\] is impossible"):
        load_plan(path)
    assert runner.invoke(app, ["plan", "init", "-o", str(path)]).exit_code == 2


def test_a_heldout_set_too_small_for_a_bound_is_one_line(runner, tmp_path):
    plan = load_plan(_plan(runner, tmp_path))
    with pytest.raises(DataError, match="held-out target has 4 positive and 30 negative cases: "
                                        "too few to estimate the plan's auroc_lower"):
        check_heldout_size(plan, 4, 30)


@pytest.mark.slow
def test_dedupe_drop_scores_without_the_duplicate(runner, heart_csv, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *HEART, "--dedupe",
                                 "drop", "-o", str(run), "-q"])
    assert result.exit_code == 0, result.output
    assert "dropped from scoring (--dedupe drop)" in result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["leakage"]["dropped"] == 1
    assert manifest["validation"]["sample_size"]["n"] == 282


def test_the_plan_judges_the_calibration_a_recalibrated_run_serves():
    from medtransfer.evaluate.plan import DEFAULT_PLAN, check_plan

    plan = {**DEFAULT_PLAN, "sequestered_ids": []}
    manifest = {"method": "coral", "chosen_method": "coral", "recalibrate": "platt",
                "metrics": {"coral": {"calibration_slope": {"value": 1.6}},
                            "coral+recalibrated": {"calibration_slope": {"value": 1.05}}}}
    record = check_plan(plan, manifest, labelled_ids=[], subgroup_auroc={})
    slope = next(c for c in record["checks"] if c["criterion"] == "calibration slope")
    assert slope["observed"] == 1.05 and slope["passed"]
    assert "before 1.600, after 1.050" in record["change_log"][1]["evidence"]
