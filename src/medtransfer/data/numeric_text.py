"""Columns of numbers with a few text entries (``<5``, ``n/a``, ``see note``): read as numbers.

As text such a column would be one-hot encoded with a category per distinct number; read as
numbers, its few text entries become missing values, said in one warning (their count only:
a stray text cell may hold anything, so it is never echoed).
"""

from __future__ import annotations

import warnings

import pandas as pd

NUMERIC_SHARE = 0.8  # of the present values, at least this share must parse as numbers
# and they must be a measurement, not a code: a coded column (0/1 with "YES", "1; 8" lists of
# indication codes) stays categorical
MIN_DISTINCT_NUMBERS = 20


def numeric_text_columns(frame: pd.DataFrame) -> dict[str, int]:
    """Text columns whose present values are mostly numbers, of at least 20 distinct values:
    name -> count of the other values."""
    found = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        present = values.dropna()
        numbers = pd.to_numeric(present, errors="coerce")
        parsed = int(numbers.notna().sum())
        if (len(present) and parsed < len(present) and parsed >= NUMERIC_SHARE * len(present)
                and numbers.nunique() >= MIN_DISTINCT_NUMBERS):
            found[column] = len(present) - parsed
    return found


def coerce_numeric_text(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """``frame`` with :func:`numeric_text_columns` read as numbers, with one warning."""
    found = numeric_text_columns(frame)
    if not found:
        return frame
    listed = ", ".join(f"{column!r} ({n} value(s))" for column, n in found.items())
    warnings.warn(
        f"{where}: column(s) of numbers hold text entries that are not numbers: {listed}; "
        "these entries are read as missing. Fix them upstream (e.g. '<5' as 4) to keep them",
        stacklevel=3,
    )
    frame = frame.copy()
    for column in found:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame
