"""Small real inputs for driving the CLI: a binary heart table and a tiny image folder."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from medtransfer.datasets import files_path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def heart_csv(tmp_path_factory):
    """The bundled UCI heart table with the usual binary label."""
    frame = pd.read_csv(files_path("heart_disease_uci.csv"))
    frame["diagnosis"] = np.where(frame.pop("num") > 0, "disease", "no disease")
    path = tmp_path_factory.mktemp("heart") / "heart.csv"
    frame.to_csv(path, index=False)
    return path


def _stripes(horizontal: bool, rng: np.random.Generator, size: int = 24) -> np.ndarray:
    period = int(rng.integers(3, 6))
    wave = (np.arange(size) // period % 2) * 140 + 50
    image = np.tile(wave, (size, 1))
    image = image.T if horizontal else image
    return np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)


def write_image_folder(root, n_per_class: int, seed: int, classes=("horizontal", "vertical")):
    """Class sub-folders of noisy striped PNGs; the class is the stripe direction."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            image = _stripes(name.lower() == "horizontal", rng)
            Image.fromarray(image).save(root / name / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def image_folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("images")
    source = write_image_folder(base / "source", 12, seed=0)
    target = write_image_folder(base / "target", 8, seed=1, classes=("HORIZONTAL", "Vertical"))
    return source, target
