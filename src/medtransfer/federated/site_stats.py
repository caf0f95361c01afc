"""What one site computes and releases: aggregate statistics of its encoded rows.

A site's statistics are counts, moment sums (see :mod:`medtransfer.federated.moments`) of
all rows and of each class, and per-column missingness of the raw table, after small-cell
suppression and, optionally, Gaussian noise for (epsilon, delta)-differential privacy. No
row, identifier or per-row value is part of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from medtransfer.errors import DataError
from medtransfer.federated import privacy
from medtransfer.federated.moments import Moments, moments_of, with_noise

FORMAT = "medtransfer.site_stats"
VERSION = 1


@dataclass(frozen=True)
class SiteStatistics:
    """The released statistics of one site.

    Attributes
    ----------
    site : str
    features : list of str
        Encoded features the moments are over (after suppressing small binary cells).
    classes : list of str
    moments : Moments or None
        All rows (None when the site has fewer than ``min_cell`` rows).
    class_moments : dict
        Class name -> Moments (orders 0-2) or None when suppressed.
    missing : dict
        Raw column -> number of missing values, or None when a small cell.
    privacy : dict
        ``min_cell``, ``suppressed_features`` and the DP parameters (or None).
    encoder : str
        Fingerprint of the shared encoder the rows were encoded with.
    """

    site: str
    features: list[str]
    classes: list[str]
    moments: Moments | None
    class_moments: dict[str, Moments | None]
    missing: dict[str, int | None]
    privacy: dict[str, Any] = field(default_factory=dict)
    encoder: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able plain data (what leaves the site)."""
        def dump(m: Moments | None) -> dict | None:
            return None if m is None else m.to_dict()

        return {
            "format": FORMAT, "version": VERSION, "site": self.site,
            "features": self.features, "classes": self.classes,
            "moments": dump(self.moments),
            "class_moments": {c: dump(m) for c, m in self.class_moments.items()},
            "missing": self.missing, "privacy": self.privacy, "encoder": self.encoder,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "statistics") -> SiteStatistics:
        """Rebuild from :meth:`to_dict` output (e.g. a STATS.json read from a site)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"{where} is not a site-statistics file (format {FORMAT!r}); "
                            "write it with `medtransfer site-stats`")
        def load(m: Any) -> Moments | None:
            return None if m is None else Moments.from_dict(m, where)

        return cls(
            site=str(data.get("site")), features=list(data["features"]),
            classes=list(data["classes"]), moments=load(data.get("moments")),
            class_moments={c: load(m) for c, m in data.get("class_moments", {}).items()},
            missing=dict(data.get("missing", {})), privacy=dict(data.get("privacy", {})),
            encoder=str(data.get("encoder", "")),
        )


def compute_site_statistics(
    X: np.ndarray,
    y: np.ndarray | None,
    features: list[str],
    classes: list[str] | None,
    *,
    site: str,
    raw: pd.DataFrame | None = None,
    encoder: str = "",
    min_cell: int = 10,
    epsilon: float | None = None,
    delta: float = 1e-5,
    clip_norm: float | None = None,
    random_state: int | None = None,
) -> SiteStatistics:
    """Aggregate statistics of one site's encoded rows.

    Parameters
    ----------
    X : ndarray (n, d)
        Encoded features (the same encoder at every site).
    y : ndarray (n,) or None
        Class codes into ``classes``; -1 or None for unlabelled rows.
    features, classes : list of str
        Names of the columns of ``X`` and of the classes.
    site : str
        The site's name.
    raw : DataFrame, optional
        The raw table, for per-column missingness counts.
    encoder : str
        Fingerprint of the shared encoder (``schema.encoder_digest``).
    min_cell : int, default=10
        Smallest count ever released (small-cell suppression).
    epsilon, delta : float
        Gaussian-mechanism privacy parameters; ``epsilon=None`` adds no noise.
    clip_norm : float, optional
        L2 bound every row is clipped to (required with ``epsilon``).
    random_state : int, optional
        Seed of the noise.

    Returns
    -------
    SiteStatistics
    """
    privacy.check_dp(epsilon, delta, clip_norm)
    X = np.asarray(X, dtype=float)
    classes = list(classes or [])
    y = np.full(len(X), -1) if y is None else np.asarray(y)
    keep = _releasable_columns(X, y, len(classes), min_cell)
    X = X[:, keep]
    if epsilon is not None:
        X = privacy.clip_rows(X, clip_norm)
    n_raw = 0 if raw is None else raw.shape[1]
    noise = _Noise(epsilon, delta, clip_norm, bool(classes), n_raw, random_state)
    moments = noise.apply(_moments_or_none(X, min_cell, higher=True))
    counts = privacy.suppressed_group([int((y == c).sum()) for c in range(len(classes))],
                                      min_cell)
    per_class = {
        name: noise.apply(None if counts[c] is None
                          else _moments_or_none(X[y == c], min_cell, higher=False))
        for c, name in enumerate(classes)
    }
    missing = {} if raw is None else {
        str(col): noise.count(privacy.suppressed_count(int(raw[col].isna().sum()), min_cell))
        for col in raw
    }
    return SiteStatistics(
        site=site, features=[f for f, k in zip(features, keep, strict=True) if k],
        classes=classes, moments=moments, class_moments=per_class, missing=missing,
        privacy={"min_cell": min_cell,
                 "suppressed_features": [f for f, k in zip(features, keep, strict=True) if not k],
                 "dp": noise.describe()},
        encoder=encoder,
    )


def _releasable_columns(X: np.ndarray, y: np.ndarray, n_classes: int, min_cell: int):
    bad = privacy.small_binary_columns(X, min_cell)
    for c in range(n_classes):
        rows = X[y == c]
        if len(rows) >= min_cell:
            bad |= privacy.small_binary_columns(rows, min_cell)
    return ~bad


def _moments_or_none(X: np.ndarray, min_cell: int, higher: bool) -> Moments | None:
    return None if len(X) < min_cell else moments_of(X, higher=higher)


class _Noise:
    """Gaussian noise on every released sum and count. The all-rows moments, the per-class
    moments (each row is in one class) and the missingness counts (one row can be missing
    in every column) are released together, so their L2 sensitivities add in quadrature."""

    def __init__(self, epsilon, delta, clip_norm, by_class, n_raw, random_state) -> None:
        self.epsilon, self.delta, self.clip_norm = epsilon, delta, clip_norm
        self.rng = np.random.default_rng(random_state)
        self.sigma = 0.0
        if epsilon is not None:
            parts = [privacy.moment_sensitivity(clip_norm, higher=True),
                     privacy.moment_sensitivity(clip_norm, higher=False) if by_class else 0.0,
                     math.sqrt(n_raw)]
            self.sigma = privacy.gaussian_sigma(math.hypot(*parts), epsilon, delta)

    def apply(self, m: Moments | None) -> Moments | None:
        if m is None or self.epsilon is None:
            return m
        # noise goes on the sums about 0, whose sensitivity the clipping bounds
        return with_noise(m.about(np.zeros_like(m.point)), self.sigma, self.rng)

    def count(self, value: int | None) -> float | int | None:
        if value is None or self.epsilon is None:
            return value
        return max(0.0, value + float(self.rng.normal(0.0, self.sigma)))

    def describe(self) -> dict | None:
        if self.epsilon is None:
            return None
        return {"mechanism": "gaussian", "epsilon": self.epsilon, "delta": self.delta,
                "clip_norm": self.clip_norm, "sigma": self.sigma,
                "neighbouring": "add or remove one row"}
