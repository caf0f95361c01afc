"""Federated external validation: each site sends the pieces of its AUROC interval.

A site evaluates the model on its own rows and releases its case counts, its AUROC and
DeLong's variance of it (from the structural components, which stay at the site). The
coordinator reports each site's AUROC with its DeLong 95% interval, identical to the
pooled computation on that site's rows, and an overall AUROC as the fixed-effect
(inverse-variance) mean of the sites' AUROCs. That overall figure is a meta-analytic
summary, not the AUROC of the pooled rows: ranking one site's cases against another's
would need their scores.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from medtransfer.errors import DataError
from medtransfer.evaluate.delong import delong_covariance


def site_auroc_pieces(y: np.ndarray, score: np.ndarray, min_cell: int = 10) -> dict:
    """What a site releases about the model's discrimination on its rows."""
    y = np.asarray(y).astype(int)
    n_pos, n_neg = int(y.sum()), int((y == 0).sum())
    if min(n_pos, n_neg) < min_cell:
        # a class under min_cell: its AUROC would disclose the small cell, so nothing is sent
        return {"suppressed": f"a class has fewer than {min_cell} cases"}
    if min(n_pos, n_neg) < 2:
        raise DataError(f"the site has {n_pos} positive and {n_neg} negative cases; an AUROC "
                        "needs at least two of each")
    auc, cov = delong_covariance(y, score)
    return {"n_positive": n_pos, "n_negative": n_neg, "auroc": float(auc[0]),
            "variance": float(cov[0, 0])}


def _interval(auc: float, variance: float, level: float) -> tuple[float, float]:
    half = norm.ppf(0.5 + level / 2) * np.sqrt(max(variance, 0.0))
    return float(max(0.0, auc - half)), float(min(1.0, auc + half))


def combine_auroc(pieces: dict[str, dict], level: float = 0.95) -> dict:
    """Per-site AUROC with DeLong intervals and the inverse-variance overall AUROC (sites
    that withheld their AUROC are listed as suppressed and left out of the overall)."""
    sites = {name: p if "suppressed" in p else
             {**p, "interval": _interval(p["auroc"], p["variance"], level)}
             for name, p in pieces.items()}
    pieces = {n: p for n, p in pieces.items() if "suppressed" not in p}
    if not pieces:
        return {"sites": sites, "overall": None}
    weights = {n: 1.0 / max(p["variance"], 1e-12) for n, p in pieces.items()}
    total = sum(weights.values())
    overall = sum(weights[n] * pieces[n]["auroc"] for n in pieces) / total
    return {"sites": sites,
            "overall": {"auroc": float(overall), "interval": _interval(overall, 1.0 / total, level),
                        "method": "fixed-effect inverse-variance mean of site AUROCs"}}
