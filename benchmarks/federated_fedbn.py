"""FedBN against FedAvg and local-only fine-tuning on sites with different acquisitions.

Three sites hold disjoint class-balanced draws of PneumoniaMNIST's training images; one is
left as acquired, the others are degraded by a MedMNIST-C corruption each (a feature
shift across scanners, the setting FedBN is for). Every site holds out a share of its
images to test on. Rows: FedBN (batch norm local), FedAvg (batch norm averaged too) and
local-only (each site alone for the same rounds and steps, which the tests prove equals
local fine-tuning). Cells: each site's AUROC on its held-out images with the model it
ends with, and the sites' inverse-variance mean. The rounds run in-process through the
same ImageSite/coordinator code the Flower apps run.

    PYTHONPATH=src nice -n 10 python benchmarks/federated_fedbn.py [out.json]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from medtransfer.data.acquisition import shift_images
from medtransfer.datasets import pneumonia
from medtransfer.federated.fedbn import run_fedbn
from medtransfer.federated.image_site import ImageSite

SEEDS = (0,)
SITES = {"as acquired": None, "low contrast": "contrast_down", "noisy": "gaussian_noise"}
PER_SITE = 120
PLAN = {"backbone": "efficientnet_lite0", "image_size": 32, "batch_size": 16, "lr": 1e-3,
        "head_lr": 1e-2, "rounds": 4, "local_steps": 5, "test_fraction": 0.4,
        "class_names": ["normal", "pneumonia"]}


def site_domains(seed: int) -> list:
    """Disjoint class-balanced draws, one corruption (severity 4) per site."""
    whole = pneumonia("train")
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(whole.labels == c)) for c in (0, 1)]
    domains = []
    for i, (name, corruption) in enumerate(SITES.items()):
        half = PER_SITE // 2
        index = np.sort(np.concatenate([c[i * half:(i + 1) * half] for c in by_class]))
        domain = whole.subset(index)
        if corruption is not None:
            domain = shift_images(domain, corruption, severity=4, seed=seed)
        domains.append(replace(domain, name=name))
    return domains


def in_process(sites: dict[str, ImageSite]):
    def ask(kind, request, names):
        return {n: sites[n].answer(kind, request) for n in names}
    return ask


def run(domains, plan, folder: Path, alone: bool) -> dict:
    """AUROC by site (and their mean) of one way of training."""
    sites = {d.name: ImageSite(d, folder / "audit" / f"{d.name}.jsonl",
                               folder / "state" / f"{d.name}.safetensors") for d in domains}
    groups = [[n] for n in sites] if alone else [list(sites)]
    aurocs = {}
    for names in groups:
        result = run_fedbn(in_process(sites), names, plan)
        aurocs.update({n: v["auroc"] for n, v in result["validation"]["sites"].items()})
    return {**aurocs, "mean": float(np.mean(list(aurocs.values())))}


def main(out: str | None) -> None:
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SEEDS:
            domains = site_domains(seed)
            plan = {**PLAN, "seed": seed}
            for label, local, alone in (("FedBN", True, False), ("FedAvg", False, False),
                                        ("local-only", True, True)):
                began = time.perf_counter()
                folder = Path(tmp) / f"{label}-{seed}"
                cells = run(domains, {**plan, "keep_batch_norm_local": local}, folder, alone)
                cells["seconds"] = time.perf_counter() - began
                rows.setdefault(label, []).append(cells)
                print(label, seed, json.dumps(cells), flush=True)
    names = [*SITES, "mean", "seconds"]
    print(f"{'':12}" + "".join(f"{n:>14}" for n in names) + f"   (mean over seeds {SEEDS})")
    for label, cells in rows.items():
        print(f"{label:12}" + "".join(f"{np.mean([c[n] for c in cells]):14.3f}" for n in names))
    if out:
        Path(out).write_text(json.dumps({"plan": PLAN, "per_site": PER_SITE, "rows": rows},
                                        indent=2))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
