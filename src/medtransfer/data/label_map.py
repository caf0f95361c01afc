"""Labels as clinicians have them: merge grades into classes, name the positive class.

``"0=no disease,1-4=disease"`` maps the raw label 0 to "no disease" and 1, 2, 3, 4 to
"disease"; the classes then follow the order of the map, so the last class named is the
positive one of a binary task (unless ``positive_class`` names another).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from medtransfer.data.classes import class_key
from medtransfer.data.domain import UNLABELLED, Domain
from medtransfer.errors import DataError
from medtransfer.params import ParameterError

LABEL_MAP_EXAMPLE = "write e.g. '0=no disease,1-4=disease'"


def parse_label_map(label_map: str) -> dict[str, str]:
    """``"0=no disease,1-4=disease"`` as ``{"0": "no disease", "1": "disease", ...}``.

    Each comma-separated entry is ``RAW=CLASS``; RAW is one label or an integer range
    ``A-B`` (both ends included).
    """
    mapping: dict[str, str] = {}
    for entry in (e.strip() for e in str(label_map).split(",") if e.strip()):
        raw, sep, name = entry.partition("=")
        if not sep or not raw.strip() or not name.strip():
            raise ParameterError("parse_label_map", "label_map", label_map, lambda style, e=entry: (
                f"entry {e!r} is not RAW=CLASS; {LABEL_MAP_EXAMPLE}"))
        for value in _expand(raw.strip()):
            mapping[value] = name.strip()
    if not mapping:
        raise ParameterError("parse_label_map", "label_map", label_map,
                             lambda style: f"is empty; {LABEL_MAP_EXAMPLE}")
    return mapping


def _expand(raw: str) -> list[str]:
    low, sep, high = raw.partition("-")
    if sep and low.strip().lstrip("+").isdigit() and high.strip().isdigit():
        return [str(v) for v in range(int(low), int(high) + 1)]
    return [raw]


def map_labels(domain: Domain, label_map: Mapping[str, str] | str) -> Domain:
    """The domain with its classes renamed/merged by ``label_map`` (raw class name -> class,
    or its text form for :func:`parse_label_map`).

    Raises
    ------
    DataError
        If the domain has a class the map does not name.
    """
    mapping = parse_label_map(label_map) if isinstance(label_map, str) else label_map
    if domain.class_names is None:
        if domain.labels is None:
            return domain
        raise ParameterError("map_labels", "label_map", label_map, lambda style: (
            f"maps classes, but {domain.name!r} has continuous labels; leave it out"))
    lookup = {class_key(k): v for k, v in mapping.items()}
    unmapped = [c for c in domain.class_names if class_key(c) not in lookup]
    if unmapped:
        raise DataError(f"{domain.name!r}: label {unmapped[0]!r} is not in --label-map "
                        f"({', '.join(mapping)}); add it, e.g. '{unmapped[0]}=<class>'")
    names = tuple(dict.fromkeys(mapping.values()))
    codes = np.array([names.index(lookup[class_key(c)]) for c in domain.class_names])
    return _recoded(domain, codes, names)


def put_positive_last(domain: Domain, positive: str) -> Domain:
    """The domain with class ``positive`` moved last: the positive class of binary metrics."""
    if domain.class_names is None:
        return domain
    keys = [class_key(c) for c in domain.class_names]
    if class_key(positive) not in keys:
        raise DataError(f"{domain.name!r}: --positive-class {positive!r} is not one of its "
                        f"classes {list(domain.class_names)}")
    at = keys.index(class_key(positive))
    order = [i for i in range(len(keys)) if i != at] + [at]
    names = tuple(domain.class_names[i] for i in order)
    return _recoded(domain, np.argsort(order), names)


def _recoded(domain: Domain, codes: np.ndarray, names: tuple[str, ...]) -> Domain:
    labels = domain.labels
    if labels is not None:
        labels = np.where(labels == UNLABELLED, UNLABELLED, codes[np.maximum(labels, 0)])
    return replace(domain, labels=labels, class_names=names)


def warn_label_spaces(source: Domain, target: Domain) -> None:
    """Warn when one domain's classes are a strict subset of the other's (e.g. grades 0-4
    at one hospital, 0/1 at another): almost always a label map is missing."""
    if source.class_names is None or target.class_names is None:
        return
    s = {class_key(c) for c in source.class_names}
    t = {class_key(c) for c in target.class_names}
    if s != t and (s < t or t < s):
        warnings.warn(
            f"source {source.name!r} has classes {_listed(source.class_names)} but target "
            f"{target.name!r} has {_listed(target.class_names)}; if they code the same "
            "diagnosis differently, merge them with --label-map (e.g. "
            "'0=no disease,1-4=disease')", stacklevel=2)


def _listed(names: Sequence[str]) -> str:
    return "{" + ", ".join(names) + "}"
