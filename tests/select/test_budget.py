"""auto's work is planned from the data size and a fit budget, never the clock."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.select.auto import AutoTransfer
from medtransfer.select.budget import SIZE_RULES, SizeRule, plan_candidates


def test_a_size_rule_skips_a_candidate_and_says_why():
    rows = SIZE_RULES["jda"].max_rows + 1
    plan = plan_candidates(["coral", "jda"], n_rows=rows, n_folds=15)
    assert plan.run == ["coral"]
    [entry] = plan.skipped
    rule = SIZE_RULES["jda"].max_rows
    assert entry["name"] == "jda" and f"{rows} rows > {rule}" in entry["reason"]
    assert plan_candidates(["jda"], n_rows=rows - 1, n_folds=15).run == ["jda"]


def test_the_fit_budget_keeps_the_declared_order():
    plan = plan_candidates(["a", "b", "c"], n_rows=10, n_folds=5, max_fits=10, size_rules={})
    assert plan.run == ["a", "b"]
    assert plan.skipped == [{"name": "c", "reason": "work budget of 10 fits spent (2 "
                                                    "candidates x 5 folds)"}]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(160, 4))
    X[80:] *= 2.0
    y = (X[:, 0] > 0).astype(int)
    y[100:] = -1
    sample_domain = np.r_[np.ones(80), -2 * np.ones(80)].astype(int)
    return X, y, sample_domain


def _without_times(value):
    """The evidence without its wall-clock seconds, the one part that may differ."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if not k.startswith("time")}
    return value


@pytest.mark.slow
def test_auto_twice_gives_the_same_choice_and_evidence_and_prints_its_skips(capsys):
    X, y, sd = _data()
    rules = {"coral": SizeRule(100, "planted rule")}
    runs = [AutoTransfer(candidates=["coral", "ot_linear"], size_rules=rules, n_repeats=1,
                         random_state=0, progress=True).fit(X, y, sample_domain=sd)
            for _ in range(2)]
    first, second = (_without_times(r.evidence_) for r in runs)
    assert first == second and runs[0].choice_ == runs[1].choice_
    assert first["skipped"] == [{"name": "coral", "reason": "160 rows > 100, the most it is "
                                                            "tried on: planted rule"}]
    assert "ot_linear" in first["methods"] and "coral" not in first["methods"]
    err = capsys.readouterr().err
    assert err.count("auto: skipped coral: 160 rows > 100") == 2


def test_the_evidence_names_rare_classes_by_name():
    from medtransfer.select.auto import _held_in_note

    y = np.array([0, 0, 2, 2, 1])
    note = _held_in_note(y, np.array([2, 3]), 5, ["neutrophil", "lymphocyte", "basophil"])
    assert note.startswith("class 'basophil': 2 labelled target sample(s)")
