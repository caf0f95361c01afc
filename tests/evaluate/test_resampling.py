"""The one bootstrap: seeded draws, patient-grouped resamples, paired differences."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.dosing import METRICS, dosing_breakdown, dosing_metrics
from medtransfer.evaluate.resampling import (
    bootstrap_resamples,
    paired_difference,
    paired_p_value,
    percentile_interval,
)
from medtransfer.select.validation import paired_bootstrap


def doses(n_patients: int, visits: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Doses of patients seen ``visits`` times each, the same error at every visit."""
    rng = np.random.default_rng(seed)
    true = rng.gamma(8, 4, n_patients) + 5
    pred = true * rng.normal(1, 0.25, n_patients)
    patient = np.arange(n_patients)
    return np.repeat(true, visits), np.repeat(pred, visits), np.repeat(patient, visits)


def test_without_groups_the_draws_are_the_plain_seeded_integers() -> None:
    # what dosing, the report and the benchmark tables drew before they shared this module
    plain = np.random.default_rng(5).integers(0, 40, size=(300, 40))
    np.testing.assert_array_equal(
        bootstrap_resamples(40, n_resamples=300, random_state=5).indices, plain)
    y = np.r_[np.zeros(9), np.ones(4)].astype(int)
    rng = np.random.default_rng(2)  # select's draws: every resample of a class, class by class
    by_class = np.concatenate([rng.choice(np.flatnonzero(y == c), size=(50, int(np.sum(y == c))))
                               for c in (0, 1)], axis=1)
    np.testing.assert_array_equal(
        bootstrap_resamples(y, n_resamples=50, random_state=2, stratum_major=True).indices,
        by_class)


def test_grouped_resamples_draw_whole_patients() -> None:
    _, _, patient = doses(30, 3)
    resamples = bootstrap_resamples(len(patient), groups=patient, n_resamples=40, random_state=1)
    assert len(resamples) == 40
    for idx in resamples:
        _, counts = np.unique(patient[idx], return_counts=True)
        assert len(idx) == len(patient) and np.all(counts % 3 == 0)


def test_grouped_interval_widens_with_within_patient_correlation() -> None:
    true, pred, patient = doses(40, 5)
    rows = dosing_metrics(true, pred, n_bootstrap=400, random_state=0).set_index("metric")
    grouped = dosing_metrics(true, pred, n_bootstrap=400, random_state=0,
                             groups=patient).set_index("metric")
    width = rows["ci_high"] - rows["ci_low"]
    grouped_width = grouped["ci_high"] - grouped["ci_low"]
    # five identical visits per patient: the row bootstrap sees 200 cases, there are 40
    assert (grouped_width["mae"] > 1.7 * width["mae"]) and (grouped_width["r2"] > 1.7 * width["r2"])
    assert grouped["value"].equals(rows["value"])


def test_grouped_breakdown_resamples_patients_within_each_group() -> None:
    true, pred, patient = doses(24, 2)
    sites = np.where(patient % 2 == 0, "a", "b")
    table = dosing_breakdown(true, pred, sites, by="site", n_bootstrap=100, patients=patient)
    site_a = table[(table["site"] == "a") & (table["metric"] == "mae")].iloc[0]
    expected = dosing_metrics(true[sites == "a"], pred[sites == "a"], n_bootstrap=100,
                              groups=patient[sites == "a"]).set_index("metric").loc["mae"]
    assert (site_a["ci_low"], site_a["ci_high"]) == (expected["ci_low"], expected["ci_high"])


def test_paired_difference_uses_the_same_resamples_for_both() -> None:
    true, pred, patient = doses(30, 2)
    other = pred * 1.05
    resamples = bootstrap_resamples(len(true), groups=patient, n_resamples=100, random_state=4)
    mae = METRICS["mae"]
    diff = paired_difference(resamples, lambda idx, p: mae(true[idx], p[idx]), pred, other)
    one_by_one = [mae(true[i], pred[i]) - mae(true[i], other[i]) for i in resamples]
    np.testing.assert_allclose(diff, one_by_one)
    same = paired_difference(resamples, lambda idx, p: mae(true[idx], p[idx]), pred, pred)
    assert np.all(same == 0) and paired_p_value(same) == 1.0


def test_select_paired_bootstrap_by_patient_is_less_sure() -> None:
    rng = np.random.default_rng(0)
    y0 = np.r_[np.zeros(12), np.ones(12)].astype(int)
    good0 = np.clip(0.35 + 0.3 * y0 + rng.normal(0, 0.2, 24), 0.01, 0.99)
    y, patient = np.repeat(y0, 4), np.repeat(np.arange(24), 4)
    good = np.repeat(np.c_[1 - good0, good0], 4, axis=0)
    flat = np.full_like(good, 0.5) + rng.normal(0, 0.01, good.shape)
    kwargs = {"task": "classification", "random_state": 0, "n_boot": 500}
    rows = paired_bootstrap(y, good, flat, **kwargs)
    grouped = paired_bootstrap(y, good, flat, groups=patient, **kwargs)
    assert grouped["mean"] == rows["mean"] and grouped["lower"] < rows["lower"]


def test_percentile_interval_ignores_undefined_resamples() -> None:
    assert percentile_interval(np.array([np.nan, 1.0, 1.0])) == (1.0, 1.0)
    assert np.isnan(percentile_interval(np.array([np.nan]))[0])


def test_refusals_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="n_resamples=0"):
        bootstrap_resamples(10, n_resamples=0)
    with pytest.raises(DataError, match="one patient id per case"):
        bootstrap_resamples(10, groups=[1, 2, 3])
