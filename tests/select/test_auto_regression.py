"""AutoTransfer for regression: the pooled anchor and the PW20 decision, on IWPC warfarin."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtransfer.errors import ConfigError
from medtransfer.select.auto import AutoTransfer


def hits(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - y) <= 0.2 * y))


@pytest.fixture(scope="module")
def sqrt_split(dose_split):
    """The benchmark split on sqrt(dose): (X, y, domain, X_test, dose_test)."""
    X, dose, domain, X_test, dose_test = dose_split
    return X, np.sqrt(dose), domain, X_test, dose_test


def test_pooled_anchor_and_pw20_decision_tuned_out_of_fold(sqrt_split):
    X, y, domain, X_test, dose_test = sqrt_split
    auto = AutoTransfer(candidates=["transfer_ridge"], n_repeats=1, point="pw20",
                        target_transform="sqrt", random_state=0)
    auto.fit(X, y, sample_domain=domain)
    ev = json.loads(json.dumps(auto.evidence_, allow_nan=False))
    assert ev["task"] == "regression" and ev["baseline_anchor"]["anchor"] == "pooled"
    assert auto.choice_ in ("pooled", "transfer_ridge")
    decision = ev["decision"]
    assert decision["applied"] and decision["bandwidth"] == auto.decision_.bandwidth_ > 0
    chosen = decision["validation"][str(auto.decision_.bandwidth_)]
    assert chosen["pw20"] >= decision["validation"]["0.0"]["pw20"]
    plain = auto.estimator_.predict(X_test)
    decided = auto.predict(X_test)
    np.testing.assert_allclose(decided, auto.decision_.predict(plain))
    assert hits(dose_test, decided**2) > hits(dose_test, plain**2)
    assert "folds_raw" not in ev


def test_credible_rule_keeps_source_only_as_the_anchor(sqrt_split):
    X, y, domain, _, _ = sqrt_split
    auto = AutoTransfer(candidates=[], n_repeats=1, baseline_rule="credible", random_state=0)
    auto.fit(X, y, sample_domain=domain)
    assert auto.evidence_["baseline_anchor"]["anchor"] == "source_only"
    assert auto.decision_ is None and "decision" not in auto.evidence_


def test_without_target_labels_the_decision_is_not_applied(sqrt_split):
    X, y, domain, X_test, _ = sqrt_split
    unlabelled = np.where(domain < 0, np.nan, y)
    auto = AutoTransfer(candidates=[], n_repeats=1, point="pw20", target_transform="sqrt",
                        random_state=0).fit(X, unlabelled, sample_domain=domain)
    assert auto.decision_ is None and not auto.evidence_["decision"]["applied"]
    np.testing.assert_array_equal(auto.predict(X_test), auto.estimator_.predict(X_test))


def test_point_and_transform_are_checked(sqrt_split):
    X, y, domain, _, _ = sqrt_split
    with pytest.raises(ConfigError, match=r"\(point='median'\): expected one of 'mean', 'pw20'"):
        AutoTransfer(point="median").fit(X, y, sample_domain=domain)
    with pytest.raises(ConfigError, match=r"\(target_transform='cube'\): expected one of 'none'"):
        AutoTransfer(target_transform="cube").fit(X, y, sample_domain=domain)
    labels = np.r_[np.zeros(30), np.ones(30)].astype(int)
    with pytest.raises(ConfigError, match=r"\(point='pw20'\): applies only with task='regression'"):
        AutoTransfer(point="pw20").fit(np.zeros((60, 2)), labels,
                                       sample_domain=np.ones(60, dtype=int))
