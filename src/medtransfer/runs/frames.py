"""Tables of a run: predictions of every model, their scores, subgroups, domain summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from medtransfer.data import Domain
from medtransfer.errors import ConfigError
from medtransfer.evaluate.bootstrap import evaluate_predictions
from medtransfer.evaluate.dosing import dosing_metrics
from medtransfer.evaluate.subgroups import age_bands


def describe_domain(domain: Domain) -> dict[str, Any]:
    """Counts and label distribution of a domain, for the manifest."""
    return {
        "name": domain.name,
        "kind": domain.kind,
        "n": len(domain),
        "class_counts": domain.class_counts(),
        "label_summary": _label_summary(domain),
        "root": str(domain.root) if domain.root else None,
    }


def _label_summary(domain: Domain) -> dict[str, float] | None:
    """Mean, median and quartiles of a continuous label (None for classes)."""
    if not domain.is_regression or not domain.labelled_mask.any():
        return None
    y = domain.labels[domain.labelled_mask].astype(float)
    q1, median, q3 = np.percentile(y, [25, 50, 75])
    return {"mean": float(y.mean()), "median": float(median), "q1": float(q1), "q3": float(q3)}


def subgroup_columns(domain: Domain) -> pd.DataFrame:
    """Subgroup attributes of each sample: ``subgroup_site`` from the metadata, and for
    tables ``subgroup_sex`` and ``subgroup_age`` (age bands) from raw ``sex`` / ``age``
    columns (matched case-insensitively). Absent attributes are skipped; never patient ids."""
    columns: dict[str, np.ndarray] = {}
    if "site" in domain.metadata:
        columns["subgroup_site"] = domain.metadata["site"].to_numpy(dtype=object)
    if domain.kind == "table" and isinstance(domain.inputs, pd.DataFrame):
        raw = {str(c).lower(): c for c in domain.inputs.columns}
        if "sex" in raw:
            columns["subgroup_sex"] = domain.inputs[raw["sex"]].to_numpy(dtype=object)
        if "age" in raw:
            columns["subgroup_age"] = age_bands(domain.inputs[raw["age"]].to_numpy()).to_numpy(
                dtype=object, na_value=None)
    return pd.DataFrame(columns, index=range(len(domain)))


def with_subgroups(predictions: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """``predictions`` (blocks of ``domain``'s samples, in order) with subgroup columns."""
    sub = subgroup_columns(domain)
    n_blocks, rest = divmod(len(predictions), max(len(domain), 1))
    if sub.empty or rest or not len(domain):
        return predictions
    tiled = pd.concat([sub] * n_blocks, ignore_index=True)
    return pd.concat([predictions.reset_index(drop=True), tiled], axis=1)


def reference_block(name: str, reference: Any, domain: Domain) -> pd.DataFrame:
    """Predictions of a fixed regressor on a table domain's raw inputs."""
    if domain.kind != "table" or not domain.is_regression:
        raise ConfigError("reference predictors apply to regression on tables only")
    return pd.DataFrame(
        {
            "model": name,
            "id": domain.ids.astype(str),
            "label": domain.labels.astype(float),
            "prediction": reference.predict(domain.inputs),
        }
    )


def score_models(
    domain: Domain, predictions: pd.DataFrame, n_resamples: int, *, task: str,
    class_names: Sequence[str] | None, random_state: int, threshold: float | None = None,
) -> dict[str, dict]:
    """Metrics with 95% intervals of every model block of ``predictions`` (one row per
    sample of ``domain``, in order) on the labelled samples of ``domain``; ``threshold`` is a
    binary outcome's decision threshold (default 0.5)."""
    labelled = domain.labelled_mask
    if not labelled.any():
        return {}
    groups = domain.patient_ids
    groups = None if groups is None else groups[labelled]
    scores = {}
    for name, block in predictions.groupby("model", sort=False):
        block = block[labelled]
        if task == "regression":
            # a fixed reference (a dosing formula) has no prediction where its inputs are missing
            finite = np.isfinite(block["prediction"].to_numpy(float))
            block = block[finite]
            truth = block["label"].to_numpy(float)
            table = dosing_metrics(
                truth,
                block["prediction"].to_numpy(float),
                n_bootstrap=n_resamples,
                random_state=random_state,
                groups=repeated_groups(None if groups is None else groups[finite]),
                relative=bool(np.all(truth > 0)),  # PW20 only for positive outcomes (doses)
            )
            scores[name] = {
                row.metric: {"value": row.value, "low": row.ci_low, "high": row.ci_high}
                for row in table.itertuples()
            }
        else:
            proba = block[[f"p_{c}" for c in class_names]].to_numpy()
            scores[name] = evaluate_predictions(
                domain.labels[labelled],
                proba,
                class_names=class_names,
                groups=groups,
                n_resamples=n_resamples,
                threshold=threshold,
                random_state=random_state,
            )
    return scores


def repeated_groups(groups: np.ndarray | None) -> np.ndarray | None:
    """Patient ids when some patient has several rows; None when every row is its own
    patient (resampling patients is then resampling rows, drawn as rows are)."""
    if groups is None or len(np.unique(groups)) == len(groups):
        return None
    return groups
