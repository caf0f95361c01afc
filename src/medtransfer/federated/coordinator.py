"""The coordinator's protocol, independent of the transport: schema round, statistics
round, federated averaging of the head, federated external validation.

``ask(kind, request, sites)`` sends one request to the named sites and returns their
replies by site; :mod:`medtransfer.federated.flower` implements it with Flower messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from medtransfer.federated.logistic import weighted_average
from medtransfer.federated.schema import encoder_from_schemas
from medtransfer.federated.validation import combine_auroc

Ask = Callable[[str, dict, list[str]], dict[str, dict]]


def run_protocol(ask: Ask, sites: list[str], target: str, config: dict[str, Any]) -> dict:
    """Train on every site but ``target``, validate on ``target`` (and on the sources).

    ``config``: method, rounds, local_epochs, learning_rate, proximal_mu.
    """
    sources = [s for s in sites if s != target]
    schemas = ask("schema", {}, sites)
    encoder = encoder_from_schemas([schemas[s] for s in sites]).to_dict()
    statistics = ask("statistics", {"encoder": encoder}, sites)
    plan = {**config, "encoder": encoder, "sources": sources, "target": target,
            "statistics": [statistics[s] for s in sites]}
    from medtransfer.federated.site import build_adapter

    width = len(build_adapter(plan).features_) + 1
    weights = np.zeros(width)
    for _ in range(config["rounds"]):
        replies = ask("train", {"weights": weights.tolist(), "plan": plan}, sources)
        weights = weighted_average([(np.asarray(r["weights"]), r["n"]) for r in replies.values()])
    pieces = ask("evaluate", {"weights": weights.tolist(), "plan": plan}, sites)
    validation = combine_auroc({s: pieces[s] for s in sources})
    return {"target": target, "sources": sources, "method": config["method"],
            "target_auroc": combine_auroc({target: pieces[target]})["sites"][target],
            "source_validation": validation, "weights": weights.tolist(),
            "features": build_adapter(plan).features_,
            "plan": {k: v for k, v in plan.items()}}
