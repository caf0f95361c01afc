"""`medtransfer predict` on a treatment-effect run: intervals, --recommend, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.cli_output import one_clean_line

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.cli import app
from medtransfer.runs.effect import EffectPipeline
from medtransfer.runs.pipeline import TransferPipeline

EFFECT_OPTIONS = ["--task", "regression", "--label-col", "outcome", "--id-col", "id",
                  "--treatment-col", "treated", "--method", "source_only",
                  "--classifier", "logreg", "--quiet"]


def table(domain) -> pd.DataFrame:
    return domain.inputs.assign(id=domain.ids, outcome=domain.labels)


@pytest.fixture(scope="module")
def trial():
    return simulate_trial(160, 90, random_state=5)


@pytest.fixture(scope="module")
def effect_run(trial, tmp_path_factory):
    """A saved effect run with 10 refits and the target table it predicts."""
    base = tmp_path_factory.mktemp("effect")
    arms = TransferPipeline(method="source_only", classifier="logreg", task="regression",
                            baselines=False, progress=False)
    effect = EffectPipeline("treated", arms, n_refits=10).fit(trial.source, trial.target, 10)
    csv = base / "target.csv"
    table(trial.target).to_csv(csv, index=False)
    return effect.save(base / "run"), csv


def predict(runner, run, csv, out, *extra):
    return runner.invoke(app, ["predict", str(run), str(csv), "--id-col", "id",
                               "-o", str(out), *extra])


def test_a_loaded_effect_run_writes_intervals_and_recommends_an_arm(runner, effect_run,
                                                                    tmp_path):
    run, csv = effect_run
    result = predict(runner, run, csv, tmp_path / "effects.csv")
    assert result.exit_code == 0, result.output
    effects = pd.read_csv(tmp_path / "effects.csv")
    assert list(effects.columns) == ["id", "outcome_control", "outcome_treated", "effect",
                                     "effect_low", "effect_high"]
    assert (effects["effect_low"] <= effects["effect_high"]).all()
    result = predict(runner, run, csv, tmp_path / "higher.csv", "--recommend",
                     "--better", "higher")
    assert result.exit_code == 0, result.output
    assert "recommended: treated" in result.output
    higher = pd.read_csv(tmp_path / "higher.csv")
    treat, control = higher["effect_low"] > 0, higher["effect_high"] < 0
    expected = np.select([treat, control], ["treated", "control"], "abstain")
    assert (higher["recommended"] == expected).all()
    # the simulated effect 1 + 0.5 x0 helps most patients: most are told to take it
    assert treat.mean() > 0.5 and (higher["recommended"] == "abstain").any()
    np.testing.assert_allclose(higher.loc[treat, "expected_benefit"], higher.loc[treat, "effect"])
    assert higher.loc[~treat & ~control, "expected_benefit"].isna().all()
    assert (higher["expected_benefit"].dropna() > 0).all()
    result = predict(runner, run, csv, tmp_path / "lower.csv", "--recommend", "--better",
                     "lower")
    assert result.exit_code == 0, result.output
    lower = pd.read_csv(tmp_path / "lower.csv")
    flipped = higher["recommended"].map({"treated": "control", "control": "treated",
                                         "abstain": "abstain"})
    assert (lower["recommended"] == flipped).all()
    np.testing.assert_allclose(lower["expected_benefit"], higher["expected_benefit"])


def test_recommend_refuses_what_it_cannot_decide(runner, effect_run, tmp_path):
    run, csv = effect_run
    out = tmp_path / "no.csv"
    line = one_clean_line(predict(runner, run, csv, out, "--recommend"))
    assert "--recommend needs --better higher or --better lower" in line
    line = one_clean_line(predict(runner, run, csv, out, "--recommend", "--better", "up"))
    assert "--better 'up'" in line and "higher" in line
    line = one_clean_line(predict(runner, run, csv, out, "--better", "lower"))
    assert "--better only applies with --recommend" in line
    # an arm's folder is a plain run of one outcome
    line = one_clean_line(predict(runner, run / "control", csv, out, "--recommend",
                                  "--better", "higher"))
    assert "--recommend needs a treatment-effect run" in line
    assert not out.exists()


def test_an_outcome_of_strings_for_a_regression_effect_is_one_line(runner, trial, tmp_path):
    source = table(trial.source).assign(outcome=lambda f: np.where(f["outcome"] > 5, "high",
                                                                   "low"))
    source.to_csv(tmp_path / "source.csv", index=False)
    table(trial.target).to_csv(tmp_path / "target.csv", index=False)
    result = runner.invoke(app, ["fit", str(tmp_path / "source.csv"),
                                 str(tmp_path / "target.csv"), *EFFECT_OPTIONS,
                                 "-o", str(tmp_path / "run")])
    assert "regression needs numeric labels" in one_clean_line(result)


def test_labelled_target_rows_of_one_arm_only_are_one_line(runner, trial, tmp_path):
    target = table(trial.target)
    target.loc[target["treated"] == 0, "outcome"] = np.nan  # outcomes only of treated rows
    table(trial.source).to_csv(tmp_path / "source.csv", index=False)
    target.to_csv(tmp_path / "target.csv", index=False)
    result = runner.invoke(app, ["fit", str(tmp_path / "source.csv"),
                                 str(tmp_path / "target.csv"), *EFFECT_OPTIONS,
                                 "--target-labels", "10", "-o", str(tmp_path / "run")])
    line = one_clean_line(result)
    assert "all in one arm of 'treated'" in line and "none is control" in line
