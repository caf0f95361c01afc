"""Effect intervals from refitting both arms, on a simulated trial with known effects."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.errors import ArtifactError, ConfigError, DataError
from medtransfer.runs.effect import EffectPipeline, effect_frame
from medtransfer.runs.effect_intervals import effect_draws
from medtransfer.runs.pipeline import TransferPipeline


def ridge_arms() -> TransferPipeline:
    return TransferPipeline(method="source_only", classifier="logreg", task="regression",
                            baselines=False, progress=False)


@pytest.fixture(scope="module")
def trial():
    return simulate_trial(300, 200, random_state=1)


def test_refitted_arms_give_intervals_that_hold_the_known_effect(trial):
    effect = EffectPipeline("treated", ridge_arms(), n_refits=40).fit(trial.source,
                                                                      trial.target, 20)
    draws = effect_draws(effect, trial.target)
    assert draws.effects.shape == (40, len(trial.target)) and draws.mean.shape == (40,)
    low, high = draws.mean_interval()
    # the shifted target's average effect (1.5) is not the source's (1.0); the interval
    # includes the fits' uncertainty, far wider than resampling 200 rows of one fit
    assert low <= trial.population_effect <= high and high - low > 0.2
    row_low, row_high = draws.row_intervals()
    assert np.mean((row_low <= trial.true_effect) & (trial.true_effect <= row_high)) > 0.7
    estimate = effect.predict(trial.target)
    assert np.mean((row_low <= estimate) & (estimate <= row_high)) > 0.9
    with pytest.raises(ConfigError, match="n_refits=1"):
        EffectPipeline("treated", ridge_arms(), n_refits=1).fit(trial.source, trial.target, 20)


def test_labelled_target_rows_are_drawn_from_both_arms_or_refused(trial):
    effect = EffectPipeline("treated", ridge_arms()).fit(trial.source, trial.target, 4)
    assert effect.n_rows_["control"]["target"] >= 1 and effect.n_rows_["treated"]["target"] >= 1
    assert effect.selection_["chosen_method"] == "source_only"
    records = effect.component_records()
    assert {r["chosen_method"] for r in records.values()} == {"source_only"}
    control = trial.target.ids[trial.target.inputs["treated"].to_numpy() == 0][:6]
    with pytest.raises(DataError, match=r"all in one arm of 'treated'.*none is treated"):
        EffectPipeline("treated", ridge_arms()).fit(trial.source, trial.target, list(control))


def test_saved_refits_reload_and_give_the_same_intervals(trial, tmp_path):
    small = simulate_trial(150, 80, random_state=2)
    effect = EffectPipeline("treated", ridge_arms(), n_refits=5).fit(small.source,
                                                                     small.target, 10)
    path = effect.save(tmp_path / "effect")
    files = json.loads((path / "manifest.json").read_text())["files"]
    assert {f"refits/{arm}/{i:03d}.skops" for arm in ("control", "treated")
            for i in range(5)} <= set(files)
    loaded = EffectPipeline.load(path, progress=False)
    assert len(loaded.refits_) == 5
    saved, reloaded = effect_frame(effect, small.target), effect_frame(loaded, small.target)
    assert {"effect_low", "effect_high"} <= set(reloaded.columns)
    pd.testing.assert_frame_equal(saved, reloaded)
    last = path / "refits" / "treated" / "004.skops"
    original = last.read_bytes()
    last.write_bytes(b"not a model")
    with pytest.raises(ArtifactError, match=r"004\.skops does not match its sha256"):
        EffectPipeline.load(path)
    last.write_bytes(original)
    (path / "refits" / "treated" / "005.skops").write_bytes(b"")
    with pytest.raises(ArtifactError, match="does not list"):
        EffectPipeline.load(path)


def test_a_run_without_refits_predicts_point_effects(tmp_path):
    small = simulate_trial(150, 80, random_state=3)
    effect = EffectPipeline("treated", ridge_arms(), n_refits=0).fit(small.source,
                                                                     small.target, 10)
    loaded = EffectPipeline.load(effect.save(tmp_path / "effect"), progress=False)
    assert loaded.refits_ == [] and not (tmp_path / "effect" / "refits").exists()
    assert list(effect_frame(loaded, small.target).columns) == [
        "id", "outcome_control", "outcome_treated", "effect"]
