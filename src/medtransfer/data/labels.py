"""Turn raw label values (strings, numbers, blanks) into a Domain's labels and class names."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from medtransfer.data.domain import UNLABELLED
from medtransfer.errors import DataError
from medtransfer.params import Options, check_value

TASKS = ("classification", "regression")
TASK = Options(*TASKS)


def check_task(task: str, owner: str = "load_domain") -> None:
    """Refuse a task other than classification or regression."""
    check_value(owner, "task", task, TASK)


def encode_labels(
    values: Sequence | pd.Series,
    *,
    task: str,
    where: str,
    class_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Encode raw labels for a Domain.

    Parameters
    ----------
    values : sequence or Series
        One raw label per sample; blanks (None, NaN, "") mean "unlabelled".
    task : {"classification", "regression"}
        Classification maps the labels (as strings) to integer codes over the sorted class
        names (numeric names sort by value), ``-1`` for unlabelled. Regression returns floats,
        NaN for unlabelled.
    where : str
        Where the labels come from (file and column), quoted in error messages.
    class_names : sequence of str, optional
        Fixed class order; every label must be one of these names.

    Returns
    -------
    labels : ndarray
        int64 codes (classification) or float64 values (regression).
    class_names : tuple of str or None
        None for regression.
    """
    check_task(task, "encode_labels")
    series = pd.Series(list(values), dtype=object)
    missing = series.isna() | series.map(lambda v: isinstance(v, str) and not v.strip())
    if task == "regression":
        return _regression(series, missing, where), None
    names = series[~missing].map(label_text)
    classes = tuple(class_names) if class_names is not None else sort_class_names(names.unique())
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise DataError(
            f"{where}: label {unknown[0]!r} is not one of the classes {list(classes)}; "
            "fix the label or the class list"
        )
    codes = np.full(len(series), UNLABELLED, dtype=np.int64)
    lookup = {name: i for i, name in enumerate(classes)}
    codes[~missing.to_numpy()] = names.map(lookup).to_numpy(dtype=np.int64)
    return codes, classes


def label_text(value: object) -> str:
    """A label as a class name: ``1.0`` → ``"1"``, ``" yes "`` → ``"yes"``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def sort_class_names(names: Sequence[str]) -> tuple[str, ...]:
    """Sort class names, by numeric value when every name is a number ("2" before "10")."""
    names = [str(n) for n in names]
    numeric = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce")
    if len(names) and not numeric.isna().any():
        return tuple(n for _, n in sorted(zip(numeric, names, strict=True)))
    return tuple(sorted(names))


def require_two_classes(class_names: tuple[str, ...], where: str) -> None:
    """A label column with a single class cannot teach a classifier anything."""
    if len(class_names) < 2:
        found = class_names[0] if class_names else "no labelled row"
        raise DataError(
            f"{where}: only one class ({found!r}) is present, a classifier needs at least "
            "two; check that this is the diagnosis column, or use task='regression' for a "
            "continuous target"
        )


def _regression(series: pd.Series, missing: pd.Series, where: str) -> np.ndarray:
    numbers = pd.to_numeric(series.where(~missing), errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(
            f"{where}: regression needs numeric labels but found {example!r} "
            f"({int(bad.sum())} non-numeric values); fix those values or use "
            "task='classification'"
        )
    values = numbers.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise DataError(f"{where}: {int(np.isinf(values).sum())} labels are infinite; fix them")
    return values
