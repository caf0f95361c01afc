"""One site's side of the federation: it answers the coordinator's requests from its own
rows and logs every reply to its audit file before it leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medtransfer.data import Domain
from medtransfer.errors import ConfigError
from medtransfer.features import TabularEncoder
from medtransfer.federated import adapters
from medtransfer.federated.audit import AuditLog
from medtransfer.federated.logistic import local_update
from medtransfer.federated.moments import combine
from medtransfer.federated.site_files import site_release
from medtransfer.federated.site_stats import SiteStatistics
from medtransfer.federated.validation import site_auroc_pieces

ADAPTERS = {
    "coral": adapters.coral_from_statistics,
    "site_standardize": adapters.site_standardized_from_statistics,
    "combat": adapters.combat_from_statistics,
}
METHODS = ("none", *ADAPTERS)


def build_adapter(plan: dict[str, Any]):
    """The adapter every site builds alike from the broadcast statistics (``none``: the
    pooled source standardisation, as site standardisation's source-only twin)."""
    method = plan["method"]
    if method not in METHODS:
        raise ConfigError(f"federated method {method!r} is unknown; use one of {METHODS}")
    stats = {s["site"]: SiteStatistics.from_dict(s) for s in plan["statistics"]}
    sources = [stats[name] for name in plan["sources"]]
    target = stats[plan["target"]]
    if method == "none":
        model = adapters.site_standardized_from_statistics(
            [_pooled_as_one(sources)], _pooled_as_one(sources), None)
    else:
        model = ADAPTERS[method](sources, target, None)
    return adapters.with_head(model, np.zeros(len(model.features_)), [0.0], [0, 1])


def _pooled_as_one(sites: list[SiteStatistics]) -> SiteStatistics:
    features = adapters.shared_features(sites)
    merged = combine([adapters.moments_over(s, features) for s in sites])
    return SiteStatistics("sources", features, sites[0].classes, merged, {}, {},
                          encoder=sites[0].encoder)


class Site:
    """A site: its rows (which never leave), its audit log, its answers.

    Parameters
    ----------
    domain : Domain
        The site's labelled table.
    audit_path : Path
        Where every outgoing message is logged.
    min_cell : int, default=10
    """

    def __init__(self, domain: Domain, audit_path: Path, min_cell: int = 10) -> None:
        self.domain, self.min_cell = domain, min_cell
        self.audit = AuditLog(audit_path)

    @property
    def name(self) -> str:
        """The site's name."""
        return self.domain.name

    def schema(self) -> dict:
        """Round 1: the column schema."""
        return self._send("schema", site_release(self.domain, None, min_cell=self.min_cell))

    def statistics(self, encoder: dict) -> dict:
        """Round 2: moments of the rows under the shared encoder."""
        release = site_release(self.domain, TabularEncoder.from_dict(encoder),
                               min_cell=self.min_cell)
        return self._send("statistics", release)

    def adapted_rows(self, plan: dict) -> tuple[np.ndarray, np.ndarray, Any]:
        """This site's rows as the head sees them (kept here), labels, the adapter."""
        model = build_adapter(plan)
        encoder = TabularEncoder.from_dict(plan["encoder"])
        names = [str(n) for n in encoder.get_feature_names_out()]
        X = encoder.transform(self.domain.inputs)[:, [names.index(f) for f in model.features_]]
        code = plan["sources"].index(self.name) + 1 if self.name in plan["sources"] else -1
        if plan["method"] == "none":
            code = 1
        return model.transform_domains(X, np.full(len(X), code)), self.domain.labels, model

    def train(self, weights: list[float], plan: dict) -> dict:
        """One FedAvg/FedProx round: local steps from the global weights."""
        Z, y, _ = self.adapted_rows(plan)
        new = local_update(np.asarray(weights), Z, y, epochs=plan["local_epochs"],
                           learning_rate=plan["learning_rate"],
                           proximal_mu=plan["proximal_mu"])
        return self._send("train", {"site": self.name, "weights": new.tolist(),
                                    "n": len(y)})

    def evaluate(self, weights: list[float], plan: dict) -> dict:
        """External validation of the global model on this site's rows."""
        Z, y, _ = self.adapted_rows(plan)
        w = np.asarray(weights)
        score = Z @ w[:-1] + w[-1]
        pieces = site_auroc_pieces(y, score, self.min_cell)
        return self._send("evaluate", {"site": self.name, **pieces})

    def _send(self, kind: str, payload: dict) -> dict:
        self.audit.record(kind, payload)
        return payload
