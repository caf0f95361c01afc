"""Shift in tables, column by column: missingness and per-feature drift.

Numeric columns are compared with the two-sample Kolmogorov-Smirnov test and the
Wasserstein distance (in units of the pooled standard deviation, so features compare);
categorical columns with the chi-square test of the domain x category table and the total
variation distance. The p-values are corrected with Benjamini-Hochberg.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from medtransfer.errors import DataError

MIN_PRESENT = 2


def check_tables(source: pd.DataFrame, target: pd.DataFrame) -> list[str]:
    """Columns common to both tables, or a DataError when they differ or a table is empty."""
    for name, frame in (("source", source), ("target", target)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"table shift: {name} inputs are {type(frame).__name__}; "
                            "expected a pandas DataFrame of feature columns")
        if len(frame) == 0:
            raise DataError(f"table shift: the {name} table has no rows; pass a non-empty table")
    only_s = [c for c in source.columns if c not in target.columns]
    only_t = [c for c in target.columns if c not in source.columns]
    if only_s or only_t:
        raise DataError(
            f"table shift: columns differ (only in source: {only_s}, only in target: "
            f"{only_t}); load both domains with the same feature columns"
        )
    return [str(c) for c in source.columns]


def missingness_shift(source: pd.DataFrame, target: pd.DataFrame, *,
                      min_difference: float = 0.1) -> list[dict]:
    """Missing fraction of every column in each domain, flagged where it differs.

    Parameters
    ----------
    source, target : DataFrame
        Raw feature tables with the same columns.
    min_difference : float, default 0.1
        A column is flagged when its missing fractions differ by at least this much.

    Returns
    -------
    list of dict
        One row per column (``column``, ``missing_source``, ``missing_target``,
        ``difference`` = target - source, ``flagged``), largest absolute difference first.
    """
    columns = check_tables(source, target)
    ms = source[columns].isna().mean().to_numpy()
    mt = target[columns].isna().mean().to_numpy()
    rows = [
        {"column": c, "missing_source": float(a), "missing_target": float(b),
         "difference": float(b - a), "flagged": bool(abs(b - a) >= min_difference)}
        for c, a, b in zip(columns, ms, mt, strict=True)
    ]
    return sorted(rows, key=lambda r: -abs(r["difference"]))


def adjust_p_values(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values; NaN entries (untested) stay NaN and do not count.

    Wraps :func:`scipy.stats.false_discovery_control` (method "bh").
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full_like(p, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = stats.false_discovery_control(p[tested], method="bh")
    return q


def is_numeric(column: pd.Series) -> bool:
    """True for numeric columns that are not booleans (booleans are categories)."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _numeric_drift(a: pd.Series, b: pd.Series) -> dict:
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    scale = float(np.std(np.r_[x, y]))
    scale = scale if scale > 0 else 1.0
    ks = stats.ks_2samp(x, y)
    return {"kind": "numeric", "test": "Kolmogorov-Smirnov", "statistic": float(ks.statistic),
            "p_value": float(ks.pvalue), "effect": float(ks.statistic),
            "wasserstein": float(stats.wasserstein_distance(x, y) / scale)}


def _categorical_drift(a: pd.Series, b: pd.Series) -> dict:
    table = pd.crosstab(
        np.r_[np.zeros(len(a), int), np.ones(len(b), int)],
        np.r_[a.astype(str).to_numpy(), b.astype(str).to_numpy()],
    ).to_numpy()
    tvd = 0.5 * float(np.abs(table[0] / table[0].sum() - table[1] / table[1].sum()).sum())
    if table.shape[1] < 2:
        return {"kind": "categorical", "test": "chi-square", "statistic": 0.0, "p_value": 1.0,
                "effect": 0.0, "total_variation": tvd}
    chi2 = stats.chi2_contingency(table, correction=False)
    cramers_v = np.sqrt(chi2.statistic / (table.sum() * (min(table.shape) - 1)))
    return {"kind": "categorical", "test": "chi-square", "statistic": float(chi2.statistic),
            "p_value": float(chi2.pvalue), "effect": float(cramers_v), "total_variation": tvd}


def _column_drift(column: str, a: pd.Series, b: pd.Series) -> dict:
    a, b = a.dropna(), b.dropna()
    if len(a) == 0 and len(b) == 0:
        raise DataError(
            f"feature drift: column {column!r} is missing in every row of both domains; "
            f"drop it before measuring shift (table.drop(columns=[{column!r}]))"
        )
    row = {"column": column, "n_source": len(a), "n_target": len(b)}
    if min(len(a), len(b)) < MIN_PRESENT:
        return row | {"kind": None, "test": None, "statistic": None, "p_value": None,
                      "effect": None, "note": f"fewer than {MIN_PRESENT} values in a domain"}
    numeric = is_numeric(a) and is_numeric(b)
    return row | (_numeric_drift(a, b) if numeric else _categorical_drift(a, b))


def feature_drift(source: pd.DataFrame, target: pd.DataFrame) -> list[dict]:
    """Per-column drift tests, Benjamini-Hochberg corrected, most shifted first.

    Parameters
    ----------
    source, target : DataFrame
        Raw feature tables with the same columns; missing values are left out per column.

    Returns
    -------
    list of dict
        One row per column: ``column``, ``kind``, ``test``, ``statistic``, ``p_value``,
        ``q_value`` (BH), ``effect`` (KS statistic or Cramér's V), ``wasserstein`` (numeric,
        in pooled standard deviations) or ``total_variation`` (categorical), ``n_source``,
        ``n_target`` and ``rank`` (1 = most shifted: smallest q, then largest effect).
        Columns with fewer than 2 values in a domain get None and a ``note``.
    """
    columns = check_tables(source, target)
    rows = [_column_drift(c, source[c], target[c]) for c in columns]
    p = [np.nan if r["p_value"] is None else r["p_value"] for r in rows]
    for row, q in zip(rows, adjust_p_values(p), strict=True):
        row["q_value"] = None if np.isnan(q) else float(q)
    untested = (2.0, 0.0)
    rows.sort(key=lambda r: untested if r["q_value"] is None else (r["q_value"], -r["effect"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows
