"""Site harmonisation for tables: per-domain standardisation and ComBat.

Both remove a per-site location/scale effect from every feature that is not protected
(``protect``: see :mod:`medtransfer.adapt.protect`) before the final predictor is fitted.
ComBat keeps the protected columns' effect on the others as biological covariates. At
prediction, rows are taken as target rows and adjusted with the target's parameters (all
target domains pooled).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import DomainRows
from medtransfer.adapt.protect import ColumnProtecting
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


class SiteStandardized(ColumnProtecting):
    """Standardise each feature within each domain (zero mean, unit variance per site).

    Cost: O(n * d).

    Parameters
    ----------
    estimator : estimator
        Final predictor.
    protect : sequence of int, default=()
        Positions of columns left as they are (biological covariates, not measurements).

    Attributes
    ----------
    location_, scale_ : dict
        Per-domain mean and standard deviation (keys: source codes and ``"target"``).
    """

    uses_target_labels = False  # per-domain moments of X: no label is read (nor by ComBat)

    def __init__(self, estimator: BaseEstimator, protect: Sequence[int] = ()) -> None:
        super().__init__(estimator)
        self.protect = protect

    def _adapt_free(self, X, y, rows, covariates):
        out = np.empty_like(X)
        self.location_, self.scale_ = {}, {}
        for key, mask in _domain_groups(rows).items():
            self.location_[key] = X[mask].mean(axis=0)
            self.scale_[key] = _safe_std(X[mask])
            out[mask] = (X[mask] - self.location_[key]) / self.scale_[key]
        return out, None

    def _map_free(self, X, code, covariates):
        key = _site_key(code, self.location_)
        return (X - self.location_[key]) / self.scale_[key]


class ComBatHarmonized(SiteStandardized):
    """ComBat location/scale harmonisation with empirical-Bayes shrinkage (Johnson et al. 2007).

    Features are standardised with the pooled mean and variance; each site's per-feature
    shift gamma and scale delta^2 are shrunk toward priors fitted across features (normal
    for gamma, inverse gamma for delta^2), then removed, and the result is mapped back to the
    pooled scale. The protected columns are the biological covariates of Johnson et al.'s
    design matrix: their effect on each feature is estimated jointly with the site effects
    (least squares on site indicators + covariates, over all rows), taken out before the
    site effects are estimated and removed, and put back after, so only the site effect goes.
    The outcome is never a covariate (target labels are mostly unknown). Cost: O(n * d * p).

    Parameters
    ----------
    estimator : estimator
        Final predictor.
    n_iter : int, default=30
        Iterations of the empirical-Bayes fixed point.
    protect : sequence of int, default=()
        Positions of the covariate columns: left as they are, and their effect kept.

    Attributes
    ----------
    gamma_, delta2_ : dict
        Shrunk per-domain shift and scale (keys: source codes and ``"target"``).
    covariate_mean_, beta_ : ndarray
        Mean of the covariates and their effect on each free feature (``(p, d_free)``).
    """

    def __init__(self, estimator: BaseEstimator, n_iter: int = 30,
                 protect: Sequence[int] = ()) -> None:
        super().__init__(estimator, protect)
        self.n_iter = n_iter

    def _adapt_free(self, X, y, rows, covariates):
        groups = _domain_groups(rows)
        self.covariate_mean_ = covariates.mean(axis=0)
        self.beta_ = _covariate_effects(X, covariates - self.covariate_mean_, groups)
        X = X - self._effect(covariates)
        self.grand_mean_ = X.mean(axis=0)
        self.pooled_std_ = _safe_std(X)
        Z = (X - self.grand_mean_) / self.pooled_std_
        out = np.empty_like(X)
        self.gamma_, self.delta2_ = {}, {}
        for key, mask in groups.items():
            self.gamma_[key], self.delta2_[key] = _shrink(Z[mask], self.n_iter)
            out[mask] = self._adjust(Z[mask], key)
        return out + self._effect(covariates), None

    def set_unprotected(self, n_features: int) -> ComBatHarmonized:
        """As :meth:`ColumnProtecting.set_unprotected`, with no covariate effect either."""
        self.covariate_mean_, self.beta_ = np.zeros(0), np.zeros((0, n_features))
        return super().set_unprotected(n_features)

    def _effect(self, covariates: np.ndarray) -> np.ndarray:
        """The covariates' part of each free feature (zero at the covariates' mean)."""
        return (covariates - self.covariate_mean_) @ self.beta_

    def _adjust(self, Z: np.ndarray, key: object) -> np.ndarray:
        adjusted = (Z - self.gamma_[key]) / np.sqrt(self.delta2_[key])
        return adjusted * self.pooled_std_ + self.grand_mean_

    def _map_free(self, X, code, covariates):
        key = _site_key(code, self.gamma_)
        effect = self._effect(covariates)
        return self._adjust((X - effect - self.grand_mean_) / self.pooled_std_, key) + effect


def _covariate_effects(X: np.ndarray, centred: np.ndarray,
                       groups: dict[object, np.ndarray]) -> np.ndarray:
    """Least-squares effect of the centred covariates on each column of ``X``, fitted beside
    one intercept per site so that a site's shift is not taken for a covariate effect.
    (Minimum-norm solution: one-hot covariate columns that sum to a constant are collinear.)"""
    if not centred.shape[1]:
        return np.zeros((0, X.shape[1]))
    sites = np.column_stack([mask.astype(float) for mask in groups.values()])
    design = np.hstack([sites, centred])
    coef = np.linalg.lstsq(design, X, rcond=None)[0]
    return coef[sites.shape[1]:]


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
