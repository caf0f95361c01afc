"""Every effect learner through the CLI: fit --learner, predict --recommend, evaluate, report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.cli import app


@pytest.fixture(scope="module")
def trial_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trial")
    trial = simulate_trial(200, 150, outcome="binary", random_state=4)
    for domain in (trial.source, trial.target):
        domain.inputs.assign(id=domain.ids, event=domain.labels).to_csv(
            folder / f"{domain.name}.csv", index=False)
    return folder


@pytest.mark.parametrize("learner", ["s", "x", "dr"])
def test_a_learner_fits_recommends_evaluates_and_reports(runner, trial_files, learner):
    source, target = trial_files / "source.csv", trial_files / "target.csv"
    run = trial_files / f"run_{learner}"
    data = ["--label-col", "event", "--id-col", "id"]
    result = runner.invoke(app, [
        "fit", str(source), str(target), *data, "--treatment-col", "treated", "--learner",
        learner, "--method", "source_only", "--classifier", "logreg", "--target-labels", "20",
        "--n-refits", "4", "--better", "lower", "--quiet", "-o", str(run)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["learner"] == learner == manifest["effect"]["learner"]
    assert all(r["chosen_method"] == "source_only" for r in manifest["components"].values())
    advice = trial_files / f"advice_{learner}.csv"
    result = runner.invoke(app, ["predict", str(run), str(target), "--id-col", "id", "-o",
                                 str(advice), "--recommend", "--quiet"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(advice)
    assert set(frame["recommended"]) <= {"treated", "control", "abstain"}
    assert (frame["effect_low"] <= frame["effect_high"]).all()
    result = runner.invoke(app, ["evaluate", str(run), str(target), *data, "--quiet",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output[result.output.index("{"):])
    assert sum(b["n"] for b in metrics["calibration_by_quantile"]["bins"]) == 130
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert f"Learner <strong>{learner}</strong>" in (run / "report.html").read_text()
