"""Image folders: one sub-folder per class (or a flat folder of unlabelled images)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.data.domain import Domain
from medtransfer.data.images import read_image_and_tags
from medtransfer.data.labels import encode_labels
from medtransfer.errors import DataError

_SHOWN = 5


class SkippedFilesWarning(UserWarning):
    """Some files were not readable images and were left out of a domain."""


def load_image_folder(
    root: Path, *, name: str | None = None, strict: bool = False
) -> Domain:
    """Load a folder of images as a Domain.

    Parameters
    ----------
    root : Path
        Either a folder with one sub-folder per class (``root/<class>/**/<image>``), or a flat
        folder of images, which gives an unlabelled domain. Hidden files are ignored.
    name : str, optional
        Domain name; defaults to the folder's name.
    strict : bool, default False
        If True, a corrupt, truncated or non-image file raises DataError; otherwise it is
        skipped with a :class:`SkippedFilesWarning` listing the files.

    Returns
    -------
    Domain
        Image domain whose inputs are the file paths and whose ids are the paths relative to
        ``root`` (posix). Labels are codes over the sorted class-folder names; DICOM files
        add their non-identifying acquisition tags to the metadata.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; check the path")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p))
    if class_dirs:
        files = {d.name: _files_below(d) for d in class_dirs}
    else:
        files = {"": [p for p in sorted(root.iterdir()) if p.is_file() and not _hidden(p)]}
    if not any(files.values()):
        raise DataError(
            f"{root}: empty folder, no image files found; put the images in one sub-folder "
            "per class (e.g. normal/, pneumonia/)"
        )
    paths, tags = validate_images([p for group in files.values() for p in group], root, strict)
    kept = set(paths)
    folders = [c for group, c in _class_of(files) if group in kept]
    _warn_empty_classes(root, files, kept)
    labels, class_names = (None, None)
    if class_dirs:
        labels, class_names = encode_labels(folders, task="classification", where=str(root))
    return Domain(
        name=name or root.name,
        kind="image",
        inputs=paths,
        ids=np.array([p.relative_to(root).as_posix() for p in paths], dtype=object),
        labels=labels,
        class_names=class_names,
        metadata=tags_frame(tags),
        root=root,
    )


def validate_images(
    paths: list[Path], where: Path, strict: bool
) -> tuple[list[Path], list[dict[str, str]]]:
    """Decode every file; return the readable ones and their DICOM tags.

    Unreadable files raise DataError when ``strict``, else are dropped with a warning.
    """
    good, tags, bad = [], [], []
    for path in paths:
        try:
            tags.append(read_image_and_tags(path)[1])
        except DataError as exc:
            bad.append(str(exc))
            continue
        good.append(path)
    if bad and strict:
        raise DataError(
            f"{where}: {len(bad)} unreadable files: {'; '.join(bad[:_SHOWN])}. Remove or "
            "repair them, or load without strict to skip them"
        )
    if bad:
        warnings.warn(
            f"{where}: skipped {len(bad)} unreadable files: {'; '.join(bad[:_SHOWN])}"
            + (f" (and {len(bad) - _SHOWN} more)" if len(bad) > _SHOWN else ""),
            SkippedFilesWarning,
            stacklevel=3,
        )
    if not good:
        raise DataError(f"{where}: none of the {len(paths)} files is a readable image")
    return good, tags


def tags_frame(tags: list[dict[str, str]]) -> pd.DataFrame:
    """Per-sample DICOM tags as metadata; an empty frame when no file had any."""
    if not any(tags):
        return pd.DataFrame()
    return pd.DataFrame(tags).astype(object).reset_index(drop=True)


def _files_below(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not any(_hidden(q) for q in p.relative_to(folder).parents)
        and not _hidden(p)
    )


def _hidden(path: Path) -> bool:
    # .DS_Store, ._resource forks, Thumbs.db: operating-system litter, never data.
    return path.name.startswith(".") or path.name == "Thumbs.db"


def _class_of(files: dict[str, list[Path]]) -> Iterable[tuple[Path, str]]:
    for class_name, paths in files.items():
        for path in paths:
            yield path, class_name


def _warn_empty_classes(root: Path, files: dict[str, list[Path]], kept: set[Path]) -> None:
    empty = [c for c, paths in files.items() if c and not any(p in kept for p in paths)]
    if empty:
        warnings.warn(
            f"{root}: class folders without any readable image were left out: {empty}",
            SkippedFilesWarning,
            stacklevel=3,
        )
