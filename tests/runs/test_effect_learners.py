"""S-, X- and DR-learners of TransferPipelines on simulated trials whose effects are known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.errors import ConfigError
from medtransfer.runs.effect import EffectPipeline, effect_frame
from medtransfer.runs.effect_intervals import effect_draws
from medtransfer.runs.effect_learners import propensity_covariates
from medtransfer.runs.pipeline import TransferPipeline
from medtransfer.runs.validation import heldout_target


def template(task: str) -> TransferPipeline:
    return TransferPipeline(method="source_only", classifier="logreg", task=task,
                            baselines=False, progress=False)


@pytest.fixture(scope="module")
def continuous():
    return simulate_trial(400, 300, random_state=1)


@pytest.fixture(scope="module")
def binary():
    return simulate_trial(400, 300, outcome="binary", random_state=1)


@pytest.mark.parametrize(("learner", "tolerance"), [("s", 0.8), ("x", 0.3), ("dr", 0.3)])
def test_learners_recover_the_known_continuous_effect(continuous, learner, tolerance):
    trial = continuous
    effect = EffectPipeline("treated", template("regression"), n_refits=0,
                            learner=learner).fit(trial.source, trial.target, 20)
    estimate = effect.predict(trial.target)
    # the target's average effect is 1.5 (the source's 1.0): positive, of about that size
    assert trial.population_effect == pytest.approx(1.5, abs=0.05)
    assert abs(estimate.mean() - trial.population_effect) < tolerance
    if learner != "s":  # a linear S-learner has one effect; X and DR learn tau(x) = 1 + x0/2
        assert np.corrcoef(estimate, trial.true_effect)[0, 1] > 0.8
    # every component fits the one shared method, and the manifest says which they are
    records = effect.run_entries()["components"]
    assert {r["chosen_method"] for r in records.values()} == {"source_only"}
    assert set(records) == {"s": {"joint"}, "x": {"control", "treated", "effect_treated",
                                                 "effect_control"},
                            "dr": {"control", "treated", "effect"}}[learner]
    assert effect.run_entries()["learner"] == learner


@pytest.mark.parametrize(("learner", "tolerance"), [("s", 0.2), ("x", 0.1), ("dr", 0.12)])
def test_learners_give_a_risk_difference_for_a_binary_outcome(binary, learner, tolerance):
    trial = binary
    effect = EffectPipeline("treated", template("classification"), n_refits=0,
                            learner=learner).fit(trial.source, trial.target, 20)
    estimate = effect.predict(trial.target)
    assert trial.population_effect == pytest.approx(0.25, abs=0.02)
    assert estimate.mean() > 0 and abs(estimate.mean() - trial.population_effect) < tolerance
    mu0, mu1 = effect.predict_outcomes(trial.target)
    assert ((mu0 >= 0) & (mu0 <= 1) & (mu1 >= 0) & (mu1 <= 1)).all()
    if learner == "s":
        np.testing.assert_allclose(estimate, mu1 - mu0)
    else:  # the effect models are regressions of the pseudo-outcomes on the risk scale
        assert effect.pipelines_["control"].task == "classification"
        assert {effect.pipelines_[n].task for n in effect.refitted_components} == {"regression"}


def test_the_x_learner_weighs_its_two_effect_models_by_the_propensity(continuous):
    trial = continuous
    effect = EffectPipeline("treated", template("regression"), n_refits=0,
                            learner="x").fit(trial.source, trial.target, 20)
    features = effect.without_treatment(trial.target)
    tau1, tau0 = (effect.pipelines_[n].predict(features)
                  for n in ("effect_treated", "effect_control"))
    g = effect.propensity_model_.predict_proba(propensity_covariates(
        effect.pipelines_["control"].features(features)))[:, 1].clip(0.05, 0.95)
    np.testing.assert_allclose(effect.predict(trial.target), g * tau0 + (1 - g) * tau1)
    assert not np.allclose(tau0, tau1)


@pytest.mark.parametrize(("learner", "files"), [
    ("s", {"refits/joint/003.skops", "joint/manifest.json"}),
    ("x", {"propensity.skops", "refits/effect_treated/003.skops",
           "refits/effect_control/003.skops"}),
    ("dr", {"refits/effect/003.skops", "effect/manifest.json"}),
])
def test_saved_learners_reload_with_the_same_effects_intervals_and_scores(learner, files,
                                                                         tmp_path):
    small = simulate_trial(200, 120, random_state=2)
    effect = EffectPipeline("treated", template("regression"), n_refits=4, learner=learner,
                            better="higher").fit(small.source, small.target, 10)
    path = effect.save(tmp_path / "effect")
    manifest = json.loads((path / "manifest.json").read_text())
    assert files <= set(manifest["files"]) and manifest["effect"]["learner"] == learner
    loaded = EffectPipeline.load(path, progress=False)
    assert loaded.learner == learner and len(loaded.refits_) == 4
    saved, reloaded = effect_frame(effect, small.target), effect_frame(loaded, small.target)
    assert {"effect_low", "effect_high"} <= set(reloaded.columns)
    pd.testing.assert_frame_equal(saved, reloaded)
    assert (saved["effect_low"] < saved["effect_high"]).all()
    heldout = heldout_target(small.target, effect.labelled_target_ids_)
    scores = loaded.score(heldout, loaded.predict_frame(heldout), 50)
    assert {"calibration_by_quantile", "policy_value"} <= set(scores)
    assert "values" in scores["policy_value"]


def test_refitted_learners_give_intervals_that_hold_the_known_effects(continuous):
    trial = continuous
    for learner in ("x", "dr"):
        effect = EffectPipeline("treated", template("regression"), n_refits=30,
                                learner=learner).fit(trial.source, trial.target, 20)
        draws = effect_draws(effect, trial.target)
        low, high = draws.mean_interval()
        assert low <= trial.population_effect <= high, learner
        row_low, row_high = draws.row_intervals()
        covered = np.mean((row_low <= trial.true_effect) & (trial.true_effect <= row_high))
        assert covered > 0.5, learner


def test_an_unknown_learner_is_refused_before_fitting(continuous):
    with pytest.raises(ConfigError, match=r"learner='r'.*one of 't', 's', 'x', 'dr'"):
        EffectPipeline("treated", template("regression"), learner="r").fit(
            continuous.source, continuous.target)
    with pytest.raises(ConfigError, match=r"n_folds=1"):
        EffectPipeline("treated", template("regression"), learner="dr", n_folds=1).fit(
            continuous.source, continuous.target)
