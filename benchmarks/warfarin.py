"""Warfarin dose transfer benchmark: from 17 IWPC sites to the East-Asian sites 3, 4, 8, 18.

Source: every site except 3, 4, 8, 18 and 13 (a selected low-dose sample). Target: sites 3,
4, 8 and 18, patients with age, height and weight (where the IWPC formulas apply). For each
seed, k target patients are labelled and the rest are the test set (their features, never
their doses, are seen in fitting as unlabelled target rows). Every registered regression
method is fitted on sqrt(dose) and scored by PW20 and MAE (mg/week) beside the IWPC formulas.

``auto`` is fitted once per split with ``point="pw20"``: the row ``auto`` scores the chosen
method's plain predictions, ``auto+pw20`` the same predictions after the PW20 decision
(medtransfer.models.tolerance), tuned on auto's out-of-fold predictions of the k labelled
patients. ``NAME+pw20`` rows (``--pw20 NAME ...``) wrap a method in a PW20Regressor, whose
decision is tuned by 5-fold refits over the k labelled patients.

    python benchmarks/warfarin.py --seeds 10 --k 0 20 100 --out warfarin.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import medtransfer.adapt
from medtransfer.adapt.base import METHODS
from medtransfer.datasets.warfarin import warfarin
from medtransfer.errors import MedTransferError
from medtransfer.evaluate.dosing import mae, pw20
from medtransfer.features.tabular import TabularEncoder
from medtransfer.models.classifiers import make_classifier
from medtransfer.models.dosing import IWPCClinical, IWPCPharmacogenetic, SqrtDoseRegressor
from medtransfer.models.tolerance import PW20Regressor
from medtransfer.select.auto import AutoTransfer

TARGET_SITES, EXCLUDED_SITES = (3, 4, 8, 18), (13,)
SOURCE_NAME, TARGET_NAME = "IWPC sites except 3,4,8,18,13", "IWPC sites 3,4,8,18"
FORMULAS = {"iwpc_pharmacogenetic": IWPCPharmacogenetic(), "iwpc_clinical": IWPCClinical()}


def load_method_modules() -> list[str]:
    """Import every medtransfer.adapt module so that all methods are registered."""
    failed = []
    for info in pkgutil.iter_modules(medtransfer.adapt.__path__):
        try:
            importlib.import_module(f"medtransfer.adapt.{info.name}")
        except Exception as error:  # another module's bug must not stop the benchmark
            failed.append(f"{info.name}: {error}")
    return failed


def split_domains():
    """(source Domain, target Domain restricted to patients the formulas apply to)."""
    data = warfarin()
    site = data.metadata["site"].to_numpy()
    source = data.subset(np.flatnonzero(~np.isin(site, TARGET_SITES + EXCLUDED_SITES)))
    target = data.subset(np.flatnonzero(np.isin(site, TARGET_SITES)))
    complete = target.inputs[["age_decades", "height_cm", "weight_kg"]].notna().all(axis=1)
    return source, target.subset(np.flatnonzero(complete.to_numpy()))


def regression_methods(names: list[str] | None) -> list[str]:
    """Registered methods that support regression (optionally only ``names``)."""
    known = [name for name, m in METHODS.items() if "regression" in m.tasks]
    return [n for n in known if names is None or n in names]


def score(method: str, k: int, seed: int, y: np.ndarray, pred: np.ndarray,
          **extra) -> list[dict]:
    base = {"suite": "warfarin", "source": SOURCE_NAME, "target": TARGET_NAME,
            "k": k, "seed": seed, "method": method, **extra}
    window = np.abs(pred - y)  # PW15 / PW25: is a PW20 gain confined to the ±20% threshold?
    return [{**base, "metric": "pw20", "value": pw20(y, pred)},
            {**base, "metric": "mae", "value": mae(y, pred)},
            {**base, "metric": "pw15", "value": float(np.mean(window <= 0.15 * y))},
            {**base, "metric": "pw25", "value": float(np.mean(window <= 0.25 * y))}]


def run_split(args, encoded, source, target, k: int, seed: int, timings: dict) -> list[dict]:
    """All methods for one (k, seed): label k target patients, test on the rest."""
    order = np.random.default_rng(seed).permutation(len(target))
    labelled, test = order[:k], order[k:]
    y_test = target.labels[test]
    records = []
    for name, formula in FORMULAS.items():
        records += score(name, k, seed, y_test, formula.predict(target.inputs.iloc[test]))
    Xs, Xt = encoded
    X = np.vstack([Xs, Xt[labelled], Xt[test]])
    y = np.concatenate([source.labels, target.labels[labelled], np.full(len(test), np.nan)])
    domain = np.concatenate([np.ones(len(Xs)), -2 * np.ones(len(Xt))]).astype(int)
    for name, model in models(args, k, seed).items():
        start = time.perf_counter()
        try:
            model.fit(X, y, sample_domain=domain)
            pred = model.predict(Xt[test])
        except Exception as error:  # report and go on: one method must not sink the table
            print(f"  {name} (k={k}, seed={seed}) failed: {type(error).__name__}: {error}",
                  file=sys.stderr)
            continue
        timings.setdefault(name, []).append(time.perf_counter() - start)
        if name != "auto":
            records += score(name, k, seed, y_test, pred)
            continue
        auto = model.regressor_
        plain = np.clip(auto.estimator_.predict(Xt[test]), 0, None) ** 2
        records += score("auto", k, seed, y_test, plain, choice=auto.choice_)
        records += score("auto+pw20", k, seed, y_test, pred, choice=auto.choice_,
                         bandwidth=getattr(auto.decision_, "bandwidth_", 0.0))
    return records


def models(args, k: int, seed: int) -> dict:
    """Every model of one split, each predicting weekly doses (fitted on sqrt(dose))."""
    out = {}
    for name in regression_methods(args.methods):
        method = METHODS.get(name)
        if method.needs_target_labels and k == 0:
            continue
        estimator = make_classifier(args.estimator, "regression", seed)
        if name == "auto":
            inner = AutoTransfer(estimator, point="pw20", target_transform="sqrt",
                                 random_state=seed)
        else:
            inner = method.build(estimator, seed)
        out[name] = SqrtDoseRegressor(inner)
        if name in args.pw20 and k >= 10:
            out[f"{name}+pw20"] = SqrtDoseRegressor(
                PW20Regressor(method.build(estimator, seed), transform="sqrt",
                              random_state=seed))
    return out


def markdown_table(records: list[dict]) -> str:
    """Methods by k, mean ± sd over seeds of PW20 and MAE."""
    frame = pd.DataFrame.from_records(records)
    stats = frame.groupby(["method", "k", "metric"])["value"].agg(["mean", "std"]).reset_index()
    ks = sorted(frame["k"].unique())
    header = "| method | " + " | ".join(f"PW20 k={k} | MAE k={k}" for k in ks) + " |"
    lines = [header, "|---" * (1 + 2 * len(ks)) + "|"]
    best = stats[stats.metric == "pw20"].sort_values("mean", ascending=False)
    for method in dict.fromkeys(best.sort_values("k", ascending=False)["method"]):
        cells = []
        for k in ks:
            for metric, fmt in (("pw20", "{:.3f} ± {:.3f}"), ("mae", "{:.2f} ± {:.2f}")):
                row = stats[(stats.method == method) & (stats.k == k) & (stats.metric == metric)]
                cells.append(fmt.format(row["mean"].iloc[0], row["std"].fillna(0).iloc[0])
                             if len(row) else "—")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (0..n-1)")
    parser.add_argument("--k", type=int, nargs="+", default=[0, 20, 100],
                        help="labelled target patients")
    parser.add_argument("--estimator", default="logreg",
                        help="final regressor from the classifier registry (logreg = ridge)")
    parser.add_argument("--methods", nargs="+", default=None, help="only these methods")
    parser.add_argument("--pw20", nargs="*", default=["pooled", "transfer_ridge"],
                        help="also score these methods through a PW20Regressor (k ≥ 10)")
    parser.add_argument("--out", type=Path, default=Path("warfarin.json"), help="JSON records")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for failure in load_method_modules():
        print(f"could not import medtransfer.adapt.{failure}", file=sys.stderr)
    source, target = split_domains()
    frames = pd.concat([source.inputs, target.inputs], ignore_index=True)
    domain = np.r_[np.ones(len(source)), -2 * np.ones(len(target))].astype(int)
    encoder = TabularEncoder().fit(frames, sample_domain=domain)  # features only, no doses
    encoded = (encoder.transform(source.inputs), encoder.transform(target.inputs))
    print(f"source {len(source)} patients, target {len(target)}; "
          f"{encoded[0].shape[1]} encoded features; methods: {regression_methods(args.methods)}")
    records, timings = [], {}
    for k in args.k:
        for seed in range(args.seeds):
            records += run_split(args, encoded, source, target, k, seed, timings)
    args.out.write_text(json.dumps(records, indent=1))
    print(markdown_table(records))
    frame = pd.DataFrame.from_records(records)
    k_max = frame["k"].max()
    side = frame[(frame.k == k_max) & frame.metric.isin(["pw15", "pw20", "pw25"])]
    print(f"\nwindow sensitivity at k={k_max} (mean over seeds):")
    print(side.pivot_table(index="method", columns="metric", values="value").round(3)
          .sort_values("pw20", ascending=False).to_string())
    choices = pd.DataFrame([r for r in records if r["method"] == "auto" and r["metric"] == "pw20"])
    if len(choices):
        print("\nauto's choices: " + "; ".join(
            f"k={k}: " + ", ".join(f"{c} x{n}" for c, n in group["choice"].value_counts().items())
            for k, group in choices.groupby("k")))
    print("\nmean fit+predict seconds: " + ", ".join(
        f"{n} {np.mean(t):.2f}" for n, t in sorted(timings.items())))
    print(f"{len(records)} records written to {args.out}")


if __name__ == "__main__":
    try:
        main()
    except MedTransferError as error:
        sys.exit(f"error: {error}")
