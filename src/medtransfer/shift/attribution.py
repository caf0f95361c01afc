"""Attribution: which single column (site, device, sex, age band...) tells the domains apart?

Each candidate column is reduced to categories (numeric columns to quantile bands, missing
values to their own category) and scored by how well it alone separates target from source:
the cross-validated AUROC of its out-of-fold target share per category, and the share of the
domain entropy it explains (mutual information / H(domain)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import entropy
from sklearn.metrics import mutual_info_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from medtransfer.shift.tabular import is_numeric

ID_COLUMNS = frozenset({"id", "ids", "patient_id", "patient", "study_id", "image_id"})
MAX_CATEGORIES = 50
N_BANDS = 5


def as_categories(values: pd.Series) -> np.ndarray:
    """Category codes of a column: numeric columns in quantile bands, missing as its own code."""
    if is_numeric(values) and values.nunique() > N_BANDS:
        bands = pd.qcut(values.astype(float), N_BANDS, duplicates="drop")
        codes = pd.Series(bands).cat.codes.to_numpy()
    else:
        codes = pd.Series(values.astype(str).where(values.notna(), None)).astype(
            "category").cat.codes.to_numpy()
    return np.where(codes < 0, codes.max() + 1, codes)


def out_of_fold_share(
    codes: np.ndarray, d: np.ndarray, n_splits: int, random_state: int | None
) -> np.ndarray:
    """Each row's target share among training-fold rows of its category (add-one smoothed)."""
    score = np.empty(len(d))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    size = codes.max() + 1
    for train, test in folds.split(codes.reshape(-1, 1), d):
        n = np.bincount(codes[train], minlength=size)
        t = np.bincount(codes[train], weights=d[train], minlength=size)
        score[test] = ((t + d[train].mean()) / (n + 1.0))[codes[test]]
    return score


def _column_score(name, origin, values: pd.Series, d: np.ndarray, seed) -> dict:
    codes = as_categories(values)
    k = min(5, int(np.bincount(d).min()))
    auc = roc_auc_score(d, out_of_fold_share(codes, d, k, seed)) if k >= 2 else np.nan
    info = mutual_info_score(d, codes) / entropy(np.bincount(d))
    per_domain = [set(codes[d == k]) for k in (0, 1)]
    separates = all(len(s) == 1 for s in per_domain) and per_domain[0] != per_domain[1]
    return {"column": name, "origin": origin, "auc": None if np.isnan(auc) else float(auc),
            "mutual_information": float(info), "identifies_domain": bool(separates)}


def candidate_columns(source: pd.DataFrame, target: pd.DataFrame) -> list[str]:
    """Shared columns that can be attributed: not identifiers, not free text."""
    names = []
    for c in source.columns:
        if c not in target.columns or str(c).lower() in ID_COLUMNS:
            continue
        pooled = pd.concat([source[c], target[c]], ignore_index=True)
        if pooled.notna().sum() == 0:
            continue
        if is_numeric(pooled) or pooled.nunique() <= MAX_CATEGORIES:
            names.append(c)
    return names


def attribute_shift(
    frames: dict[str, tuple[pd.DataFrame, pd.DataFrame]], *, random_state: int | None = 0
) -> list[dict]:
    """Rank columns by how well each alone separates the domains.

    Parameters
    ----------
    frames : dict of str to (DataFrame, DataFrame)
        Source and target tables per origin, e.g. ``{"metadata": (...), "feature": (...)}``;
        only the columns present in both tables of an origin are used.
    random_state : int or None, default 0
        Seed of the cross-validation folds.

    Returns
    -------
    list of dict
        ``column``, ``origin``, ``auc`` (cross-validated, 0.5 = no information),
        ``mutual_information`` (share of the domain entropy explained) and
        ``identifies_domain`` (True when the column is constant within each domain and
        differs between them, like a site name), highest AUROC first.
    """
    rows = []
    for origin, (source, target) in frames.items():
        if len(source) == 0 or len(target) == 0:
            continue
        d = np.r_[np.zeros(len(source), int), np.ones(len(target), int)]
        for c in candidate_columns(source, target):
            pooled = pd.concat([source[c], target[c]], ignore_index=True)
            rows.append(_column_score(str(c), origin, pooled, d, random_state))
    return sorted(rows, key=lambda r: (-(r["auc"] or 0.0), -r["mutual_information"]))
