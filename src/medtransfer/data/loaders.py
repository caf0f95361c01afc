"""One entry point that loads any supported path as a Domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from medtransfer.data.columns import drop_columns
from medtransfer.data.domain import Domain
from medtransfer.data.folders import load_image_folder
from medtransfer.data.label_map import map_labels, put_positive_last
from medtransfer.data.labels import check_task
from medtransfer.data.manifest import is_manifest, load_manifest
from medtransfer.data.npz import load_npz
from medtransfer.data.tables import TABLE_SUFFIXES, load_table, read_table
from medtransfer.errors import ConfigError, DataError


def load_domain(
    path: str | Path,
    *,
    label_col: str | None = None,
    id_col: str | None = None,
    site_col: str | None = None,
    site: str | None = None,
    split: str | None = None,
    name: str | None = None,
    strict: bool = False,
    task: str = "classification",
    label_map: str | Mapping[str, str] | None = None,
    positive_class: str | None = None,
    drop_cols: Sequence[str] = (),
) -> Domain:
    """Load a folder or file as a Domain, picking the loader from the path.

    Parameters
    ----------
    path : str or Path
        A folder (image folder, one sub-folder per class; DICOM files welcome), a ``.npz``
        (MedMNIST layout), a ``.csv`` with a ``path`` column (image manifest) or any other
        ``.csv`` / ``.parquet`` / ``.pq`` (table).
    label_col, id_col, site_col, site : str, optional
        Tables and manifests: label column, unique-id column, site column and the one site
        to keep (e.g. ``site_col="dataset", site="Cleveland"``).
    split : {"train", "val", "test"} or None
        ``.npz`` only: the split to load; None loads every split.
    name : str, optional
        Domain name; defaults to the site, split or file name.
    strict : bool, default False
        Images: raise on an unreadable file instead of skipping it with a warning.
    task : {"classification", "regression"}
        Whether labels are classes or continuous values.
    label_map : str or mapping, optional
        Merge or rename classes, e.g. ``"0=no disease,1-4=disease"``
        (:func:`~medtransfer.data.label_map.parse_label_map`); the classes follow the map's
        order, the last one named being the positive class of a binary task.
    positive_class : str, optional
        The class binary metrics call positive (moved last in the class list).
    drop_cols : sequence of str
        Tables: feature columns not to use.

    Returns
    -------
    Domain

    Raises
    ------
    DataError
        If the path is missing, of an unknown kind, or its content cannot be used.
    ConfigError
        If an option does not apply to this kind of input.
    """
    check_task(task)
    domain = _load(path, label_col=label_col, id_col=id_col, site_col=site_col, site=site,
                   split=split, name=name, strict=strict, task=task)
    if label_map is not None:
        domain = map_labels(domain, label_map)
    if positive_class is not None:
        domain = put_positive_last(domain, positive_class)
    return drop_columns(domain, list(drop_cols))


def _load(path, *, label_col, id_col, site_col, site, split, name, strict, task) -> Domain:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the path")
    table_options = {"label_col": label_col, "id_col": id_col, "site_col": site_col, "site": site}
    if path.is_dir():
        _refuse(path, "an image folder", split=split, **table_options)
        if task == "regression":
            raise ConfigError(
                f"{path}: an image folder gives class labels, not values; for regression use a "
                "CSV manifest with path and a numeric label column"
            )
        return load_image_folder(path, name=name, strict=strict)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        _refuse(path, "a .npz archive", **table_options)
        return load_npz(path, split=split, name=name, task=task)
    if suffix in TABLE_SUFFIXES:
        _refuse(path, "a table or manifest", split=split)
        if is_manifest(read_table(path).columns):
            return load_manifest(path, name=name, strict=strict, task=task, **table_options)
        return load_table(path, name=name, task=task, **table_options)
    raise DataError(
        f"{path}: cannot load a {suffix or 'suffix-less'} file as a domain; give an image "
        "folder (one sub-folder per class), a CSV manifest (path,label), a .npz archive or "
        "a .csv/.parquet table"
    )


def _refuse(path: Path, kind: str, **options: str | None) -> None:
    given = [key for key, value in options.items() if value is not None]
    if given:
        raise ConfigError(
            f"option {given[0]} does not apply to {kind} ({path}); remove it"
        )
