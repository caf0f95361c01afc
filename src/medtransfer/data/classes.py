"""Put a target domain's classes onto the source's class list."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from medtransfer.data.domain import UNLABELLED, Domain
from medtransfer.errors import DataError


def class_key(name: str) -> str:
    """How class names are compared: case- and surrounding-space-insensitively."""
    return str(name).strip().casefold()


def harmonize_classes(source: Domain, target: Domain) -> tuple[Domain, Domain, dict]:
    """Re-code the target's labels onto the source's class list.

    Class names match case-insensitively ("neutrophil" = "NEUTROPHIL"); the source's
    spelling wins. A source class the target lacks is allowed and reported.

    Parameters
    ----------
    source : Domain
        Labelled classification domain whose class list is kept.
    target : Domain
        Domain to re-code; it may be unlabelled.

    Returns
    -------
    source : Domain
        Unchanged.
    target : Domain
        Labels re-coded onto ``source.class_names`` (unlabelled stays ``-1``), class names
        set to the source's.
    report : dict
        ``{"missing_in_target": [source classes without a target sample],
        "renamed": {target spelling: source spelling}}``.

    Raises
    ------
    DataError
        If the source has no class names, the source has two classes that differ only in
        case, the target has continuous labels, or a target class is unknown to the source.
    """
    index = _source_index(source)
    if target.labels is None and target.class_names is None:
        return source, target, {"missing_in_target": list(source.class_names), "renamed": {}}
    if target.class_names is None:
        raise DataError(
            f"target {target.name!r} has continuous labels but source {source.name!r} has "
            f"classes {list(source.class_names)}; load both with the same task"
        )
    unknown = [c for c in target.class_names if class_key(c) not in index]
    if unknown:
        raise DataError(
            f"target {target.name!r} has class {unknown[0]!r} unknown to source "
            f"{source.name!r}, whose classes are {list(source.class_names)}; rename or drop "
            "those target samples"
        )
    mapping = np.array([index[class_key(c)] for c in target.class_names], dtype=np.int64)
    labels = _recode(target.labels, mapping)
    recoded = replace(target, labels=labels, class_names=source.class_names)
    present = {class_key(c) for c in _observed(target)}
    report = {
        "missing_in_target": [c for c in source.class_names if class_key(c) not in present],
        "renamed": {
            c: source.class_names[index[class_key(c)]]
            for c in target.class_names
            if c != source.class_names[index[class_key(c)]]
        },
    }
    return source, recoded, report


def _source_index(source: Domain) -> dict[str, int]:
    if source.class_names is None:
        raise DataError(
            f"source {source.name!r} has no class names (unlabelled or regression); "
            "class harmonisation needs a labelled classification source"
        )
    index: dict[str, int] = {}
    for i, name in enumerate(source.class_names):
        key = class_key(name)
        if key in index:
            raise DataError(
                f"source {source.name!r} has classes {source.class_names[index[key]]!r} and "
                f"{name!r}, which differ only in case; merge them"
            )
        index[key] = i
    return index


def _observed(target: Domain) -> list[str]:
    # A class with no labelled sample tells the user as much as an absent one: report both.
    if target.labels is None:
        return list(target.class_names)
    return [c for c, n in target.class_counts().items() if n > 0]


def _recode(labels: np.ndarray | None, mapping: np.ndarray) -> np.ndarray | None:
    if labels is None:
        return None
    labels = np.asarray(labels, dtype=np.int64)
    return np.where(labels == UNLABELLED, UNLABELLED, mapping[np.maximum(labels, 0)])
