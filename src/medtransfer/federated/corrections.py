"""The coordinator's correction rounds after the head is trained: label-shift correction of
the target and Platt recalibration, each from the sites' released counts and sums.

Label shift follows :class:`medtransfer.adapt.label_shift.LabelShiftCorrector`'s steps: the
head's scores are calibrated on the sources' held-out rows (there a penalised logistic fit
on the log-probabilities, here unpenalised Platt on the logit, by federated Newton), the
sources release the calibrated model's confusion counts on those rows, the target its
predicted-class histogram (and, for EM, one re-weighted mean per round). Recalibration fits
Platt on the target's labelled rows. Every request goes through ``ask``, so every reply is
in a site's audit log.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.label_shift import LabelShiftCorrector
from medtransfer.errors import ConfigError
from medtransfer.evaluate.calibration import Recalibrator
from medtransfer.federated.adapters import with_head
from medtransfer.federated.label_shift import (
    label_shift_corrector,
    pooled_em_round,
    target_prior_from_statistics,
)
from medtransfer.federated.recalibration import fit_platt, platt_recalibrator
from medtransfer.federated.site import build_adapter

LABEL_SHIFT = ("none", "bbse", "em")
RECALIBRATE = ("none", "platt")
DEFAULT_HOLDOUT = 0.5


def check_corrections(config: dict[str, Any]) -> float:
    """Refuse unknown correction settings; the share of source rows to hold out."""
    label_shift = config.get("label_shift", "none")
    if label_shift not in LABEL_SHIFT:
        raise ConfigError(f"label_shift={label_shift!r} (--label-shift) is unknown; use one "
                          f"of {LABEL_SHIFT}")
    recalibrate = config.get("recalibrate", "none")
    if recalibrate not in RECALIBRATE:
        raise ConfigError(f"recalibrate={recalibrate!r} (--recalibrate) is unknown; use one "
                          f"of {RECALIBRATE}")
    holdout = config.get("holdout", DEFAULT_HOLDOUT if label_shift != "none" else 0.0)
    if label_shift != "none" and not 0.0 < holdout < 1.0:
        raise ConfigError(f"holdout={holdout} (--holdout) cannot give label shift held-out "
                          "source rows; use a share in (0, 1) such as 0.5")
    return holdout


def platt_round(ask, request: dict, sites: list[str], rows: str) -> dict:
    """Platt recalibration of the head's scores on ``sites``' rows (``"all"`` or
    ``"heldout"``) by federated Newton."""
    def one(params: list[float]) -> list[dict]:
        return list(ask("platt", {**request, "params": params, "rows": rows}, sites).values())

    return fit_platt(one)


def label_shift_round(ask, request: dict, sources: list[str], target: str, method: str) -> dict:
    """The target prior from the sites' releases, as plain data (see the module text)."""
    calibration = platt_round(ask, request, sources, "heldout")
    request = {**request, "calibration": [calibration["a"], calibration["b"]]}
    confusion = ask("confusion", request, sources)
    predictions = ask("predictions", request, [target])

    def em_round(ratio: np.ndarray) -> np.ndarray:
        return pooled_em_round(list(ask("em", {**request, "ratio": ratio.tolist()},
                                        [target]).values()))

    stats = target_prior_from_statistics([confusion[s] for s in sources],
                                         [predictions[target]],
                                         em_round if method == "em" else None,
                                         calibrated_on=calibration["sites"])
    return {"method": method, "target_prior": stats["estimates"][method].tolist(),
            "source_prior": stats["source_prior"].tolist(),
            "estimates": {k: v.tolist() for k, v in stats["estimates"].items()},
            "confusion": stats["confusion"].tolist(), "columns": stats["columns"],
            "left_out": stats["left_out"], "calibration": calibration}


def head_model(result: dict):
    """The federated model (adapter and head) of a :func:`run_protocol` result; it predicts
    on the target's encoded rows restricted to ``result["features"]``."""
    w = np.asarray(result["weights"])
    # the unfitted template of its head, as a pooled fit has (predict_proba looks at it)
    model = build_adapter(result["plan"]).set_params(estimator=LogisticRegression())
    return with_head(model, w[:-1], [w[-1]], [0, 1])


def label_shift_model(result: dict) -> LabelShiftCorrector:
    """The head, Platt-calibrated and re-weighted to the target prior estimated from the
    sites' statistics (a fitted :class:`LabelShiftCorrector`)."""
    found = result.get("label_shift")
    if found is None:
        raise ConfigError("this federated result has no label-shift estimate; run it with "
                          "label_shift='bbse' or 'em' (--label-shift)")
    platt = (found["calibration"]["a"], found["calibration"]["b"])
    return label_shift_corrector(head_model(result), found, found["method"], platt)


def recalibration_model(result: dict) -> Recalibrator:
    """The target's Platt recalibration of the head's probabilities (a fitted
    :class:`Recalibrator`)."""
    found = result.get("recalibration")
    if found is None:
        raise ConfigError("this federated result has no recalibration; run it with "
                          "recalibrate='platt' (--recalibrate platt)")
    return platt_recalibrator(found["a"], found["b"])
