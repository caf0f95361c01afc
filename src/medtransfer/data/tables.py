"""Tables (CSV, Parquet): one row per patient, a label column, optionally a site column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.data.date_columns import drop_date_columns
from medtransfer.data.domain import Domain
from medtransfer.data.identifiers import drop_identifier_names
from medtransfer.data.labels import encode_labels, label_text, require_two_classes
from medtransfer.data.numeric_text import coerce_numeric_text
from medtransfer.errors import ConfigError, DataError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
PATIENT_COLUMN = "patient_id"
DEFAULT_ID_COLUMN = "id"
MAX_MAGNITUDE = 1e150  # its square still fits in float64 (max 1.8e308)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning parser failures into a DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path")
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(
            f"{path}: cannot be read as a {path.suffix.lstrip('.')} table ({exc}); "
            "check the file format and encoding (UTF-8)"
        ) from None
    if frame.empty:
        raise DataError(f"{path}: the table has no rows; give a table with one row per sample")
    if path.suffix.lower() == ".csv":
        _refuse_duplicate_columns(path)
    return frame


def _refuse_duplicate_columns(path: Path) -> None:
    # pandas silently renames a repeated header 'age' to 'age.1'; read the raw header row.
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = pd.Series(header.iloc[0].tolist())
    repeated = sorted(set(names[names.duplicated()]))
    if repeated:
        raise DataError(
            f"{path}: the header repeats column(s) {repeated}; give every column a unique name"
        )


def load_table(
    path: Path,
    *,
    label_col: str | None = None,
    id_col: str | None = None,
    site_col: str | None = None,
    site: str | None = None,
    name: str | None = None,
    task: str = "classification",
) -> Domain:
    """Load a CSV or Parquet table as a Domain; see :func:`domain_from_table`."""
    path = Path(path)
    return domain_from_table(
        read_table(path),
        where=str(path),
        label_col=label_col,
        id_col=id_col,
        site_col=site_col,
        site=site,
        name=name or site or path.stem,
        task=task,
    )


def domain_from_table(
    frame: pd.DataFrame,
    *,
    where: str,
    name: str,
    label_col: str | None = None,
    id_col: str | None = None,
    site_col: str | None = None,
    site: str | None = None,
    task: str = "classification",
    class_names: tuple[str, ...] | None = None,
) -> Domain:
    """Build a table Domain from a DataFrame.

    Parameters
    ----------
    frame : DataFrame
        One row per sample.
    where : str
        The file the frame came from, quoted in error messages.
    name : str
        Domain name.
    label_col : str, optional
        Label column; without it the domain is unlabelled. Blank labels mean unlabelled rows.
    id_col : str, optional
        Column of unique sample ids; defaults to a column named ``id`` if there is one, else
        ids are the row numbers (0-based, counted before any site filter).
    site_col, site : str, optional
        The column naming each row's site and, optionally, the one site to keep (matched
        case-insensitively). The site goes to ``metadata["site"]``.
    task : {"classification", "regression"}
        How the labels are read.
    class_names : tuple of str, optional
        Fixed class order (classification).

    Returns
    -------
    Domain
        A table domain whose inputs are the feature columns: every column except the label,
        id, site and ``patient_id`` columns (the last goes to ``metadata["patient_id"]``).
    """
    if site is not None and site_col is None:
        raise ConfigError(
            f"site {site!r} was given without site_col; pass the column that names the site "
            "(e.g. site_col='dataset')"
        )
    id_col = id_col or (DEFAULT_ID_COLUMN if DEFAULT_ID_COLUMN in frame.columns else None)
    for role, column in (("label", label_col), ("id", id_col), ("site", site_col)):
        require_column(frame, column, role, where)
    if site is not None:
        frame = select_site(frame, site_col, site, where)
    check_finite(frame, where)
    labels, classes = None, None
    if label_col is not None:
        column_where = f"{where}, column {label_col!r}"
        labels, classes = encode_labels(
            frame[label_col], task=task, where=column_where, class_names=class_names
        )
        if classes is not None:
            require_two_classes(classes, column_where)
    extra = [c for c in (label_col, id_col, site_col) if c] + _present(frame, PATIENT_COLUMN)
    features = frame.drop(columns=extra)
    features = drop_date_columns(features, list(features.columns), where)
    features = coerce_numeric_text(features, where)
    check_finite(features, where)  # text such as 'inf' that became a number
    return Domain(
        name=name,
        kind="table",
        inputs=drop_identifier_names(features, where).reset_index(drop=True),
        ids=_ids(frame, id_col, where),
        labels=labels,
        class_names=classes,
        metadata=_metadata(frame, site_col),
    )


def require_column(frame: pd.DataFrame, column: str | None, role: str, where: str) -> None:
    """Refuse a column name the table does not have, listing the ones it has."""
    if column is not None and column not in frame.columns:
        raise DataError(
            f"{where}: no {role} column {column!r}; available columns: "
            f"{', '.join(map(str, frame.columns))}"
        )


def select_site(frame: pd.DataFrame, site_col: str, site: str, where: str) -> pd.DataFrame:
    """The rows whose ``site_col`` equals ``site`` (case-insensitively)."""
    sites = frame[site_col].map(lambda v: "" if pd.isna(v) else label_text(v))
    keep = sites.str.casefold() == str(site).strip().casefold()
    if not keep.any():
        valid = sorted(set(sites) - {""})
        raise DataError(
            f"{where}: no rows with {site_col} = {site!r}; valid sites: {', '.join(valid)}"
        )
    return frame.loc[keep.to_numpy()]


def check_finite(frame: pd.DataFrame, where: str) -> None:
    """Refuse infinite values and magnitudes above MAX_MAGNITUDE.

    Infinities are almost always a failed division upstream; values near the float64 limit
    (1e308) are sentinels or unit errors, and overflow to inf/NaN once squared (variances,
    distances), so they are refused here rather than failing deep inside a method.
    """
    numeric = frame.select_dtypes(include="number")
    for column in numeric.columns:
        values = numeric[column].to_numpy(dtype=np.float64, na_value=np.nan)
        rows = np.flatnonzero(np.isinf(values))
        if len(rows):
            raise DataError(
                f"{where}: column {column!r} has {len(rows)} infinite values (first at row "
                f"{int(frame.index[rows[0]])}); replace them with finite numbers, or leave the "
                "cells empty to mark them missing"
            )
        rows = np.flatnonzero(np.abs(np.nan_to_num(values)) > MAX_MAGNITUDE)
        if len(rows):
            raise DataError(
                f"{where}: column {column!r} has {len(rows)} values beyond +-{MAX_MAGNITUDE:g} "
                f"(first {values[rows[0]]:g} at row {int(frame.index[rows[0]])}); expected "
                f"magnitudes up to {MAX_MAGNITUDE:g}: fix the value or its units, or leave the "
                "cell empty to mark it missing"
            )


def _ids(frame: pd.DataFrame, id_col: str | None, where: str) -> np.ndarray:
    if id_col is None:
        return np.array([str(i) for i in frame.index], dtype=object)
    return unique_ids(frame[id_col], id_col, where)


def unique_ids(ids: pd.Series, column: str, where: str) -> np.ndarray:
    """The values of an id column as strings; empty or repeated ids are an error."""
    if ids.isna().any():
        raise DataError(f"{where}: id column {column!r} has empty cells; give every row an id")
    text = ids.map(label_text)
    duplicated = text[text.duplicated()]
    if len(duplicated):
        raise DataError(
            f"{where}: id column {column!r} repeats the id {duplicated.iloc[0]!r}; ids must "
            "be unique (use patient_id for several samples of one patient)"
        )
    return text.to_numpy(dtype=object)


def _metadata(frame: pd.DataFrame, site_col: str | None) -> pd.DataFrame:
    metadata = pd.DataFrame(index=range(len(frame)))
    if site_col is not None:
        metadata["site"] = frame[site_col].to_numpy()
    if PATIENT_COLUMN in frame.columns:
        metadata[PATIENT_COLUMN] = frame[PATIENT_COLUMN].to_numpy()
    return metadata if len(metadata.columns) else pd.DataFrame()


def _present(frame: pd.DataFrame, column: str) -> list[str]:
    return [column] if column in frame.columns else []
