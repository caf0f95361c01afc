"""A rare arm among the target rows is named, with how many rows it has."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.runs.effect import EffectPipeline
from medtransfer.runs.effect_overlap import OverlapWarning, warn_poor_overlap
from medtransfer.runs.pipeline import TransferPipeline


def test_a_rare_treated_arm_in_the_target_is_warned_with_its_count():
    trial = simulate_trial(150, 100, random_state=4)
    treated = np.zeros(100)
    treated[:3] = 1.0
    target = replace(trial.target, inputs=trial.target.inputs.assign(treated=treated))
    arms = TransferPipeline(method="source_only", classifier="logreg", task="regression",
                            baselines=False, progress=False)
    with pytest.warns(OverlapWarning, match=r"only 3 of 100 rows with 'treated' recorded are "
                                            r"treated \(3\.0%, under 5%\)"):
        EffectPipeline("treated", arms, n_refits=0).fit(trial.source, target)


def test_the_rare_arm_may_be_control_and_balanced_arms_are_quiet():
    arms = np.r_[np.ones(97), np.zeros(2), np.full(5, np.nan)]
    with pytest.warns(OverlapWarning, match=r"only 2 of 99 rows .* are control"):
        warn_poor_overlap(arms, "statin", "site 4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_poor_overlap(np.r_[np.ones(10), np.zeros(90)], "statin", "site 4")
        warn_poor_overlap(np.full(10, np.nan), "statin", "site 4")
