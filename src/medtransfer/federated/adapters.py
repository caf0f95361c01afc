"""Fitted adapters built from site statistics instead of rows.

Each function returns the library's own adapter class (``AlignedEstimator`` with skada's
``CORALAdapter``, ``SiteStandardized``, ``ComBatHarmonized``) with its learned state set from
combined moments, so prediction and mapping run through the very code a pooled fit uses.
With noise-free statistics the state equals the pooled fit's to float round-off.

Domain codes follow the pooled fit: the i-th source site is code ``i + 1``, the target
site ``-1``. The final predictor (``estimator_``) is attached later with :func:`with_head`
(e.g. the head trained by federated averaging).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt.alignment import AlignedEstimator
from medtransfer.adapt.harmonize import (
    TARGET_KEY,
    ComBatHarmonized,
    SiteStandardized,
    shrink_site_effect,
)
from medtransfer.adapt.skada_adapters import CORALAdapter
from medtransfer.errors import DataError
from medtransfer.federated.moments import Moments, combine
from medtransfer.federated.site_stats import SiteStatistics

_TINY = 10 * np.finfo(float).eps


def _nonzero(scale: np.ndarray) -> np.ndarray:
    # as sklearn's scalers do: a constant column keeps its values (divided by 1)
    return np.where(scale < _TINY, 1.0, scale)


def moments_over(stats: SiteStatistics, features: list[str]) -> Moments:
    """A site's moments restricted to ``features``."""
    if stats.moments is None:
        raise DataError(f"site {stats.site!r} released no moments (fewer rows than its "
                        f"min_cell {stats.privacy.get('min_cell')}); leave that site out")
    index = [stats.features.index(f) for f in features]
    m = stats.moments
    pick = np.ix_(index, index)
    return Moments(m.n, m.point[index], m.m1[index], m.m2[pick],
                   None if m.m3 is None else m.m3[pick], None if m.m4 is None else m.m4[pick])


def shared_features(sites: list[SiteStatistics]) -> list[str]:
    """Features every site released, in the first site's order."""
    encoders = {s.encoder for s in sites}
    if len(encoders) > 1:
        raise DataError(f"the sites encoded their rows with different encoders {sorted(encoders)}"
                        "; give every site the same --encoder ENC.json")
    common = set.intersection(*(set(s.features) for s in sites))
    return [f for f in sites[0].features if f in common]


def ledoit_wolf_covariance(m: Moments) -> np.ndarray:
    """skada's ``_estimate_covariance(X, shrinkage="auto")`` from moments: Ledoit-Wolf
    shrinkage of the standardised rows' covariance, scaled back (needs ``m4``)."""
    if m.m4 is None:
        raise DataError("CORAL's Ledoit-Wolf shrinkage needs the fourth-order moments, which "
                        "this site did not release; re-run `medtransfer site-stats`")
    n, p = m.n, len(m.point)
    scale = _nonzero(np.sqrt(m.variance))
    z = m.about(m.mean).scaled(m.mean, scale)
    emp = z.m2 / n
    trace = np.diag(emp)
    mu = trace.sum() / p
    shrinkage = 0.0
    if p > 1:
        delta_ = (z.m2**2).sum() / n**2
        beta = (z.m4.sum() / n - delta_) / (p * n)
        delta = (delta_ - 2.0 * mu * trace.sum() + p * mu**2) / p
        beta = min(beta, delta)
        shrinkage = 0.0 if beta == 0 else beta / delta
    shrunk = (1.0 - shrinkage) * emp + shrinkage * mu * np.eye(p)
    return scale[:, None] * shrunk * scale[None, :]


def _spd_power(C: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(C)
    return (vectors * values**power) @ vectors.T


def coral_from_statistics(
    sources: list[SiteStatistics], target: SiteStatistics, estimator: BaseEstimator
) -> AlignedEstimator:
    """CORAL (``medtransfer fit --method coral``) fitted from the sites' moments."""
    features = shared_features([*sources, target])
    source = combine([moments_over(s, features) for s in sources])
    tgt = moments_over(target, features)
    everything = combine([source, tgt])
    scaler = StandardScaler()
    scaler.mean_, scaler.var_ = everything.mean, everything.variance
    scaler.scale_ = _nonzero(np.sqrt(scaler.var_))
    scaler.n_samples_seen_, scaler.n_features_in_ = round(everything.n), len(features)
    zs = source.scaled(scaler.mean_, scaler.scale_)
    zt = tgt.scaled(scaler.mean_, scaler.scale_)
    adapter = CORALAdapter(reg="auto")
    adapter.mean_source_, adapter.mean_target_ = zs.mean, zt.mean
    adapter.cov_source_inv_sqrt_ = _spd_power(ledoit_wolf_covariance(zs), -0.5)
    adapter.cov_target_sqrt_ = _spd_power(ledoit_wolf_covariance(zt), 0.5)
    model = AlignedEstimator(estimator, CORALAdapter(reg="auto")).set_unprotected(len(features))
    model.scaler_, model.adapter_ = scaler, adapter
    model.features_ = features
    return model


def _site_groups(sources, target) -> tuple[list[str], dict[object, Moments]]:
    features = shared_features([*sources, target])
    groups: dict[object, Moments] = {
        i + 1: moments_over(s, features) for i, s in enumerate(sources)
    }
    groups[TARGET_KEY] = moments_over(target, features)
    return features, groups


def site_standardized_from_statistics(
    sources: list[SiteStatistics], target: SiteStatistics, estimator: BaseEstimator
) -> SiteStandardized:
    """Per-site standardisation (``--method site_standardize``) from the sites' moments."""
    features, groups = _site_groups(sources, target)
    model = SiteStandardized(estimator).set_unprotected(len(features))
    model.location_ = {k: m.mean for k, m in groups.items()}
    # SiteStandardized keeps a column whose spread is under 1e-12 as it is
    model.scale_ = {k: np.where(np.sqrt(m.variance) > 1e-12, np.sqrt(m.variance), 1.0)
                    for k, m in groups.items()}
    model.features_ = features
    return model


def combat_from_statistics(
    sources: list[SiteStatistics], target: SiteStatistics, estimator: BaseEstimator,
    n_iter: int = 30,
) -> ComBatHarmonized:
    """ComBat (``--method combat``) from the sites' moments."""
    features, groups = _site_groups(sources, target)
    everything = combine(list(groups.values()))
    model = ComBatHarmonized(estimator, n_iter=n_iter).set_unprotected(len(features))
    model.grand_mean_ = everything.mean
    model.pooled_std_ = np.where(np.sqrt(everything.variance) > 1e-12,
                                 np.sqrt(everything.variance), 1.0)
    model.gamma_, model.delta2_ = {}, {}
    for key, m in groups.items():
        z = m.scaled(model.grand_mean_, model.pooled_std_)
        spread = np.diag(z.about(z.mean).m2)
        model.gamma_[key], model.delta2_[key] = shrink_site_effect(z.n, z.mean, spread, n_iter)
    model.features_ = features
    return model


def with_head(model, coef: np.ndarray, intercept: np.ndarray, classes) -> BaseEstimator:
    """``model`` with a logistic final predictor of the given weights attached (fitted)."""
    head = LogisticRegression()
    head.coef_ = np.atleast_2d(np.asarray(coef, dtype=float))
    head.intercept_ = np.atleast_1d(np.asarray(intercept, dtype=float))
    head.classes_ = np.asarray(classes)
    head.n_features_in_ = head.coef_.shape[1]
    model.estimator_, model.classes_ = head, head.classes_
    model.n_features_in_, model.y_range_ = len(model.features_), None
    return model
