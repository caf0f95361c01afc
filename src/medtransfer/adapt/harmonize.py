"""Site harmonisation for tables: per-domain standardisation and ComBat.

Both remove a per-site location/scale effect from every feature before the final predictor
is fitted. At prediction, rows are taken as target rows and adjusted with the target's
parameters (all target domains pooled).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import AdaptedEstimator, DomainRows
from medtransfer.errors import DataError

TARGET_KEY = "target"


def _domain_groups(rows: DomainRows) -> dict[object, np.ndarray]:
    """Source domains one by one (by code); all target rows as one group."""
    codes = rows.codes
    groups: dict[object, np.ndarray] = {c: codes == c for c in np.unique(codes[rows.source])}
    groups[TARGET_KEY] = rows.target
    return groups


def _site_key(code: int, fitted: dict) -> object:
    """Key of a domain code's parameters: its own for a source site, the pooled target's."""
    key = TARGET_KEY if code < 0 else code
    if key not in fitted:
        sites = sorted(k for k in fitted if k != TARGET_KEY)
        raise DataError(
            f"source domain code {code} was not seen at fit (source codes: {sites}); "
            "harmonisation parameters exist only for the fitted sites"
        )
    return key


def _safe_std(values: np.ndarray) -> np.ndarray:
    std = values.std(axis=0)
    # A constant column carries no scale to remove; dividing by 1 keeps it constant.
    return np.where(std > 1e-12, std, 1.0)


class SiteStandardized(AdaptedEstimator):
    """Standardise each feature within each domain (zero mean, unit variance per site).

    Cost: O(n * d).

    Attributes
    ----------
    location_, scale_ : dict
        Per-domain mean and standard deviation (keys: source codes and ``"target"``).
    """

    uses_target_labels = False  # per-domain moments of X: no label is read (nor by ComBat)

    def _adapt(self, X, y, rows):
        out = np.empty_like(X)
        self.location_, self.scale_ = {}, {}
        for key, mask in _domain_groups(rows).items():
            self.location_[key] = X[mask].mean(axis=0)
            self.scale_[key] = _safe_std(X[mask])
            out[mask] = (X[mask] - self.location_[key]) / self.scale_[key]
        return out, None

    def _map_target(self, X):
        return self._map_domain(X, -1)

    def _map_domain(self, X, code):
        key = _site_key(code, self.location_)
        return (X - self.location_[key]) / self.scale_[key]


class ComBatHarmonized(SiteStandardized):
    """ComBat location/scale harmonisation with empirical-Bayes shrinkage (Johnson et al. 2007).

    Features are standardised with the pooled mean and variance; each site's per-feature
    shift gamma and scale delta^2 are shrunk toward priors fitted across features (normal
    for gamma, inverse gamma for delta^2), then removed, and the result is mapped back to the
    pooled scale. No biological covariates are used (target labels are mostly unknown).
    Cost: O(n * d).

    Parameters
    ----------
    estimator : estimator
        Final predictor.
    n_iter : int, default=30
        Iterations of the empirical-Bayes fixed point.

    Attributes
    ----------
    gamma_, delta2_ : dict
        Shrunk per-domain shift and scale (keys: source codes and ``"target"``).
    """

    def __init__(self, estimator: BaseEstimator, n_iter: int = 30) -> None:
        super().__init__(estimator)
        self.n_iter = n_iter

    def _adapt(self, X, y, rows):
        self.grand_mean_ = X.mean(axis=0)
        self.pooled_std_ = _safe_std(X)
        Z = (X - self.grand_mean_) / self.pooled_std_
        out = np.empty_like(X)
        self.gamma_, self.delta2_ = {}, {}
        for key, mask in _domain_groups(rows).items():
            self.gamma_[key], self.delta2_[key] = _shrink(Z[mask], self.n_iter)
            out[mask] = self._adjust(Z[mask], key)
        return out, None

    def _adjust(self, Z: np.ndarray, key: object) -> np.ndarray:
        adjusted = (Z - self.gamma_[key]) / np.sqrt(self.delta2_[key])
        return adjusted * self.pooled_std_ + self.grand_mean_

    def _map_domain(self, X, code):
        key = _site_key(code, self.gamma_)
        return self._adjust((X - self.grand_mean_) / self.pooled_std_, key)


def _shrink(Z: np.ndarray, n_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Empirical-Bayes shift and scale of one site (parametric ComBat priors)."""
    mean = Z.mean(axis=0)
    return shrink_site_effect(len(Z), mean, ((Z - mean) ** 2).sum(axis=0), n_iter)


def shrink_site_effect(
    n: float, mean: np.ndarray, sum_squares: np.ndarray, n_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """ComBat's shrunk shift and scale from a site's row count, per-feature mean and sum of
    squared deviations about that mean (so aggregates suffice: federated ComBat)."""
    gamma_hat = mean
    delta_hat = np.maximum(sum_squares / (n - 1) if n > 1 else np.ones(len(mean)), 1e-6)
    gamma_bar, tau2 = gamma_hat.mean(), max(gamma_hat.var(ddof=1), 1e-6)
    mean_d, var_d = delta_hat.mean(), max(delta_hat.var(ddof=1), 1e-6)
    a = (2 * var_d + mean_d**2) / var_d
    b = (mean_d * var_d + mean_d**3) / var_d
    gamma, delta2 = gamma_hat, delta_hat
    for _ in range(n_iter):
        gamma = (n * tau2 * gamma_hat + delta2 * gamma_bar) / (n * tau2 + delta2)
        residual = sum_squares + n * (mean - gamma) ** 2
        delta2 = (b + residual / 2) / (n / 2 + a - 1)
    return gamma, np.maximum(delta2, 1e-6)


@register_method("site_standardize", "standardise every feature within each site")
def _site_standardize(estimator: BaseEstimator, random_state: int | None = None):
    return SiteStandardized(estimator)


@register_method(
    "combat", "ComBat: per-site location/scale removal with empirical-Bayes shrinkage"
)
def _combat(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return ComBatHarmonized(estimator)
