"""Warnings of poor overlap: one treatment arm rare among the target rows, or propensities
trimmed to [5%, 95%].

The propensity here is simply the share of treated rows among the target rows whose
treatment is recorded. Under 5% or over 95%, one arm's outcomes at the target rest on a
handful of rows, so its model there is mostly the source's, carried over: the effects can
still be computed but extrapolate, and the user should know how many rows they stand on.
"""

from __future__ import annotations

import warnings

import numpy as np

from medtransfer.evaluate.policy_value import MIN_PROPENSITY

MIN_SHARE = 0.05


class OverlapWarning(UserWarning):
    """One arm holds under 5% of the target rows whose treatment is recorded."""


def warn_poor_overlap(arm_target: np.ndarray, treatment: str, target_name: str) -> None:
    """Warn when the treated share of the recorded target rows is outside [5%, 95%].

    ``arm_target`` holds 1.0 (treated), 0.0 (control) or NaN (not recorded) per row.
    """
    recorded = arm_target[~np.isnan(arm_target)]
    if not len(recorded):
        return
    n, treated = len(recorded), int((recorded == 1).sum())
    share = treated / n
    if MIN_SHARE <= share <= 1 - MIN_SHARE:
        return
    rare, count = ("treated", treated) if share < MIN_SHARE else ("control", n - treated)
    warnings.warn(
        f"poor overlap in target {target_name!r}: only {count} of {n} rows with "
        f"{treatment!r} recorded are {rare} ({count / n:.1%}, under {MIN_SHARE:.0%}); the "
        f"{rare} arm's outcomes there come mostly from the source, so the effects extrapolate: "
        f"read their intervals with care, or add target rows of the {rare} arm",
        OverlapWarning, stacklevel=3,
    )


def warn_trimmed(n_trimmed: int, n: int, where: str, treatment: str, purpose: str) -> None:
    """Warn that ``n_trimmed`` of ``n`` propensities of ``treatment`` in ``where`` were
    outside [5%, 95%] and trimmed to the bound for ``purpose``."""
    if not n_trimmed:
        return
    warnings.warn(
        f"poor overlap in {where}: {n_trimmed} of {n} rows have a propensity of "
        f"{treatment!r} outside [{MIN_PROPENSITY:.0%}, {1 - MIN_PROPENSITY:.0%}]; they were "
        f"trimmed to the bound for {purpose}, which then lean on the arms' models there",
        OverlapWarning, stacklevel=3,
    )
