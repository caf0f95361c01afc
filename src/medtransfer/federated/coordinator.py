"""The coordinator's protocol, independent of the transport: schema round, statistics
round, federated averaging of the head, federated external validation, and optionally the
correction rounds of :mod:`medtransfer.federated.corrections` (label shift, recalibration).

``ask(kind, request, sites)`` sends one request to the named sites and returns their
replies by site; :mod:`medtransfer.federated.flower` implements it with Flower messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from medtransfer.federated.corrections import (
    check_corrections,
    label_shift_round,
    platt_round,
)
from medtransfer.federated.logistic import weighted_average
from medtransfer.federated.schema import encoder_from_schemas
from medtransfer.federated.site import build_adapter
from medtransfer.federated.validation import combine_auroc

Ask = Callable[[str, dict, list[str]], dict[str, dict]]


def run_protocol(ask: Ask, sites: list[str], target: str, config: dict[str, Any]) -> dict:
    """Train on every site but ``target``, validate on ``target`` (and on the sources).

    ``config``: method, rounds, local_epochs, learning_rate, proximal_mu; optionally
    label_shift ("none", "bbse", "em"), recalibrate ("none", "platt"), holdout (the share
    of source rows held out from training for label shift, default 0.5) and seed.
    """
    holdout = check_corrections(config)
    sources = [s for s in sites if s != target]
    schemas = ask("schema", {}, sites)
    encoder = encoder_from_schemas([schemas[s] for s in sites]).to_dict()
    statistics = ask("statistics", {"encoder": encoder}, sites)
    plan = {**config, "holdout": holdout, "encoder": encoder, "sources": sources,
            "target": target, "statistics": [statistics[s] for s in sites]}
    width = len(build_adapter(plan).features_) + 1
    weights = np.zeros(width)
    for _ in range(config["rounds"]):
        replies = ask("train", {"weights": weights.tolist(), "plan": plan}, sources)
        weights = weighted_average([(np.asarray(r["weights"]), r["n"]) for r in replies.values()])
    pieces = ask("evaluate", {"weights": weights.tolist(), "plan": plan}, sites)
    validation = combine_auroc({s: pieces[s] for s in sources})
    result = {"target": target, "sources": sources, "method": config["method"],
              "target_auroc": combine_auroc({target: pieces[target]})["sites"][target],
              "source_validation": validation, "weights": weights.tolist(),
              "features": build_adapter(plan).features_, "plan": dict(plan)}
    request = {"weights": weights.tolist(), "plan": plan}
    if config.get("label_shift", "none") != "none":
        result["label_shift"] = label_shift_round(ask, request, sources, target,
                                                  config["label_shift"])
    if config.get("recalibrate", "none") == "platt":
        result["recalibration"] = platt_round(ask, request, [target], "all")
    return result
