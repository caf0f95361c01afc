"""One site's side of the federation: it answers the coordinator's requests from its own
rows and logs every reply to its audit file before it leaves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.model_selection import train_test_split

from medtransfer.data import Domain
from medtransfer.errors import ConfigError, DataError
from medtransfer.features import TabularEncoder
from medtransfer.federated import adapters
from medtransfer.federated.audit import AuditLog
from medtransfer.federated.label_shift import confusion_release, em_release, prediction_release
from medtransfer.federated.logistic import local_update
from medtransfer.federated.moments import combine
from medtransfer.federated.recalibration import platt_release
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

    def held_out(self, plan: dict) -> np.ndarray:
        """Indices of this site's rows held out from training the head: a source holds out
        ``plan["holdout"]`` of its rows (stratified, seeded by ``plan["seed"]``) for the
        confusion matrix of label-shift correction; the target and a zero holdout none."""
        rows = np.arange(len(self.domain))
        if not plan.get("holdout") or self.name not in plan["sources"]:
            return rows[:0]
        try:
            _, held = train_test_split(rows, test_size=plan["holdout"],
                                       stratify=self.domain.labels,
                                       random_state=plan.get("seed", 0))
        except ValueError as err:
            raise DataError(f"{self.name}: cannot hold out {plan['holdout']} of its "
                            f"{len(rows)} rows stratified by class ({err}); choose another "
                            "--holdout or leave the site out") from None
        return np.sort(held)

    def train(self, weights: list[float], plan: dict) -> dict:
        """One FedAvg/FedProx round: local steps from the global weights (held-out rows
        excluded)."""
        Z, y, _ = self.adapted_rows(plan)
        keep = np.setdiff1d(np.arange(len(y)), self.held_out(plan))
        new = local_update(np.asarray(weights), Z[keep], y[keep], epochs=plan["local_epochs"],
                           learning_rate=plan["learning_rate"],
                           proximal_mu=plan["proximal_mu"])
        return self._send("train", {"site": self.name, "weights": new.tolist(),
                                    "n": len(keep)})

    def evaluate(self, weights: list[float], plan: dict) -> dict:
        """External validation of the global model on this site's rows."""
        score, y = self._logits(weights, plan)
        pieces = site_auroc_pieces(y, score, self.min_cell)
        return self._send("evaluate", {"site": self.name, **pieces})

    def platt(self, request: dict) -> dict:
        """One Newton round of Platt recalibration on this site's rows (``request["rows"]``:
        ``"all"`` or ``"heldout"``) at ``request["params"]``."""
        score, y = self._logits(request["weights"], request["plan"], request["rows"])
        return self._send("platt", platt_release(score, y, request["params"], site=self.name,
                                                 min_cell=self.min_cell))

    def confusion(self, request: dict) -> dict:
        """Confusion counts of the calibrated model on this source's held-out rows."""
        proba, y = self._proba(request, "heldout")
        return self._send("confusion", confusion_release(
            y, np.argmax(proba, axis=1), proba.shape[1], site=self.name, min_cell=self.min_cell))

    def predictions(self, request: dict) -> dict:
        """How many of this site's rows the calibrated model predicts as each class."""
        proba, _ = self._proba(request, "all")
        return self._send("predictions", prediction_release(proba, site=self.name,
                                                            min_cell=self.min_cell))

    def em(self, request: dict) -> dict:
        """One EM round: the mean of this site's posteriors re-weighted by
        ``request["ratio"]``."""
        proba, _ = self._proba(request, "all")
        return self._send("em", em_release(proba, request["ratio"], site=self.name,
                                           min_cell=self.min_cell))

    def answer(self, kind: str, request: dict) -> dict:
        """The reply to one coordinator request of ``kind`` (logged before it leaves)."""
        calls = {
            "schema": lambda: self.schema(),
            "statistics": lambda: self.statistics(request["encoder"]),
            "train": lambda: self.train(request["weights"], request["plan"]),
            "evaluate": lambda: self.evaluate(request["weights"], request["plan"]),
            "platt": lambda: self.platt(request), "confusion": lambda: self.confusion(request),
            "predictions": lambda: self.predictions(request), "em": lambda: self.em(request),
        }
        if kind not in calls:
            raise ConfigError(f"a site got a request {kind!r}; it answers {sorted(calls)}")
        return calls[kind]()

    def _logits(self, weights: list[float], plan: dict,
                rows: str = "all") -> tuple[np.ndarray, np.ndarray]:
        Z, y, _ = self.adapted_rows(plan)
        if rows == "heldout":
            index = self.held_out(plan)
            Z, y = Z[index], y[index]
        w = np.asarray(weights)
        return Z @ w[:-1] + w[-1], y

    def _proba(self, request: dict, rows: str) -> tuple[np.ndarray, np.ndarray]:
        score, y = self._logits(request["weights"], request["plan"], rows)
        a, b = request["calibration"]
        p = expit(a * score + b)
        return np.column_stack([1.0 - p, p]), y

    def _send(self, kind: str, payload: dict) -> dict:
        self.audit.record(kind, payload)
        return payload


def two_class(domain: Domain, binary: bool) -> Domain:
    """The domain with two classes: as it is, or (``binary``) its first class against all
    the others (heart disease: ``num`` 0 against 1-4); anything else is one clear error."""
    names = domain.class_names or ()
    if binary and len(names) > 2:
        labels = (domain.labels > 0).astype(int)
        return replace(domain, labels=labels, class_names=(names[0], f"not {names[0]}"))
    if len(names) != 2:
        raise DataError(f"{domain.name}: federated training fits a binary head but the label "
                        f"has classes {list(names)}; pass --binary (positive = not "
                        f"{names[0] if names else '?'}) or a two-class label column")
    return domain
