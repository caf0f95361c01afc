"""CSV manifests: one row per image, ``path,label[,patient_id,site]``."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from medtransfer.data.domain import Domain
from medtransfer.data.folders import tags_frame, validate_images
from medtransfer.data.labels import encode_labels, require_two_classes
from medtransfer.data.tables import (
    PATIENT_COLUMN,
    read_table,
    require_column,
    select_site,
    unique_ids,
)
from medtransfer.errors import DataError

PATH_COLUMN = "path"
LABEL_COLUMN = "label"
SITE_COLUMN = "site"


def is_manifest(columns: pd.Index | list[str]) -> bool:
    """True when a table's columns make it an image manifest (it has a ``path`` column)."""
    return PATH_COLUMN in list(columns)


def load_manifest(
    path: Path,
    *,
    label_col: str | None = None,
    id_col: str | None = None,
    site_col: str | None = None,
    site: str | None = None,
    name: str | None = None,
    strict: bool = False,
    task: str = "classification",
) -> Domain:
    """Load a CSV manifest of image files as a Domain.

    Parameters
    ----------
    path : Path
        CSV with a ``path`` column (relative to the CSV's folder, or absolute), a label
        column (``label`` unless ``label_col`` says otherwise; absent means unlabelled) and
        optionally ``patient_id`` and ``site`` columns, which go to the metadata.
    label_col, id_col : str, optional
        Label column and unique-id column; ids default to the paths as written.
    site_col, site : str, optional
        Keep only the rows of one site (``site_col`` defaults to ``site``).
    name : str, optional
        Domain name; defaults to the site or the CSV's stem.
    strict : bool, default False
        Raise on an unreadable image instead of skipping it with a warning.
    task : {"classification", "regression"}
        How the labels are read.

    Returns
    -------
    Domain
        Image domain with the resolved file paths as inputs.
    """
    path = Path(path)
    frame = read_table(path)
    label_col = label_col or (LABEL_COLUMN if LABEL_COLUMN in frame.columns else None)
    if site is not None:
        site_col = site_col or SITE_COLUMN
    for role, column in (("path", PATH_COLUMN), ("label", label_col), ("id", id_col)):
        require_column(frame, column, role, str(path))
    require_column(frame, site_col, "site", str(path))
    if site is not None:
        frame = select_site(frame, site_col, site, str(path))
    files = resolve_paths(frame[PATH_COLUMN], path)
    good, tags = validate_images(files, path, strict)
    readable = set(good)
    frame = frame.loc[[f in readable for f in files]]
    return Domain(
        name=name or site or path.stem,
        kind="image",
        inputs=good,
        ids=_ids(frame, id_col, str(path)),
        **_labels(frame, label_col, task, f"{path}, column {label_col!r}"),
        metadata=_metadata(frame, tags, site_col or SITE_COLUMN),
        root=path.parent,
    )


def resolve_paths(column: pd.Series, manifest: Path) -> list[Path]:
    """Resolve each row's path against the manifest's folder; a missing file is an error."""
    resolved = []
    for row, value in column.items():
        where = f"{manifest}: row {int(row) + 1} (line {int(row) + 2})"
        if pd.isna(value) or not str(value).strip():
            raise DataError(f"{where} has an empty path; give every row an image file")
        file = Path(str(value).strip())
        file = file if file.is_absolute() else manifest.parent / file
        if not file.is_file():
            raise DataError(
                f"{where}: image {str(value)!r} not found (looked at {file}); paths are "
                "relative to the manifest's folder, fix the path or remove the row"
            )
        resolved.append(file)
    return resolved


def _ids(frame: pd.DataFrame, id_col: str | None, where: str) -> np.ndarray:
    if id_col is not None:
        return unique_ids(frame[id_col], id_col, where)
    paths = frame[PATH_COLUMN].map(lambda p: str(PurePosixPath(str(p).strip().replace("\\", "/"))))
    return unique_ids(paths, PATH_COLUMN, where)


def _labels(frame: pd.DataFrame, label_col: str | None, task: str, where: str) -> dict:
    if label_col is None:
        return {"labels": None, "class_names": None}
    labels, classes = encode_labels(frame[label_col], task=task, where=where)
    if classes is not None:
        require_two_classes(classes, where)
    return {"labels": labels, "class_names": classes}


def _metadata(frame: pd.DataFrame, tags: list[dict[str, str]], site_col: str) -> pd.DataFrame:
    metadata = tags_frame(tags)
    if metadata.empty:
        metadata = pd.DataFrame(index=range(len(frame)))
    for source, column in ((PATIENT_COLUMN, PATIENT_COLUMN), (site_col, "site")):
        if source in frame.columns:
            metadata[column] = frame[source].to_numpy()
    return metadata if len(metadata.columns) else pd.DataFrame()
