"""Deep transfer benchmark: frozen features vs fine-tuning with each transfer loss vs SHOT.

Two real image pairs:

* ``pneumonia`` — PneumoniaMNIST train (source) -> test with an acquisition shift
  (MedMNIST-C gaussian noise, severity 3, then contrast x0.6), binary.
* ``wbc`` — white blood cells, PBC lab (source) -> BCCD lab (target), 5 classes matched
  case-insensitively; basophil is nearly absent from the target.

For each k (labelled target images per class) and seed, the k images are drawn per class,
every other target image is the test set; its images are seen unlabelled during training
(transductive adaptation), its labels only by the metrics. Early stopping uses labelled
images only. Methods: frozen ImageNet features + logistic regression, fine-tuning without a
transfer loss, fine-tuning with each transfer loss, and source-free SHOT / AdaBN started
from the fine-tuned source model; with ``--auto`` also the fine-tune ``--finetune auto`` would
choose (:func:`~medtransfer.finetune.selection.select_transfer_loss`), scored as the chosen
row and timed as the selection plus that row. Metrics: balanced accuracy and macro one-vs-rest AUROC
over the classes present in the test set, plus wall time.

    python benchmarks/finetune.py --out bench-finetune --seeds 1 --epochs 1 --source-n 1000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from medtransfer.bench.images import class_scores
from medtransfer.bench.wbc import MAX_LABELLED_SHARE
from medtransfer.data.acquisition import shift_images
from medtransfer.data.domain import UNLABELLED, Domain
from medtransfer.data.npz import load_npz
from medtransfer.data.sampling import per_class_subset
from medtransfer.datasets.wbc import wbc_pair as load_wbc_pair
from medtransfer.features.extract import extract_features
from medtransfer.finetune.selection import DEFAULT_CANDIDATES as AUTO_CANDIDATES
from medtransfer.finetune.selection import FROZEN, SOURCE_FREE, select_transfer_loss
from medtransfer.finetune.source_free import adapt_batch_norm, shot_adapt
from medtransfer.finetune.trainer import FineTuner

LOSSES = ("mmd", "coral", "dann", "cdan", "mcc", "entropy", "l2sp")


def pneumonia_pair(data: Path, source_n: int, seed: int) -> tuple[Domain, Domain]:
    path = data / "pneumoniamnist.npz"
    names = ("normal", "pneumonia")
    source = load_npz(path, split="train", class_names=names)
    source = source.subset(per_class_subset(source, source_n // 2, seed), name="pneumonia/train")
    target = load_npz(path, split="test", class_names=names)
    target = shift_images(target, "gaussian_noise", severity=3, seed=seed)
    target = shift_images(target, "contrast_down", severity=3, seed=seed)
    return source, target


def wbc_pair(data: Path, source_n: int, seed: int) -> tuple[Domain, Domain]:
    source, target = load_wbc_pair(data)
    n_classes = len(source.class_names)
    return source.subset(per_class_subset(source, source_n // n_classes, seed)), target


def split_target(target: Domain, k: int, seed: int) -> tuple[Domain, np.ndarray]:
    """The target as seen in training (k per class labelled, never more than half of a
    class, as in the ``wbc`` suite, so every class stays in the test set) and the test
    positions."""
    labelled = per_class_subset(target, k, seed, max_share=MAX_LABELLED_SHARE)
    seen = np.full(len(target), UNLABELLED)
    seen[labelled] = target.labels[labelled]
    test = np.setdiff1d(np.arange(len(target)), labelled)
    return Domain(
        name=target.name, kind="image", inputs=target.inputs, ids=target.ids, labels=seen,
        class_names=target.class_names,
    ), test


def frozen_logreg(source, target_seen, test, args, seed):
    opts = dict(image_size=args.image_size, progress=False, device=args.device)
    xs = extract_features(source, **opts)
    xt = extract_features(target_seen, **opts)
    known = target_seen.labelled_mask
    X = np.vstack([xs, xt[known]])
    y = np.concatenate([source.labels, target_seen.labels[known]])
    model = LogisticRegression(max_iter=2000, C=0.1, random_state=seed).fit(X, y)
    return model.predict_proba(xt[test])


def run_methods(suite, source, target, k, seed, args) -> list[dict]:
    seen, test = split_target(target, k, seed)
    truth = target.labels[test]
    test_domain = target.subset(test)
    base = dict(
        image_size=args.image_size, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, device=args.device, progress=False,
        random_state=seed,
    )
    records, plain, done = [], None, {}
    plan = [
        ("frozen+logreg", None),
        ("finetune", "none"),
        *[(f"finetune+{loss}", loss) for loss in args.losses],
        ("shot", "shot"),
        ("adabn", "adabn"),
        *([("finetune+auto", "auto")] if args.auto else []),
    ]
    for method, loss in plan:
        started = time.perf_counter()
        if loss is None:
            proba = frozen_logreg(source, seen, test, args, seed)
        elif loss == "auto":
            # the chosen candidate's own row was fitted with the same settings and seed
            selection = select_transfer_loss(source, seen, FineTuner(**base),
                                             candidates=AUTO_CANDIDATES)
            choice = selection["choice"]
            chosen = {FROZEN: "frozen+logreg", "none": "finetune", "shot": "shot",
                      "adabn": "adabn"}.get(choice, f"finetune+{choice}")
            proba, spent = done[chosen]
            started -= spent
            print(f"{suite} k={k} seed={seed} auto chose {chosen}: {selection['reason']}",
                  flush=True)
        elif loss == "shot":
            proba = shot_adapt(plain, seen, epochs=args.epochs, batch_size=args.batch_size,
                               random_state=seed, progress=False).predict_proba(test_domain)
        elif loss == "adabn":
            proba = adapt_batch_norm(plain, seen, progress=False).predict_proba(test_domain)
        else:
            model = FineTuner(transfer_loss=loss, **base).fit(source, seen)
            plain = model if loss == "none" else plain
            proba = model.predict_proba(test_domain)
        seconds = time.perf_counter() - started
        done[method] = proba, seconds
        unit = dict(suite=suite, source=source.name, target=target.name, k=k, seed=seed,
                    method=method)
        metrics = {**class_scores(truth, proba), "seconds": seconds}
        records += [{**unit, "metric": m, "value": v} for m, v in metrics.items()]
        print(f"{suite} k={k} seed={seed} {method:18s} " + "  ".join(
            f"{m} {v:.3f}" for m, v in metrics.items()), flush=True)
    return records


def markdown(frame: pd.DataFrame) -> str:
    wide = frame.pivot_table(index=["suite", "k", "method"], columns="metric", values="value",
                             aggfunc="mean", sort=False)
    lines = [
        "| suite | k | method | balanced acc. | AUROC | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for (suite, k, method), row in wide.iterrows():
        lines.append(f"| {suite} | {k} | {method} | {row['balanced_accuracy']:.3f} | "
                     f"{row['auroc']:.3f} | {row['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=Path("bench-finetune"))
    parser.add_argument("--suite", choices=("pneumonia", "wbc", "all"), default="all")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--ks", default="0,5,20", help="labelled target images per class")
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--source-n", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--auto", action="store_true",
                        help="also select the loss as --finetune auto does (needs every "
                        "candidate loss in --losses)")
    args = parser.parse_args(argv)
    args.losses = [x for x in args.losses.split(",") if x]
    missing = set(AUTO_CANDIDATES) - {"none", *SOURCE_FREE, *args.losses}
    if args.auto and missing:
        parser.error(f"--auto needs the losses {sorted(missing)} in --losses")
    suites = {"pneumonia": pneumonia_pair, "wbc": wbc_pair}
    chosen = list(suites) if args.suite == "all" else [args.suite]
    records = []
    for suite in chosen:
        for seed in range(args.seeds):
            source, target = suites[suite](args.data, args.source_n, seed)
            for k in (int(x) for x in args.ks.split(",")):
                records += run_methods(suite, source, target, k, seed, args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "finetune.json").write_text(json.dumps(records, indent=1))
    table = markdown(pd.DataFrame(records))
    (args.out / "finetune.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
