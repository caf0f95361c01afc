"""The first round: each site describes its table's columns; the coordinator builds the
shared encoder every site then encodes its rows with.

A site's schema holds, per column, its kind, the number of missing and present values,
the mean of present numeric values and the count of each category, all after small-cell
suppression. From the schemas the coordinator builds a ``TabularEncoder`` as plain data:
a column mostly missing at any site is dropped (as ``TabularEncoder.fit`` drops it), a
numeric gap is filled with the pooled mean (a median is one patient's value, so it is
never released), categories released by at least one site are one-hot encoded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

from medtransfer.errors import DataError
from medtransfer.features import TabularEncoder
from medtransfer.features.tabular import FORMAT as ENCODER_FORMAT
from medtransfer.features.tabular import VERSION as ENCODER_VERSION
from medtransfer.federated.privacy import suppressed_count, suppressed_group

SCHEMA_FORMAT = "medtransfer.site_schema"


def table_schema(frame: pd.DataFrame, *, site: str, min_cell: int = 10) -> dict[str, Any]:
    """Suppressed per-column counts and sums of one site's raw feature table."""
    # fitted on this site alone to read column kinds and category labels the way the shared
    # encoder will; its medians stay here
    local = TabularEncoder(mostly_missing="keep", missing_indicators=False).fit(frame)
    onehot = local.transform(frame)[:, len(local.numeric_):]
    columns: dict[str, Any] = {}
    for col in local.numeric_:
        values = pd.to_numeric(frame[col], errors="coerce")
        missing, present = suppressed_group(
            [len(frame) - int(values.notna().sum()), int(values.notna().sum())], min_cell)
        columns[col] = {
            "kind": "numeric", "missing": missing, "present": present,
            "mean": float(values.mean()) if values.notna().sum() >= min_cell else None,
        }
    start = 0
    for col, labels in local.categories_.items():
        counts = onehot[:, start:start + len(labels)].sum(axis=0)
        start += len(labels)
        cells = suppressed_group([len(frame) - int(counts.sum()), *counts.astype(int)], min_cell)
        columns[col] = {"kind": "categorical", "missing": cells[0],
                        "categories": dict(zip(labels, cells[1:], strict=True))}
    n = suppressed_count(len(frame), min_cell)
    return {"format": SCHEMA_FORMAT, "site": site, "n": n, "min_cell": min_cell,
            "columns": columns}


def _check_schemas(schemas: list[dict]) -> None:
    bad = [i for i, s in enumerate(schemas)
           if not isinstance(s, dict) or s.get("format") != SCHEMA_FORMAT or not s.get("n")]
    if bad:
        raise DataError(f"schema(s) number {bad} are not site schemas with at least min_cell "
                        "rows; write them with `medtransfer site-stats DATA -o SCHEMA.json` "
                        "(no --encoder)")


def _missing_fraction(entry: dict, n: int, min_cell: int) -> float:
    """The released missing share, or a bound on it where the count was withheld."""
    if entry["missing"] is not None:
        return entry["missing"] / n
    if entry["kind"] == "numeric":
        # the mean is withheld only when fewer than min_cell values are present
        return 1.0 if entry["mean"] is None else (min_cell - 1) / n
    released = sum(c for c in entry["categories"].values() if c)
    return (n - released) / n


def encoder_from_schemas(schemas: list[dict], missing_threshold: float = 0.9) -> TabularEncoder:
    """The shared encoder built from every site's :func:`table_schema`."""
    _check_schemas(schemas)
    order = list(dict.fromkeys(c for s in schemas for c in s["columns"]))
    kinds = {c: {s["columns"][c]["kind"] for s in schemas if c in s["columns"]} for c in order}
    mixed = [c for c, k in kinds.items() if len(k) > 1]
    if mixed:
        raise DataError(f"column(s) {mixed} are numeric at some sites and categorical at "
                        "others; clean the values so every site reads them alike")
    worst = {c: max(_missing_fraction(s["columns"][c], s["n"], s["min_cell"])
                    if c in s["columns"] else 1.0 for s in schemas) for c in order}
    dropped = [c for c in order if worst[c] >= missing_threshold]
    numeric = [c for c in order if "numeric" in kinds[c] and c not in dropped]
    categorical = [c for c in order if "categorical" in kinds[c] and c not in dropped]
    state = {
        "numeric_": numeric, "categorical_": categorical, "dropped_": dropped,
        "medians_": {c: _pooled_mean(schemas, c) for c in numeric},
        "indicators_": [c for c in numeric if worst[c] > 0],
        "categories_": {c: sorted({lab for s in schemas if c in s["columns"]
                                   for lab, k in s["columns"][c]["categories"].items() if k})
                        for c in categorical},
        "feature_names_in_": order,
        "report_": {"domains": [str(s["site"]) for s in schemas],
                    "threshold": missing_threshold, "dropped": {c: worst[c] for c in dropped},
                    "fill": "pooled mean of the sites' present values"},
    }
    params = {"missing_threshold": missing_threshold}
    return TabularEncoder.from_dict({"format": ENCODER_FORMAT, "version": ENCODER_VERSION,
                                     "params": params, "state": state})


def _pooled_mean(schemas: list[dict], column: str) -> float:
    """Mean of the sites' means, weighted by their present counts (by their row counts
    where the present count was withheld)."""
    parts = [(s["columns"][column]["mean"], s["columns"][column]["present"] or s["n"])
             for s in schemas
             if column in s["columns"] and s["columns"][column]["mean"] is not None]
    total = sum(w for _, w in parts)
    return float(sum(m * w for m, w in parts) / total) if total else 0.0


def encoder_digest(encoder: TabularEncoder) -> str:
    """A short fingerprint of the encoder state (sites must all use the same one)."""
    text = json.dumps(encoder.to_dict(), sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)
