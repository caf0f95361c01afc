"""``fit --harmonize``: fitted on the two folders, stored in the run, applied at predict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medtransfer.cli.app import app


def _brighter(folder, tmp_path):
    """A copy of an image folder with a brighter, lower-contrast acquisition."""
    out = tmp_path / "bright"
    for path in folder.rglob("*.png"):
        (out / path.parent.name).mkdir(parents=True, exist_ok=True)
        pixels = np.asarray(Image.open(path), dtype=float) * 0.5 + 110
        Image.fromarray(pixels.astype(np.uint8)).save(out / path.parent.name / path.name)
    return out


@pytest.mark.slow
def test_fit_harmonize_is_stored_and_applied_at_predict(runner, image_folders, tmp_path):
    source, target = image_folders
    target = _brighter(target, tmp_path)
    before = {p: p.read_bytes() for p in target.rglob("*.png")}
    run, out = tmp_path / "run", tmp_path / "p.csv"
    args = ["fit", str(source), str(target), "--image-size", "32", "--method", "source_only",
            "--classifier", "logreg", "--harmonize", "histogram", "--augment", "1", "--tta",
            "--quiet", "-o", str(run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["pipeline"]["harmonize"] == "histogram"
    assert manifest["pipeline"]["augment"] == 1 and manifest["features"]["tta"][1] == "hflip"
    state = manifest["features"]["harmonizer"]
    assert state["spec"] == "histogram" and len(state["steps"][0]["state"]["target_cdf_"]) == 1
    result = runner.invoke(app, ["predict", str(run), str(target), "--quiet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 16
    explained = tmp_path / "e.csv"
    args = ["predict", str(run), str(target), "-o", str(explained), "--quiet", "--explain",
            "--explain-n", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "e_explain").glob("*.png"))) == 2
    assert before == {p: p.read_bytes() for p in target.rglob("*.png")}  # never written over


def test_colour_harmonizer_on_grey_images_is_one_line(runner, image_folders, tmp_path):
    source, target = image_folders
    args = ["fit", str(source), str(target), "--image-size", "32", "--harmonize", "reinhard",
            "--quiet", "-o", str(tmp_path / "run")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "normalises colour but got a greyscale image" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_a_one_image_target_is_refused(runner, image_folders, tmp_path):
    source, _ = image_folders
    target = tmp_path / "one"
    (target / "horizontal").mkdir(parents=True)
    stripes = np.tile((np.arange(24) // 3 % 2) * 140 + 50, (24, 1)).T.astype(np.uint8)
    Image.fromarray(stripes).save(target / "horizontal" / "000.png")
    args = ["fit", str(source), str(target), "--image-size", "32", "--harmonize", "zscore",
            "--quiet", "-o", str(tmp_path / "run")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "the target has 1 image(s)" in result.output


def test_harmonizers_are_listed(runner):
    result = runner.invoke(app, ["harmonizers"])
    assert result.exit_code == 0
    for name in ("reinhard", "macenko", "histogram", "zscore", "percentile", "framing"):
        assert name in result.output
