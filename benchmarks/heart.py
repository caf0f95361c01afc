"""Heart-disease site transfer benchmark: every method, ``auto`` and skada's own pipelines.

The four UCI sites (Cleveland, Hungary, Switzerland, VA Long Beach) give 12 source -> target
pairs. For each pair, k in {0, 10, 40} and each seed, k target patients are labelled (drawn
stratified by class) and the rest of the target is the test set: its features are seen as
unlabelled target rows, its labels only by the final AUROC. Every registered method,
``auto``, and skada's CORAL and density-reweighting pipelines are scored by target AUROC.

One JSON file per (pair, k, seed) unit is written atomically under ``--out``, and units
already there are skipped, so several processes can share an output folder and an
interrupted run resumes.

    python benchmarks/heart.py --seeds 10 --out bench-out
    python benchmarks/heart.py --table-only --out bench-out      # the table from saved runs
    python benchmarks/heart.py --seeds 10 --rerun auto --out bench-out  # refit auto only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

import medtransfer.adapt  # noqa: F401  (registers every method)
from medtransfer.adapt.base import METHODS
from medtransfer.data.sampling import choose_labelled
from medtransfer.datasets.heart import heart_disease
from medtransfer.features.tabular import TabularEncoder
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.auto import AutoTransfer

SUITE = "heart"
SITES = ("Cleveland", "Hungary", "Switzerland", "VA Long Beach")
BASELINES = ("source_only", "target_only", "pooled")
# Single fits above ~0.5 s on these tables; auto would spend most of its time on them.
SLOW = ("jda", "tca", "tradaboost", "mapping_network", "adaptive_svm")


class SkadaPipeline(BaseEstimator):
    """skada's own ``make_da_pipeline(StandardScaler(), adapter, LogisticRegression())``.

    skada needs metadata routing, which medtransfer keeps off; it is switched on around
    each call only.
    """

    def __init__(self, adapter: str = "coral") -> None:
        self.adapter = adapter

    def fit(self, X, y, *, sample_domain):
        from skada import CORALAdapter, DensityReweightAdapter, make_da_pipeline

        adapter = {"coral": CORALAdapter, "density": DensityReweightAdapter}[self.adapter]()
        with config_context(enable_metadata_routing=True):
            final = LogisticRegression(max_iter=2000).set_fit_request(sample_weight=True)
            self.pipeline_ = make_da_pipeline(StandardScaler(), adapter, final)
            self.pipeline_.fit(X, y, sample_domain=sample_domain)
        self.classes_ = np.unique(np.asarray(y)[np.asarray(y) != -1])
        return self

    def predict_proba(self, X):
        with config_context(enable_metadata_routing=True):
            return self.pipeline_.predict_proba(X)


def encode_pair(source: str, target: str):
    """Stacked encoded features, source labels, target Domain and sample_domain."""
    src, tgt = heart_disease(source), heart_disease(target)
    frame = pd.concat([src.inputs, tgt.inputs], ignore_index=True)
    sample_domain = np.r_[np.ones(len(src)), -2 * np.ones(len(tgt))].astype(int)
    # Fitted on features only (no label): medians, categories and site-missing columns.
    encoder = TabularEncoder(zero_as_missing=("chol",)).fit(frame, sample_domain=sample_domain)
    return encoder.transform(frame), src.labels, tgt, sample_domain


def methods_for(k: int, seed: int, auto_repeats: int, auto_exclude: tuple[str, ...]) -> dict:
    """Every registered method that runs at this k, ``auto`` and the skada pipelines."""
    estimator = make_classifier("logreg", "classification", seed)
    names = [n for n, m in METHODS.items() if n != "auto" and "classification" in m.tasks
             and not (m.needs_target_labels and k == 0)]
    methods = {n: METHODS.get(n).build(estimator, seed) for n in names}
    candidates = [n for n in names if n not in auto_exclude]
    methods["auto"] = AutoTransfer(estimator, candidates, n_repeats=auto_repeats,
                                   random_state=seed)
    methods["skada_coral"] = SkadaPipeline("coral")
    methods["skada_density"] = SkadaPipeline("density")
    return methods


def run_unit(source, target, k, seed, args, only: tuple[str, ...] = ()) -> list[dict]:
    """Fit every method (or those in ``only``) on one (pair, k, seed); score on the test."""
    X, y_source, tgt, sample_domain = encode_pair(source, target)
    labelled = choose_labelled(tgt, k, random_state=seed)
    test = np.setdiff1d(np.arange(len(tgt)), labelled)
    y = np.r_[y_source, np.full(len(tgt), -1)]
    n_s = len(y_source)
    y[n_s + labelled] = tgt.labels[labelled]  # test labels are never put into y
    records = []
    for name, method in methods_for(k, seed, args.auto_repeats, tuple(args.auto_exclude)).items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        record = {"suite": SUITE, "source": source, "target": target, "k": k, "seed": seed,
                  "method": name, "metric": "auroc"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                method.fit(X, y, sample_domain=sample_domain)
                proba = method.predict_proba(X[n_s + test])[:, 1]
            record["value"] = float(roc_auc_score(tgt.labels[test], proba))
        except Exception as err:  # one broken method must not stop the benchmark
            record["value"], record["error"] = None, f"{type(err).__name__}: {err}"
        record["time_s"] = round(time.perf_counter() - start, 3)
        if name == "auto" and "error" not in record:
            record["choice"] = method.choice_
        records.append(record)
    return records


def unit_records(path: Path, source, target, k, seed, args) -> list[dict]:
    """A new unit, or a saved one with the methods named by ``--rerun`` fitted again."""
    if not args.rerun:
        return run_unit(source, target, k, seed, args)
    kept = [r for r in json.loads(path.read_text()) if r["method"] not in args.rerun]
    return kept + run_unit(source, target, k, seed, args, only=tuple(args.rerun))


def unit_path(out: Path, source, target, k, seed) -> Path:
    slug = f"{source}__{target}".replace(" ", "_")
    return out / SUITE / f"{slug}__k{k}__s{seed}.json"


def write_atomic(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(records, f, indent=1)
    os.replace(f.name, path)


def run(args) -> None:
    pairs = list(permutations(SITES, 2))
    for seed in range(args.seeds):  # seed-major: a partial run covers every pair evenly
        for source, target in pairs:
            for k in args.k:
                path = unit_path(args.out, source, target, k, seed)
                if path.exists() == (not args.rerun):
                    continue
                start = time.perf_counter()
                write_atomic(path, unit_records(path, source, target, k, seed, args))
                if not args.quiet:
                    print(f"{source} -> {target} k={k} seed={seed}: "
                          f"{time.perf_counter() - start:.1f}s", file=sys.stderr, flush=True)


def load_records(out: Path) -> pd.DataFrame:
    files = sorted((out / SUITE).glob("*.json"))
    return pd.DataFrame([r for f in files for r in json.loads(f.read_text())])


def markdown(frame: pd.DataFrame, tie: float = 0.005) -> str:
    """Mean AUROC per method and k, auto's wins/ties/losses, and auto vs the baselines."""
    ok = frame.dropna(subset=["value"])
    means = ok.pivot_table(index="method", columns="k", values="value", aggfunc="mean")
    wide = ok.pivot_table(index=["source", "target", "k", "seed"], columns="method",
                          values="value")
    lines = ["| method | " + " | ".join(f"k={k}" for k in means.columns)
             + " | auto W/T/L |", "|---" * (len(means.columns) + 2) + "|"]
    for method in means.index:
        diff = (wide["auto"] - wide[method]).dropna() if method in wide else pd.Series()
        wtl = f"{(diff > tie).sum()}/{(diff.abs() <= tie).sum()}/{(diff < -tie).sum()}"
        cells = " | ".join("" if np.isnan(v) else f"{v:.3f}" for v in means.loc[method])
        lines.append(f"| {method} | {cells} | {wtl if method != 'auto' else '-'} |")
    return "\n".join([*lines, "", *auto_summary(ok, wide, means)])


def auto_summary(ok: pd.DataFrame, wide: pd.DataFrame, means: pd.DataFrame) -> list[str]:
    lines = []
    for k in means.columns:
        base = means.loc[[b for b in BASELINES if b in means.index], k].dropna()
        best = base.idxmax()
        lines.append(f"k={k}: auto {means.loc['auto', k]:.3f} vs best baseline {best} "
                     f"{base.max():.3f} ({means.loc['auto', k] - base.max():+.3f})")
        choices = ok[(ok["method"] == "auto") & (ok["k"] == k)]["choice"].value_counts()
        lines.append(f"  auto chose: {', '.join(f'{c} {n}' for c, n in choices.items())}")
    gap = (wide["auto"] - wide["source_only"]).groupby(level=["source", "target", "k"]).mean()
    worse = gap[gap < -0.01]
    lines.append(f"pairs where auto is > 0.01 below source_only on average: {len(worse)}")
    lines += [f"  {s} -> {t} k={k}: {v:+.3f}" for (s, t, k), v in worse.items()]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per pair and k")
    parser.add_argument("--k", type=int, nargs="+", default=[0, 10, 40])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--auto-repeats", type=int, default=2, help="auto's CV repetitions")
    parser.add_argument("--auto-exclude", nargs="*", default=list(SLOW),
                        help="methods auto does not try (default: the slow ones)")
    parser.add_argument("--rerun", nargs="*", default=[],
                        help="fit only these methods again in the units already saved")
    parser.add_argument("--table-only", action="store_true", help="only print the table")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.table_only:
        run(args)
    print(markdown(load_records(args.out)))


if __name__ == "__main__":
    main()
