"""Pixel harmonisation x backbone on WBC PBC -> BCCD, frozen features + logistic regression.

For each backbone and ``--harmonize`` spec: features of a seeded PBC subsample (per class)
and of all BCCD cells; a standardised logistic regression on the source plus k labelled
BCCD cells per class (at most half of a class, as in the ``wbc`` bench suite), scored by
balanced accuracy on every other BCCD cell, mean over label seeds. Prints a table, writes
JSON. Run: ``nice -n 10 python benchmarks/harmonize_wbc.py --out harmonize_wbc.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.data.sampling import per_class_subset
from medtransfer.datasets.wbc import wbc_pair
from medtransfer.features.featurize import featurize_pair

KS = (0, 5, 20)
MAX_LABELLED_SHARE = 0.5


def _scores(Xs, ys, Xt, yt, seeds: int) -> dict[str, float]:
    out = {}
    for k in KS:
        values = []
        for seed in range(seeds if k else 1):
            labelled = _labelled(yt, k, seed)
            test = np.setdiff1d(np.arange(len(yt)), labelled)
            model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
            model.fit(np.vstack([Xs, Xt[labelled]]), np.r_[ys, yt[labelled]])
            values.append(balanced_accuracy_score(yt[test], model.predict(Xt[test])))
        out[f"k={k}"] = float(np.mean(values))
    return out


def _labelled(yt: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(yt):
        where = np.flatnonzero(yt == label)
        take = min(k, int(len(where) * MAX_LABELLED_SHARE))
        chosen.extend(rng.permutation(where)[:take])
    return np.sort(np.asarray(chosen, dtype=int))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", action="append", default=None)
    parser.add_argument("--harmonize", action="append", default=None)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument("--out", default="harmonize_wbc.json")
    args = parser.parse_args()
    source, target = wbc_pair(Path(args.data))
    source = source.subset(per_class_subset(source, args.per_class, 0))
    rows = []
    for backbone in args.backbone or ["efficientnet_lite0"]:
        for spec in args.harmonize or ["none", "reinhard", "framing", "framing+reinhard"]:
            start = time.perf_counter()
            Xs, Xt, _ = featurize_pair(source, target, backbone=backbone, harmonize=spec,
                                       image_size=args.image_size, progress=False)
            row = {"backbone": backbone, "harmonize": spec, "image_size": args.image_size,
                   **_scores(Xs, source.labels, Xt, target.labels, args.seeds),
                   "seconds": round(time.perf_counter() - start, 1)}
            rows.append(row)
            print(" | ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                             for v in row.values()), flush=True)
            with open(args.out, "w") as handle:
                json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
