"""Effect intervals from refitting both arms, on a simulated trial with known effects."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.errors import ConfigError, DataError
from medtransfer.runs.effect import EffectPipeline
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
    records = effect.arm_records()
    assert {r["chosen_method"] for r in records.values()} == {"source_only"}
    control = trial.target.ids[trial.target.inputs["treated"].to_numpy() == 0][:6]
    with pytest.raises(DataError, match=r"all in one arm of 'treated'.*none is treated"):
        EffectPipeline("treated", ridge_arms()).fit(trial.source, trial.target, list(control))
