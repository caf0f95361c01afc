"""Tiny two-class grey images and a tiny timm backbone, shared by the fine-tuning tests."""

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from medtransfer.data import Domain

TINY = "timm:test_efficientnet"


def two_class_images(
    n: int, seed: int, offset: int = 0, *, ids: str = "{i}", name: str | None = None,
    class_names: tuple[str, str] = ("a", "b"), labelled: bool = True,
) -> Domain:
    """``n`` 32x32 images alternating between two classes: noise shifted by ``offset``, the
    second class with a bright square in the top-left corner. ``ids`` formats each id from
    ``i`` and ``seed``; unlabelled images get the label -1."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.integers(0, 60, (n, 32, 32)).astype(np.uint8) + offset
    x[y == 1, 4:14, 4:14] = 220
    return Domain(name=name or f"d{seed}", kind="image", inputs=x,
                  ids=np.array([ids.format(i=i, seed=seed) for i in range(n)], dtype=object),
                  labels=y if labelled else np.full(n, -1), class_names=class_names)


def write_manifest(root: Path, domains: list[Domain]) -> Path:
    """The images of ``domains`` as PNG files and a manifest ``root/images.csv`` with
    ``path``, ``label`` (the class name) and ``site`` (the domain's name) columns."""
    rows = []
    for domain in domains:
        folder = root / domain.name
        folder.mkdir(parents=True)
        for image, label, sample in zip(domain.inputs, domain.labels, domain.ids, strict=True):
            Image.fromarray(image).save(folder / f"{sample}.png")
            rows.append({"path": f"{domain.name}/{sample}.png",
                         "label": domain.class_names[label], "site": domain.name})
    pd.DataFrame(rows).to_csv(root / "images.csv", index=False)
    return root / "images.csv"
