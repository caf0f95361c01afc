"""``point="pw20"``: auto's PW20 decision through the pipeline, saved and loaded again."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.datasets import warfarin
from medtransfer.errors import ConfigError
from medtransfer.runs.pipeline import TransferPipeline

pytestmark = pytest.mark.slow


def test_pw20_decision_is_tuned_on_the_labelled_target_and_survives_save_and_load(tmp_path):
    target = warfarin(site=[3])
    pipeline = TransferPipeline(method="auto", method_params={"candidates": [], "n_repeats": 1},
                                classifier="logreg", task="regression", target_transform="sqrt",
                                point="pw20", progress=False)
    pipeline.fit(warfarin(site=[1, 2]), target, target_labels=40)
    auto = pipeline.models_["auto"]
    decision = auto.evidence_["decision"]
    # the chosen bandwidth has the best out-of-fold PW20 among those at most 1% worse in MAE
    limit = decision["validation"]["0.0"]["mae"] * 1.01
    allowed = {b: v["pw20"] for b, v in decision["validation"].items() if v["mae"] <= limit}
    assert allowed[str(decision["bandwidth"])] == max(allowed.values())
    doses = pipeline.predict(target)
    raw = np.square(np.clip(auto.estimator_.predict(pipeline.features(target)), 0, None))
    if decision["applied"]:  # decided doses are taken from the source's dose grid
        assert not np.allclose(doses, raw)
    pipeline.save(tmp_path / "run")
    np.testing.assert_array_equal(TransferPipeline.load(tmp_path / "run").predict(target), doses)


def test_pw20_point_needs_regression_auto():
    with pytest.raises(ConfigError, match=r"TransferPipeline\(point='pw20'\): applies only"):
        TransferPipeline(method="coral", task="regression", point="pw20").fit(
            warfarin(site=[1]), warfarin(site=[3]), target_labels=20)
