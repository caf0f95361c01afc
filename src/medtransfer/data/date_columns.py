"""Date and duration columns of a table: dropped with a warning, never one-hot encoded.

A date (of birth, of service) is an identifier more often than a feature, and as text it
would become one category per day. Convert it upstream to a number (e.g. age, days since
admission) to use it.
"""

from __future__ import annotations

import re
import warnings

import pandas as pd

_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?"
    r"|-?(\d+ days?,? ?)?\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
)


def is_date_column(values: pd.Series) -> bool:
    """True for datetime/timedelta dtypes and text whose every value is a date or duration."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        return True
    if not pd.api.types.is_string_dtype(values) and values.dtype != object:
        return False
    present = values.dropna()
    return len(present) > 0 and all(
        isinstance(v, str) and _DATE.fullmatch(v.strip()) for v in present
    )


def drop_date_columns(frame: pd.DataFrame, columns: list, where: str) -> pd.DataFrame:
    """``frame`` without the date/duration columns among ``columns``, with one warning."""
    dates = [c for c in columns if is_date_column(frame[c])]
    if not dates:
        return frame
    warnings.warn(
        f"{where}: column(s) {dates} hold dates or durations and are not used as features; "
        "convert them upstream to numbers (e.g. age or days since admission) to use them",
        stacklevel=3,
    )
    return frame.drop(columns=dates)
