"""What an external-validation study reports about a run, beyond its metrics.

The leakage guard on the held-out target (and what ``dedupe`` does with its duplicates);
for binary outcomes, calibration (CITL, slope, O/E with intervals), the operating point
chosen on the labelled target cases carried to the held-out cases, decision curves'
inputs and the sample-size adequacy of the held-out set.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from medtransfer.data import Domain
from medtransfer.data.sample_domain import labelled_rows
from medtransfer.errors import DataError
from medtransfer.evaluate.calibration_study import calibration_study
from medtransfer.evaluate.decision_curve import PREVALENCE, operating_point
from medtransfer.evaluate.metrics import binary_auroc, threshold_for_sensitivity
from medtransfer.evaluate.plan import MIN_CLASS_CASES, check_heldout_size, check_plan
from medtransfer.evaluate.sample_size import sample_size_adequacy
from medtransfer.params import Constraints, Options, ParameterError, check_params
from medtransfer.shift.leakage import DEDUPE_MODES, check_leakage

SOURCE_ROLE, LABELLED_ROLE, HELDOUT_ROLE = "source", "labelled target", "held-out target"
OPERATING_RULES = ("sensitivity", "threshold")
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ValidationOptions:
    """How a run is validated on its held-out target.

    Parameters
    ----------
    dedupe : {"keep", "drop", "error"}, default "keep"
        What to do with held-out cases that duplicate others (see :func:`guard_heldout`).
    operating_point : str, default "sensitivity:0.9"
        How the decision threshold is chosen on the labelled target cases: the highest
        threshold reaching a sensitivity (``sensitivity:0.9``) or a fixed one
        (``threshold:0.3``).
    prevalence : float, optional
        The share of positives where the model will be used, for PPV and NPV there.
    plan : dict, optional
        A site-adaptation plan (:func:`medtransfer.evaluate.plan.load_plan`) to check the
        run against.
    """

    dedupe: str = "keep"
    operating_point: str = "sensitivity:0.9"
    prevalence: float | None = None
    plan: dict | None = None

    _parameter_constraints: ClassVar[Constraints] = {
        "dedupe": Options(*DEDUPE_MODES),
        "prevalence": PREVALENCE,
    }

    def check(self) -> None:
        """Refuse options that cannot be used, before any fitting."""
        check_params(self)
        self.rule()

    def rule(self) -> tuple[str, float]:
        """The operating-point rule and its value: ("sensitivity", 0.9) or ("threshold", t)."""
        kind, _, value = self.operating_point.partition(":")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if kind not in OPERATING_RULES or not 0.0 < number < 1.0:
            raise ParameterError(
                "ValidationOptions", "operating_point", self.operating_point,
                lambda style: "expected sensitivity:S or threshold:T with S, T in (0, 1), "
                              "e.g. sensitivity:0.9")
        return kind, number


def guard_heldout(
    source: Domain, labelled: Domain, heldout: Domain, *, dedupe: str = "keep",
    features: dict[str, np.ndarray] | None = None,
) -> tuple[Domain, dict[str, Any]]:
    """Check the held-out target for copies of source or labelled target cases (and of
    each other), warn in one line when there are any, and apply ``dedupe``.

    Parameters
    ----------
    source, labelled, heldout : Domain
        The source, the labelled target samples used for fitting, and the held-out target.
    dedupe : {"keep", "drop", "error"}
        ``keep`` scores every held-out case (the duplicates are recorded), ``drop`` scores
        only those not flagged (the first of a group of held-out duplicates stays),
        ``error`` refuses a held-out set with any duplicate.
    features : dict, optional
        The model's features of each role (keys: the role names), for the feature check.

    Returns
    -------
    (Domain, dict)
        The held-out cases to score and the manifest record of the check.
    """
    ValidationOptions(dedupe=dedupe).check()
    roles = {SOURCE_ROLE: source, LABELLED_ROLE: labelled, HELDOUT_ROLE: heldout}
    found = check_leakage(roles, features)
    record = {**found.to_dict(), "dedupe": dedupe, "dropped": 0, "summary": found.summary()}
    n_flagged = int(found.flagged.size)
    if not n_flagged:
        return heldout, record
    message = (f"LEAKAGE: {n_flagged} of {len(heldout)} held-out target cases are duplicates "
               f"({'; '.join(found.summary())})")
    if dedupe == "error":
        raise DataError(f"{message}; their scores would be training scores: pass --dedupe "
                        "drop to score without them, or --dedupe keep to keep and report them")
    if dedupe == "drop":
        kept = np.setdiff1d(np.arange(len(heldout)), found.flagged)
        record["dropped"] = n_flagged
        warnings.warn(f"{message}; dropped from scoring (--dedupe drop)", stacklevel=2)
        return heldout.subset(kept), record
    warnings.warn(f"{message}; the held-out scores are optimistic: use --dedupe drop",
                  stacklevel=2)
    return heldout, record


def positive_scores(predictions: pd.DataFrame, class_names: list[str]) -> dict[str, np.ndarray]:
    """Each model's predicted probability of the positive (second) class, in case order."""
    column = f"p_{class_names[1]}"
    return {str(name): block[column].to_numpy(dtype=float)
            for name, block in predictions.groupby("model", sort=False)}


def choose_threshold(options: ValidationOptions, y_labelled: np.ndarray,
                     p_labelled: np.ndarray) -> dict[str, Any]:
    """The decision threshold chosen on the labelled target cases, and how it was chosen."""
    kind, value = options.rule()
    if kind == "threshold":
        return {"rule": f"fixed threshold {value}", "threshold": value}
    if not np.any(y_labelled == 1):
        return {"rule": f"no labelled positive target case to reach sensitivity {value} on: "
                        f"the default threshold {DEFAULT_THRESHOLD}",
                "threshold": DEFAULT_THRESHOLD}
    threshold = threshold_for_sensitivity(y_labelled, p_labelled, value)
    return {"rule": f"highest threshold with sensitivity ≥ {value} on the "
                    f"{len(y_labelled)} labelled target cases", "threshold": threshold}


def validation_block(
    chosen: str, class_names: list[str], y_heldout: np.ndarray, scores: dict[str, np.ndarray],
    labelled: tuple[np.ndarray, np.ndarray], options: ValidationOptions, *,
    n_resamples: int, random_state: int,
) -> dict[str, Any] | None:
    """Calibration, operating point and sample size of a binary run (None otherwise).

    ``y_heldout`` are the held-out outcomes (codes, -1 unknown), ``scores`` each model's
    positive-class probability on the same cases and ``labelled`` the labelled target
    cases' outcomes and the chosen model's probabilities on them.
    """
    known = labelled_rows(y_heldout)
    y = y_heldout[known]
    if len(class_names) != 2 or np.unique(y).size < 2:
        return None
    kwargs = {"n_resamples": n_resamples, "random_state": random_state}
    point = choose_threshold(options, *labelled)
    p_chosen = scores[chosen][known]
    return {
        "positive_class": class_names[1],
        "calibration": {name: calibration_study(y, p[known], **kwargs)
                        for name, p in scores.items()},
        "operating_point": {**point, "prevalence": options.prevalence, "heldout": operating_point(
            y, p_chosen, point["threshold"], prevalence=options.prevalence, **kwargs)},
        "sample_size": sample_size_adequacy(y, p_chosen, binary_auroc(y, p_chosen)),
    }


def subgroup_aurocs(block: pd.DataFrame, positive: str) -> dict[str, float]:
    """AUROC of one model in each subgroup of at least ``MIN_CLASS_CASES`` cases of each
    class (``subgroup_<attribute>`` columns of its predictions)."""
    found = {}
    y = (block["label"] == positive).to_numpy(dtype=int)
    known = (block["label"] != "").to_numpy()
    for column in [c for c in block.columns if str(c).startswith("subgroup_")]:
        values = block[column].to_numpy(dtype=object)
        for value in pd.unique(values[known]):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            rows = known & (values == value)
            if min(y[rows].sum(), (1 - y[rows]).sum()) >= MIN_CLASS_CASES:
                name = f"{column.removeprefix('subgroup_')}={value}"
                found[name] = binary_auroc(y[rows], block[f"p_{positive}"].to_numpy()[rows])
    return found


def plan_record(plan: dict, manifest: dict, predictions: pd.DataFrame, *,
                class_names: list[str], labelled_ids: list[str],
                recalibrate: str | None) -> dict[str, Any]:
    """The run checked against ``plan``: refused when the held-out set is too small."""
    block = predictions[predictions["model"] == manifest.get("method")]
    positive = class_names[1] if len(class_names) == 2 else None
    labels = block["label"].astype(str)
    n_pos = int((labels == positive).sum())
    check_heldout_size(plan, n_pos, int(((labels != "") & (labels != positive)).sum()))
    groups = subgroup_aurocs(block, positive) if positive else {}
    return check_plan(plan, {**manifest, "recalibrate": recalibrate},
                      labelled_ids=labelled_ids, subgroup_auroc=groups)


def heldout_target(target: Domain, labelled_ids: list[str]) -> Domain:
    """Target samples not used as labelled training data (all of them when unlabelled)."""
    used = np.isin(target.ids.astype(str), labelled_ids)
    return target.subset(np.flatnonzero(~used), name=f"{target.name} (held out)")


def guard_run_heldout(
    source: Domain, target: Domain, labelled_ids: list[str],
    features: tuple[np.ndarray, np.ndarray], dedupe: str,
) -> tuple[Domain, dict[str, Any]]:
    """A run's held-out target after the leakage guard, and the guard's record; ``features``
    are the model's features of ``source`` and ``target``."""
    used = np.isin(target.ids.astype(str), labelled_ids)
    labelled, heldout = target.subset(np.flatnonzero(used)), heldout_target(target, labelled_ids)
    roles = {SOURCE_ROLE: features[0], LABELLED_ROLE: features[1][used],
             HELDOUT_ROLE: features[1][~used]}
    return guard_heldout(source, labelled, heldout, dedupe=dedupe, features=roles)


def run_validation(
    chosen: str, class_names: list[str], predictions: pd.DataFrame,
    labelled: pd.DataFrame | None, options: ValidationOptions, *, n_resamples: int,
    random_state: int,
) -> dict[str, Any] | None:
    """The external-validation record of a binary run from its held-out ``predictions`` and
    the chosen model's predictions on the ``labelled`` target cases (see
    :func:`validation_block`); None for other runs."""
    if len(class_names) != 2:
        return None
    codes = {name: i for i, name in enumerate(class_names)}

    def outcomes(frame: pd.DataFrame) -> np.ndarray:
        return frame["label"].map(lambda v: codes.get(v, -1)).to_numpy(dtype=int)

    y = outcomes(predictions[predictions["model"] == chosen])
    y_lab, p_lab = np.zeros(0, dtype=int), np.zeros(0)
    if labelled is not None:
        y_lab, p_lab = outcomes(labelled), labelled[f"p_{class_names[1]}"].to_numpy(dtype=float)
    return validation_block(
        chosen, class_names, y, positive_scores(predictions, class_names),
        (y_lab[labelled_rows(y_lab)], p_lab[labelled_rows(y_lab)]), options,
        n_resamples=n_resamples, random_state=random_state)
