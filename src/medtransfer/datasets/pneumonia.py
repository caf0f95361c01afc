"""PneumoniaMNIST: paediatric chest X-rays, 28x28 grayscale, normal vs pneumonia."""

from __future__ import annotations

from medtransfer.data.domain import Domain
from medtransfer.data.npz import load_npz
from medtransfer.datasets.bundled import files_path

PNEUMONIA_FILE = "pneumoniamnist.npz"
PNEUMONIA_CLASSES = ("normal", "pneumonia")


def pneumonia(split: str | None = "train") -> Domain:
    """The bundled class-balanced subset of PneumoniaMNIST.

    Parameters
    ----------
    split : {"train", "val", "test"} or None, default "train"
        2428, 270 and 468 images (50 % pneumonia each); None concatenates all three.

    Returns
    -------
    Domain
        Image domain of uint8 (n, 28, 28) arrays, classes ("normal", "pneumonia"), ids like
        ``train/000042``, named ``pneumonia/<split>`` (or ``pneumonia``).
    """
    return load_npz(
        files_path(PNEUMONIA_FILE),
        split=split,
        name="pneumonia" if split is None else f"pneumonia/{split}",
        class_names=PNEUMONIA_CLASSES,
    )
