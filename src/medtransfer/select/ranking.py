"""Rank candidate sources or backbones by a transferability score, and check the ranking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from medtransfer.artifacts import atomic_file
from medtransfer.errors import ConfigError, DataError
from medtransfer.select.transferability import get_score


def rank_candidates(candidates: Mapping[str, Sequence], score: str = "logme") -> list[dict]:
    """Score every candidate on the labelled target samples and rank them, best first.

    Parameters
    ----------
    candidates : mapping of str to (features, labels)
        Per candidate (a source domain, a backbone), what it produces on the labelled
        target samples — features for "logme"/"hscore"/"hscore_shrinkage", source-class
        probabilities for "leep", pseudo-labels or probabilities for "nce" — and the target
        labels.
    score : str, default "logme"
        A registered transferability score (see ``TRANSFERABILITY``).

    Returns
    -------
    list of dict
        ``rank`` (1 = best), ``name``, ``score`` (higher = expected to transfer better),
        ``score_name``, ``n_samples`` and ``n_features``.
    """
    fn = get_score(score)
    if not candidates:
        raise ConfigError("rank_candidates: no candidates given; pass at least one "
                          "{name: (features, labels)} entry")
    rows = []
    for name, entry in candidates.items():
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise ConfigError(f"rank_candidates: candidate {name!r} must be a (features, "
                              f"labels) pair, got {type(entry).__name__}")
        features, labels = np.asarray(entry[0]), np.asarray(entry[1])
        rows.append({"name": str(name), "score": fn(features, labels), "score_name": score,
                     "n_samples": len(labels),
                     "n_features": 1 if features.ndim == 1 else features.shape[1]})
    rows.sort(key=lambda r: -r["score"])
    return [{"rank": i} | r for i, r in enumerate(rows, start=1)]


def _as_mapping(scores) -> dict[str, float]:
    if isinstance(scores, Mapping):
        return {str(k): float(v) for k, v in scores.items()}
    return {str(r["name"]): float(r["score"]) for r in scores}


def validate_ranking(scores, fitted_perf: Mapping[str, float]) -> dict:
    """Kendall's tau between transferability scores and the performance really reached.

    Parameters
    ----------
    scores : mapping of str to float, or the list returned by :func:`rank_candidates`
    fitted_perf : mapping of str to float
        Performance of each candidate after fitting (higher = better, e.g. target AUROC).

    Returns
    -------
    dict
        ``kendall_tau``, ``p_value`` (scipy.stats.kendalltau) and ``n_candidates``.
    """
    s, perf = _as_mapping(scores), {str(k): float(v) for k, v in fitted_perf.items()}
    if set(s) != set(perf):
        raise DataError(
            f"validate_ranking: candidates differ (scored only: {sorted(set(s) - set(perf))}, "
            f"fitted only: {sorted(set(perf) - set(s))}); pass both for the same candidates"
        )
    if len(s) < 3:
        raise DataError(f"validate_ranking: {len(s)} candidates; Kendall's tau needs at "
                        "least 3 to say anything")
    names = sorted(s)
    result = kendalltau([s[n] for n in names], [perf[n] for n in names])
    tau, p = float(result.statistic), float(result.pvalue)
    return {"kendall_tau": None if np.isnan(tau) else tau,
            "p_value": None if np.isnan(p) else p, "n_candidates": len(names)}


def plot_ranking(ranking: list[dict], path: str | Path, *, title: str | None = None) -> Path:
    """Horizontal bar plot PNG of a ranking (best at the top), written atomically."""
    if not ranking:
        raise ConfigError("plot_ranking: the ranking is empty; rank at least one candidate")
    names = [r["name"] for r in ranking][::-1]
    values = [r["score"] for r in ranking][::-1]
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend stays as it was

    fig = Figure(figsize=(6, 0.4 * len(names) + 1.2), dpi=110)
    ax = fig.subplots()
    ax.barh(names, values, color=["tab:green" if r["rank"] == 1 else "tab:gray"
                                  for r in ranking][::-1])
    ax.set_xlabel(f"{ranking[0]['score_name']} (higher = transfers better)")
    ax.set_title(title or "Transferability ranking")
    fig.tight_layout()
    with atomic_file(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)
