"""Moment sums of one group of rows, and how groups combine without their rows.

A site publishes the sums of powers of its feature deviations about its own mean (orders 0
to 4, the fourth as the d x d matrix of sum x_j^2 x_k^2 that the Ledoit-Wolf shrinkage of
skada's CORAL needs). Sums about one point are moved to another exactly (binomial
expansion), so the sums of several sites are moved to their pooled mean and added: the
result equals the sums the pooled rows would give, to float round-off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from medtransfer.errors import DataError


@dataclass(frozen=True)
class Moments:
    """Sums of powers of ``x - point`` over ``n`` rows.

    Attributes
    ----------
    n : float
        Number of rows (a float: noise for differential privacy may be added to it).
    point : ndarray (d,)
        Where the deviations are measured from.
    m1 : ndarray (d,)
        sum (x - point).
    m2 : ndarray (d, d)
        sum (x - point)(x - point)^T.
    m3, m4 : ndarray (d, d) or None
        sum (x_j - p_j)^2 (x_k - p_k) and sum (x_j - p_j)^2 (x_k - p_k)^2; None when
        not released.
    """

    n: float
    point: np.ndarray
    m1: np.ndarray
    m2: np.ndarray
    m3: np.ndarray | None = None
    m4: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        """Mean of the rows."""
        return self.point + self.m1 / self.n

    @property
    def covariance(self) -> np.ndarray:
        """Covariance with divisor n (numpy's ``ddof=0``, as sklearn's scalers use)."""
        return self.about(self.mean).m2 / self.n

    @property
    def variance(self) -> np.ndarray:
        """Per-feature variance with divisor n."""
        return np.diag(self.covariance).copy()

    def about(self, point: np.ndarray) -> Moments:
        """The same sums measured from ``point`` instead of ``self.point``."""
        a = self.point - np.asarray(point, dtype=float)
        n, m1, m2 = self.n, self.m1, self.m2
        d2 = np.diag(m2)
        new_m1 = m1 + n * a
        new_m2 = m2 + np.outer(a, m1) + np.outer(m1, a) + n * np.outer(a, a)
        new_m3 = new_m4 = None
        if self.m3 is not None and self.m4 is not None:
            m3 = self.m3
            a2 = a**2
            new_m3 = (m3 + d2[:, None] * a[None, :] + 2 * a[:, None] * m2
                      + 2 * np.outer(a * m1, a) + np.outer(a2, m1) + n * np.outer(a2, a))
            new_m4 = (self.m4 + 2 * m3 * a[None, :] + np.outer(d2, a2) + 2 * a[:, None] * m3.T
                      + 4 * np.outer(a, a) * m2 + 2 * np.outer(a * m1, a2)
                      + np.outer(a2, d2) + 2 * np.outer(a2, a * m1) + n * np.outer(a2, a2))
        return Moments(n, np.asarray(point, dtype=float), new_m1, new_m2, new_m3, new_m4)

    def scaled(self, center: np.ndarray, scale: np.ndarray) -> Moments:
        """Moments of ``(x - center) / scale``."""
        m = self.about(center)
        s = np.asarray(scale, dtype=float)
        s2 = s**2
        return Moments(
            m.n, np.zeros_like(s), m.m1 / s, m.m2 / np.outer(s, s),
            None if m.m3 is None else m.m3 / np.outer(s2, s),
            None if m.m4 is None else m.m4 / np.outer(s2, s2),
        )

    def to_dict(self) -> dict:
        """Plain JSON-able lists."""
        out = {"n": float(self.n), "point": self.point.tolist(), "m1": self.m1.tolist(),
               "m2": self.m2.tolist()}
        if self.m3 is not None and self.m4 is not None:
            out.update(m3=self.m3.tolist(), m4=self.m4.tolist())
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "statistics") -> Moments:
        """Rebuild from :meth:`to_dict` output, checking the shapes agree."""
        try:
            point = np.asarray(data["point"], dtype=float)
            d = point.shape[0]
            arrays = {k: np.asarray(data[k], dtype=float) for k in ("m1", "m2")}
            higher = {k: np.asarray(data[k], dtype=float) if k in data else None
                      for k in ("m3", "m4")}
            n = float(data["n"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise DataError(f"{where}: moments are malformed ({err}); expected n, point, m1, "
                            "m2 as written by `medtransfer site-stats`") from None
        shapes_ok = arrays["m1"].shape == (d,) and arrays["m2"].shape == (d, d) and all(
            v is None or v.shape == (d, d) for v in higher.values())
        if not shapes_ok or n <= 0:
            raise DataError(f"{where}: moments have n={n} and inconsistent shapes; expected "
                            f"n > 0, m1 of {d} and d x d matrices; re-run `medtransfer site-stats`")
        return cls(n, point, arrays["m1"], arrays["m2"], higher["m3"], higher["m4"])


def moments_of(X: np.ndarray, higher: bool = True) -> Moments:
    """Sums of ``X``'s deviations about its own mean (m1 is zero)."""
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    U = X - mean
    m3 = m4 = None
    if higher:
        U2 = U**2
        m3, m4 = U2.T @ U, U2.T @ U2
    return Moments(float(len(X)), mean, np.zeros(X.shape[1]), U.T @ U, m3, m4)


def combine(parts: list[Moments]) -> Moments:
    """Moments of the union of the groups' rows, measured about their pooled mean."""
    if not parts:
        raise DataError("no site statistics to combine; pass at least one site's STATS.json")
    n = sum(p.n for p in parts)
    mean = sum(p.n * p.mean for p in parts) / n
    moved = [p.about(mean) for p in parts]
    has_higher = all(p.m3 is not None for p in moved)
    return Moments(
        n, mean, sum(p.m1 for p in moved), sum(p.m2 for p in moved),
        sum(p.m3 for p in moved) if has_higher else None,
        sum(p.m4 for p in moved) if has_higher else None,
    )


def with_noise(m: Moments, sigma: float, rng: np.random.Generator) -> Moments:
    """``m`` with independent Gaussian noise of standard deviation ``sigma`` on every sum
    (the sums taken about ``m.point``; symmetric matrices stay symmetric)."""

    def sym(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        noise = rng.normal(0.0, sigma, a.shape)
        return a + np.triu(noise) + np.triu(noise, 1).T

    m3 = None if m.m3 is None else m.m3 + rng.normal(0.0, sigma, m.m3.shape)
    return replace(
        m, n=max(m.n + rng.normal(0.0, sigma), 1.0), m1=m.m1 + rng.normal(0.0, sigma, m.m1.shape),
        m2=sym(m.m2), m3=m3, m4=sym(m.m4),
    )
