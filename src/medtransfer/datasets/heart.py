"""UCI Heart Disease: 920 patients from four hospitals (the sites are the domains)."""

from __future__ import annotations

import pandas as pd

from medtransfer.data.domain import Domain
from medtransfer.data.tables import domain_from_table, read_table
from medtransfer.datasets.bundled import files_path

HEART_FILE = "heart_disease_uci.csv"
SITE_COLUMN = "dataset"
LABEL_COLUMN = "num"
BINARY_CLASSES = ("no disease", "disease")


def heart_disease(site: str | None = None, binary: bool = True) -> Domain:
    """The bundled UCI Heart Disease table, one site or all four.

    Parameters
    ----------
    site : str, optional
        "Cleveland" (304 patients), "Hungary" (293), "Switzerland" (123) or
        "VA Long Beach" (200), matched case-insensitively; None keeps all 920.
    binary : bool, default True
        Label "disease" (``num`` > 0) vs "no disease"; otherwise the five grades "0"-"4".

    Returns
    -------
    Domain
        Table domain: ids from the ``id`` column, ``metadata["site"]`` from ``dataset``,
        features every other column but ``num``. Missing values are kept as NaN: at some
        sites whole features (``ca``, ``thal``, ``slope``) are mostly missing.
    """
    frame = read_table(files_path(HEART_FILE))
    classes = None
    if binary:
        grade = pd.to_numeric(frame[LABEL_COLUMN])
        names = {False: BINARY_CLASSES[0], True: BINARY_CLASSES[1]}
        frame = frame.assign(**{LABEL_COLUMN: grade.gt(0).map(names)})
        classes = BINARY_CLASSES
    return domain_from_table(
        frame,
        where=HEART_FILE,
        name=_canonical_site(frame, site) or "heart_disease",
        label_col=LABEL_COLUMN,
        id_col="id",
        site_col=SITE_COLUMN,
        site=site,
        class_names=classes,
    )


def _canonical_site(frame: pd.DataFrame, site: str | None) -> str | None:
    """The file's spelling of ``site`` ("cleveland" → "Cleveland"), for the domain's name."""
    if site is None:
        return None
    key = site.strip().casefold()
    matches = [s for s in frame[SITE_COLUMN].dropna().unique() if str(s).casefold() == key]
    return str(matches[0]) if matches else site
