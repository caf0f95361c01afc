"""The vectorised resampling draws exactly the resamples of the former per-resample loop."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.evaluate.bootstrap import bootstrap_indices
from medtransfer.evaluate.resampling import group_strata


def _loop(y, groups, n_resamples, seed):
    """The former implementation: one rng.choice per stratum per resample."""
    rng = np.random.default_rng(seed)
    units, strata, rows = (None, y, None) if groups is None else group_strata(y, groups)
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for _ in range(n_resamples):
        picked = np.concatenate([rng.choice(m, size=m.size, replace=True) for m in members])
        yield picked if units is None else np.concatenate([rows[i] for i in picked])


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("case", ["balanced", "one_of_a_class", "three_classes", "patients"])
def test_same_resamples_as_the_loop(case, seed):
    rng = np.random.default_rng(42)
    groups = None
    if case == "balanced":
        y = np.r_[np.zeros(30), np.ones(30)].astype(int)
    elif case == "one_of_a_class":
        y = np.r_[np.zeros(40), np.ones(1)].astype(int)
    elif case == "three_classes":
        y = rng.integers(0, 3, 57)
    else:
        y = rng.integers(0, 2, 80)
        groups = rng.integers(0, 25, 80).astype(str)
    new = list(bootstrap_indices(y, groups=groups, n_resamples=200, random_state=seed))
    old = list(_loop(y, groups, 200, seed))
    assert len(new) == len(old) == 200
    for a, b in zip(new, old, strict=True):
        np.testing.assert_array_equal(a, b)
