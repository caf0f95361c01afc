"""skada's domain convention for stacked data, and the one rule for what a target is.

One ``X``, one ``y`` and ``sample_domain``: positive values mark source rows, negative values
target rows; unlabelled target rows carry ``y = -1`` (classification) or NaN (regression).
"""

from __future__ import annotations

import numpy as np

from medtransfer.data.numeric_text import MIN_DISTINCT_NUMBERS

SOURCE, TARGET = 1, -2
UNLABELLED = -1  # the label of an unlabelled row in integer class codes


def target_type(y) -> str:
    """Whether labels ``y`` are classes or a continuous outcome, from the values alone.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Stacked labels under skada's convention (``-1`` or NaN on unlabelled rows).

    Returns
    -------
    {"classification", "regression"}
        Integers, booleans and text are classes. Floats are a continuous outcome when any is
        NaN (NaN marks an unlabelled regression row), infinite or fractional, or when the
        labelled values take at least 20 distinct numbers (a measurement, as in
        :mod:`~medtransfer.data.numeric_text`). Floats that are all whole numbers of fewer
        than 20 distinct values are class codes: ``[0., 1., 1., 0.]`` (labels that passed
        through a float column) is classification, and so is ``[0., 2., -1.]`` with its
        unlabelled ``-1`` row. Pass integer codes or NaN-marked floats to leave no doubt.
    """
    y = np.asarray(y)
    if y.dtype.kind != "f":
        return "classification"
    if not np.isfinite(y).all():
        return "regression"
    values = np.unique(y[y != UNLABELLED])
    whole = np.array_equal(values, np.round(values))
    return "classification" if whole and len(values) < MIN_DISTINCT_NUMBERS else "regression"


def labelled_rows(y, task: str | None = None) -> np.ndarray:
    """Mask of the rows of ``y`` that carry a label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels; unlabelled rows are NaN (regression) or ``-1`` (classification).
    task : {"classification", "regression"}, optional
        The task when the caller knows it; otherwise :func:`target_type` decides.

    Returns
    -------
    ndarray of bool
    """
    y = np.asarray(y)
    if (task or target_type(y)) == "regression":
        return ~np.isnan(y.astype(float))
    return y != UNLABELLED


def domain_masks(y: np.ndarray, sample_domain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of (labelled source rows, labelled target rows) under skada's convention."""
    sample_domain = np.asarray(sample_domain)
    labelled = labelled_rows(y)
    return (sample_domain > 0) & labelled, (sample_domain < 0) & labelled
