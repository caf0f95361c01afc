"""Disclosure control for what a site releases: small-cell suppression and Gaussian noise.

Suppression: a count under ``min_cell`` (but above zero) is never released, nor is a
statistic computed over fewer than ``min_cell`` rows, nor a 0/1 feature whose ones or zeros
at the site (or within a class) number fewer than ``min_cell`` (its mean would reveal the
small count). Joint cells implied by cross-products of two features are not suppressed; the
Gaussian mechanism is the protection for those.

Differential privacy: the classical Gaussian mechanism (Dwork & Roth 2014, Theorem A.1):
noise of standard deviation ``sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon`` on every
released sum gives (epsilon, delta)-DP with respect to adding or removing one row, for
0 < epsilon <= 1. Sensitivity is bounded by clipping every row to L2 norm ``clip_norm``
(in the units of the encoded features; scale the features first so that this is small).
"""

from __future__ import annotations

import math

import numpy as np

from medtransfer.params import Interval, ParameterError, check_value


def small(count: float, min_cell: int) -> bool:
    """Whether a count is a small cell (above zero, under ``min_cell``)."""
    return 0 < count < min_cell


def suppressed_count(count: int, min_cell: int) -> int | None:
    """The count, or None when it is a small cell."""
    return None if small(count, min_cell) else int(count)


def suppressed_group(counts: list[int], min_cell: int) -> list[int | None]:
    """Counts of a group that sums to a released total, with secondary suppression: when
    exactly one cell is small, the smallest other non-zero cell is withheld too, so that the
    small one cannot be recovered as the total minus the rest."""
    out: list[int | None] = [suppressed_count(c, min_cell) for c in counts]
    if sum(v is None for v in out) == 1:
        others = [i for i, v in enumerate(out) if v]
        if others:
            out[min(others, key=lambda i: counts[i])] = None
    return out


def small_binary_columns(X: np.ndarray, min_cell: int) -> np.ndarray:
    """Mask of 0/1 columns whose ones or zeros are a small cell."""
    binary = np.all((X == 0) | (X == 1), axis=0)
    ones = X.sum(axis=0)
    zeros = len(X) - ones
    return binary & ((ones > 0) & (ones < min_cell) | (zeros > 0) & (zeros < min_cell))


EPSILON = Interval(float, 0, 1, closed="right",
                   hint="the classical Gaussian mechanism holds only there; e.g. 1")
DELTA = Interval(float, 0, 1, closed="neither", hint="e.g. 1e-5")
CLIP_NORM = Interval(float, 0, None, closed="neither",
                     hint="every row is clipped to this L2 norm, which bounds the sensitivity; "
                     "e.g. 5 on scaled features")


def check_dp(epsilon: float | None, delta: float, clip_norm: float | None,
             owner: str = "compute_site_statistics") -> None:
    """Refuse a DP configuration the Gaussian mechanism here cannot honour."""
    if epsilon is None:
        return
    check_value(owner, "epsilon", epsilon, EPSILON)
    check_value(owner, "delta", delta, DELTA)
    if clip_norm is None:
        raise ParameterError(owner, "epsilon", epsilon, lambda style: (
            f"needs {style.name('clip_norm')} B > 0 (every row is clipped to L2 norm B, which "
            f"bounds the sensitivity); e.g. {style.setting('clip_norm', 5)} on scaled features"))
    check_value(owner, "clip_norm", clip_norm, CLIP_NORM)


def gaussian_sigma(sensitivity: float, epsilon: float, delta: float) -> float:
    """Noise standard deviation of the classical Gaussian mechanism."""
    return sensitivity * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


def moment_sensitivity(clip_norm: float, higher: bool) -> float:
    """L2 sensitivity of (n, sum x, sum xx^T[, sum x^2 x^T, sum x^2 x^2^T]) for one row of
    norm <= B: 1, B, B^2 (Frobenius of xx^T), B^3, B^4."""
    orders = range(5 if higher else 3)
    return math.sqrt(sum(clip_norm ** (2 * k) for k in orders))


def clip_rows(X: np.ndarray, clip_norm: float) -> np.ndarray:
    """Rows scaled down to L2 norm at most ``clip_norm``."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X * np.minimum(1.0, clip_norm / np.maximum(norms, 1e-300))
