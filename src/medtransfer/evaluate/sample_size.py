"""Is the external validation set large enough? Precision at this n and prevalence
(Riley et al., "Evaluation of clinical prediction models (part 3): calculating the sample
size required for an external validation study", BMJ 2024;384:e074821).

- AUROC: standard error from Newcombe's formula (Riley et al. eq. for the C statistic);
- calibration slope: standard error from the Fisher information of the recalibration model
  under perfect calibration, over the distribution of the model's linear predictor (here
  the held-out cases' own predicted logits);
- O/E: standard error of ln(O/E), sqrt((1 - phi) / (n phi)).

Each gives the 95% interval's half-width at this n, and the n whose half-width meets a
target (O/E: half the interval's width at O/E = 1).
"""

from __future__ import annotations

import math

import numpy as np

from medtransfer.evaluate.calibration_study import logit

Z = 1.959964
TARGETS = {"auroc": 0.05, "calibration_slope": 0.1, "oe_ratio": 0.1}
MAX_N = 10_000_000


def auroc_se(auroc: float, n: float, prevalence: float) -> float:
    """Standard error of the AUROC at ``n`` cases with outcome share ``prevalence``."""
    c, half = auroc, n / 2 - 1
    var = c * (1 - c) * (1 + half * (1 - c) / (2 - c) + half * c / (1 + c)) / (
        n * n * prevalence * (1 - prevalence))
    return math.sqrt(max(var, 0.0))


def slope_se(p_positive: np.ndarray, n: float) -> float:
    """Standard error of the calibration slope at ``n`` cases whose linear predictor is
    distributed as the logits of ``p_positive``, assuming the model is calibrated."""
    lp = logit(p_positive)
    p = 1 / (1 + np.exp(-lp))
    w = p * (1 - p)
    info = np.array([[w.mean(), (w * lp).mean()], [(w * lp).mean(), (w * lp * lp).mean()]])
    det = np.linalg.det(info)
    return math.sqrt(info[0, 0] / det / n) if det > 0 else float("nan")


def oe_halfwidth(n: float, prevalence: float) -> float:
    """Half the width of the 95% interval of O/E at O/E = 1."""
    se = math.sqrt((1 - prevalence) / (n * prevalence))
    return (math.exp(Z * se) - math.exp(-Z * se)) / 2


def halfwidths(n: float, auroc: float, prevalence: float, p_positive: np.ndarray) -> dict:
    """95% interval half-width of each measure at ``n`` cases."""
    return {"auroc": Z * auroc_se(auroc, n, prevalence),
            "calibration_slope": Z * slope_se(p_positive, n),
            "oe_ratio": oe_halfwidth(n, prevalence)}


def n_needed(measure: str, target: float, auroc: float, prevalence: float,
             p_positive: np.ndarray) -> int | None:
    """Smallest n (bisection) whose half-width for ``measure`` is at most ``target``."""
    def width(n: float) -> float:
        return halfwidths(n, auroc, prevalence, p_positive)[measure]

    low, high = 4, MAX_N
    if not math.isfinite(width(high)) or width(high) > target:
        return None
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if width(mid) <= target else (mid, high)
    return high


def sample_size_adequacy(
    y_true, p_positive, auroc: float, targets: dict[str, float] | None = None
) -> dict:
    """Precision this held-out set achieves and the n each target half-width needs.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        Outcomes of the held-out cases.
    p_positive : array-like
        The model's predicted probabilities on them.
    auroc : float
        The model's AUROC there (the formula's anticipated value).
    targets : dict, optional
        Target 95% half-width per measure (default :data:`TARGETS`; AUROC ±0.05, slope
        ±0.1, O/E ±0.1).

    Returns
    -------
    dict
        ``n``, ``prevalence`` and per measure ``halfwidth``, ``target`` and ``n_needed``
        (None when no n reaches it).
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(p_positive, dtype=float)
    n, prevalence = len(y), float(np.mean(y == 1))
    result: dict = {"n": n, "prevalence": prevalence, "anticipated_auroc": float(auroc)}
    if n < 4 or not 0 < prevalence < 1 or not math.isfinite(auroc):
        return result
    achieved = halfwidths(n, auroc, prevalence, p)
    for measure, target in (targets or TARGETS).items():
        result[measure] = {"halfwidth": achieved[measure], "target": target,
                           "n_needed": n_needed(measure, target, auroc, prevalence, p)}
    return result
