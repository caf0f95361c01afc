"""Which table columns become features: drop the ones asked for, and those naming the site."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from medtransfer.data.domain import Domain
from medtransfer.errors import DataError
from medtransfer.params import ParameterError


def drop_columns(domain: Domain, drop_cols: Sequence[str]) -> Domain:
    """The table domain without the columns ``drop_cols`` among its features."""
    if not drop_cols:
        return domain
    if domain.kind != "table":
        raise ParameterError("drop_columns", "drop_cols", drop_cols, lambda style: (
            f"applies to tables; {domain.name!r} holds images"))
    missing = [c for c in drop_cols if c not in domain.inputs.columns]
    if missing:
        raise DataError(f"{domain.name!r}: --drop-cols names {missing[0]!r}, not a feature "
                        f"column; feature columns: {', '.join(map(str, domain.inputs.columns))}")
    return replace(domain, inputs=domain.inputs.drop(columns=list(drop_cols)))


def site_constant_columns(source: Domain, target: Domain) -> list[str]:
    """Columns holding one value in the source and another in the target (a site's name,
    say): they tell the domains apart and nothing about a patient."""
    if source.kind != "table" or target.kind != "table":
        return []
    return [c for c in source.inputs.columns if c in target.inputs.columns
            and _single(source.inputs[c]) is not None and _single(target.inputs[c]) is not None
            and _single(source.inputs[c]) != _single(target.inputs[c])]


def drop_site_columns(source: Domain, target: Domain) -> tuple[Domain, Domain]:
    """Both domains without their :func:`site_constant_columns`, with a warning naming them."""
    found = site_constant_columns(source, target)
    if found:
        warnings.warn(
            f"column(s) {', '.join(map(repr, found))} hold one value in source {source.name!r} "
            f"and another in target {target.name!r}: they name the site, not the patient, so "
            "they are not used as features (pass --keep-site-col to keep them)", stacklevel=2)
    return drop_columns(source, found), drop_columns(target, found)


def _single(values: pd.Series) -> object | None:
    present = values.dropna().unique()
    return present[0] if len(present) == 1 else None
