"""Federated transfer on the four heart-disease hospitals (leave one hospital out).

For each target hospital the three others are the training sites. Rows: the federated head
(FedAvg over the sites, through the same Site/coordinator code the Flower apps run) after
no adaptation, site standardisation or CORAL fitted from site statistics only; the
centralised pooled model; the local-only models of each source site (mean and best); the
pooled transfer methods (site standardisation, CORAL) with scikit-learn's logistic head.
Every column is the AUROC on all target rows (k = 0 target labels). Also the largest
difference between the statistics-only and the pooled adapters' mapped rows.

With ``--flower`` (needs ``pip install 'medtransfer[fl]'``) the federated rows run as four
Flower SuperNodes in a local simulation (:func:`medtransfer.federated.flower.simulate`), and
each is checked against the same protocol run in process (largest weight difference).

    PYTHONPATH=src nice -n 10 python benchmarks/federated_heart.py [--flower] [out.json]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt.alignment import AlignedEstimator
from medtransfer.adapt.harmonize import SiteStandardized
from medtransfer.adapt.skada_adapters import CORALAdapter
from medtransfer.datasets import heart_disease
from medtransfer.federated.coordinator import run_protocol
from medtransfer.federated.site import Site, build_adapter

SITES = ("Cleveland", "Hungary", "Switzerland", "VA Long Beach")
CONFIG = {"rounds": 30, "local_epochs": 5, "learning_rate": 0.5, "proximal_mu": 0.0}


def in_process(sites):
    return lambda kind, request, names: {n: sites[n].answer(kind, request) for n in names}


def _encoded(sites, plan):
    model = build_adapter({**plan, "method": "coral"})
    from medtransfer.features import TabularEncoder
    encoder = TabularEncoder.from_dict(plan["encoder"])
    names = [str(n) for n in encoder.get_feature_names_out()]
    keep = [names.index(f) for f in model.features_]
    return {n: (encoder.transform(s.domain.inputs)[:, keep], s.domain.labels)
            for n, s in sites.items()}


def one_target(target: str, audit: Path, flower: bool = False) -> dict:
    sites = {s: Site(heart_disease(s), audit / f"{target}-{s}.jsonl") for s in SITES}
    row, plan = {}, None
    for method in ("none", "site_standardize", "coral"):
        config = {**CONFIG, "method": method}
        result = run_protocol(in_process(sites), list(SITES), target, config)
        if flower:
            from medtransfer.federated.flower import simulate

            simulated = simulate([sites[s].domain for s in SITES], target,
                                 audit / f"flower-{target}-{method}", config)
            row[f"max |flower - in-process| weights {method}"] = float(np.abs(
                np.asarray(simulated["weights"]) - np.asarray(result["weights"])).max())
            result = simulated
        plan = result["plan"]
        Z, y, _ = sites[target].adapted_rows(plan)
        w = np.asarray(result["weights"])
        row[f"federated {method}"] = roc_auc_score(y, Z @ w[:-1] + w[-1])
    data = _encoded(sites, plan)
    sources = [s for s in SITES if s != target]
    Xt, yt = data[target]
    head = LogisticRegression(max_iter=5000)
    pooled = make_pipeline(StandardScaler(), head).fit(
        np.vstack([data[s][0] for s in sources]), np.concatenate([data[s][1] for s in sources]))
    row["centralised pooled"] = roc_auc_score(yt, pooled.predict_proba(Xt)[:, 1])
    local = [roc_auc_score(yt, make_pipeline(StandardScaler(), head).fit(*data[s])
                           .predict_proba(Xt)[:, 1]) for s in sources]
    row["local-only mean"], row["local-only best"] = float(np.mean(local)), float(max(local))
    X = np.vstack([data[s][0] for s in sources] + [Xt])
    codes = np.concatenate([np.full(len(data[s][1]), i + 1) for i, s in enumerate(sources)]
                           + [np.full(len(yt), -1)])
    y = np.where(codes < 0, -1, np.concatenate([data[s][1] for s in sources] + [yt]))
    for name, model in (("pooled site_standardize", SiteStandardized(head)),
                        ("pooled coral", AlignedEstimator(head, CORALAdapter(reg="auto")))):
        model.fit(X, y, sample_domain=codes)
        row[name] = roc_auc_score(yt, model.predict_proba(Xt)[:, 1])
        method = name.split()[1]
        federated = build_adapter({**plan, "method": method})
        row[f"max |stats-only - pooled| {method}"] = float(np.abs(
            federated.transform_domains(X, codes) - model.transform_domains(X, codes)).max())
    return row


def main() -> None:
    args = sys.argv[1:]
    flower = "--flower" in args
    paths = [a for a in args if a != "--flower"]
    out = Path(paths[0]) if paths else Path("federated_heart.json")
    with tempfile.TemporaryDirectory() as audit:
        table = {t: one_target(t, Path(audit), flower) for t in SITES}
    columns = list(next(iter(table.values())))
    print(f"{'target AUROC':<34}" + "".join(f"{t[:13]:>14}" for t in SITES))
    for col in columns:
        fmt = "{:>14.2e}" if col.startswith("max") else "{:>14.3f}"
        print(f"{col:<34}" + "".join(fmt.format(table[t][col]) for t in SITES))
    out.write_text(json.dumps(table, indent=2))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
