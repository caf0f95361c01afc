"""Screen table columns that look like direct patient identifiers before any value is used.

A run folder travels between hospitals, and a table encoder stores category values in the
run's manifest. So a column is dropped, with a one-line warning naming it (never its values),
when its name says it identifies a person (name, record number, date of birth, address,
contact, DICOM patient tags) or when it is text that is different in most rows (free text or an
identifier: nothing a model can learn from, everything a reader could recognise).
"""

from __future__ import annotations

import re
import warnings

import pandas as pd

_TOKENS = {
    "mrn", "ssn", "dob", "email", "mail", "phone", "telephone", "mobile", "address", "street",
    "postcode", "zipcode", "zip", "accession", "surname", "firstname", "lastname", "fullname",
    "forename", "initials", "nhs",
}
_PHRASES = (
    ("patient", "name"), ("first", "name"), ("last", "name"), ("given", "name"),
    ("family", "name"), ("medical", "record"), ("record", "number"), ("social", "security"),
    ("date", "of", "birth"), ("birth", "date"), ("birth", "day"), ("patient", "id"),
    ("subject", "id"), ("insurance", "number"), ("health", "number"), ("hospital", "number"),
)
_DICOM_TAG = re.compile(r"^\(?\s*[0-9a-f]{4}\s*,\s*[0-9a-f]{4}\s*\)?$", re.IGNORECASE)
MIN_DISTINCT_TEXT = 10
TEXT_UNIQUE_SHARE = 0.5


def name_tokens(column: object) -> list[str]:
    """Lower-case word tokens of a column name (split at punctuation and camelCase)."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t]


def looks_like_identifier_name(column: object) -> bool:
    """True for names such as ``PatientName``, ``mrn``, ``date_of_birth`` or ``(0010,0010)``."""
    tokens = name_tokens(column)
    if _DICOM_TAG.match(str(column)) or tokens == ["name"] or _TOKENS.intersection(tokens):
        return True
    return any(
        tokens[i : i + len(phrase)] == list(phrase)
        for phrase in _PHRASES
        for i in range(len(tokens) - len(phrase) + 1)
    )


def looks_like_free_text(values: pd.Series) -> bool:
    """True for a text column whose values differ in most rows (at least 10 distinct)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna()
    distinct = present.astype(str).nunique()
    return distinct >= MIN_DISTINCT_TEXT and distinct >= TEXT_UNIQUE_SHARE * len(present)


def drop_identifier_names(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """``frame`` without the columns whose names identify a person, with one warning."""
    return _drop(frame, [c for c in frame.columns if looks_like_identifier_name(c)], where,
                 "look like patient identifiers")


def drop_free_text(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """``frame`` without text columns that differ in most rows, with one warning.

    Decided on all the rows a model is fitted on (source and target together), so that both
    domains keep the same columns.
    """
    return _drop(frame, [c for c in frame.columns if looks_like_free_text(frame[c])], where,
                 "are free text or identifiers (different in most rows)")


def _drop(frame: pd.DataFrame, dropped: list, where: str, why: str) -> pd.DataFrame:
    if dropped:
        warnings.warn(
            f"{where}: dropped {len(dropped)} column(s) that {why}: "
            f"{', '.join(map(repr, dropped))}; their values are never used or stored (a real "
            "feature with such a name: rename it; free text: encode it first)",
            stacklevel=3,
        )
    return frame.drop(columns=dropped)
