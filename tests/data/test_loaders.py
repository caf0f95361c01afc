import numpy as np
import pandas as pd
import pytest

from medtransfer.data.loaders import load_domain
from medtransfer.datasets.bundled import files_path
from medtransfer.errors import ConfigError, DataError


def test_dispatch_picks_the_loader_from_the_path(tmp_path, png):
    png(tmp_path / "imgs" / "a" / "1.png")
    png(tmp_path / "imgs" / "b" / "2.png", seed=1)
    folder = load_domain(tmp_path / "imgs")
    assert folder.kind == "image" and folder.class_names == ("a", "b")

    pd.DataFrame({"path": ["imgs/a/1.png", "imgs/b/2.png"], "label": ["a", "b"]}).to_csv(
        tmp_path / "m.csv", index=False
    )
    manifest = load_domain(tmp_path / "m.csv", name="M")
    assert manifest.kind == "image" and manifest.name == "M" and len(manifest) == 2

    table = load_domain(
        files_path("heart_disease_uci.csv"), label_col="num", site_col="dataset", site="Hungary"
    )
    assert table.kind == "table" and len(table) == 293

    npz = load_domain(files_path("pneumoniamnist.npz"), split="val")
    assert isinstance(npz.inputs, np.ndarray) and len(npz) == 270


def test_unknown_or_missing_paths(tmp_path):
    (tmp_path / "scan.nii").write_bytes(b"\x00")
    with pytest.raises(DataError, match=r"cannot load a \.nii file as a domain; give an image"):
        load_domain(tmp_path / "scan.nii")
    with pytest.raises(DataError, match="no such file or folder"):
        load_domain(tmp_path / "nothing")


def test_options_that_do_not_apply_are_refused(tmp_path, png):
    png(tmp_path / "a" / "1.png")
    with pytest.raises(ConfigError, match=r"option label_col does not apply to an image folder"):
        load_domain(tmp_path, label_col="num")
    with pytest.raises(ConfigError, match=r"option split does not apply to a table"):
        load_domain(files_path("heart_disease_uci.csv"), split="train")
    with pytest.raises(ConfigError, match=r"option site_col does not apply to a \.npz"):
        load_domain(files_path("pneumoniamnist.npz"), site_col="dataset")


def test_task_is_checked(tmp_path, png):
    png(tmp_path / "a" / "1.png")
    with pytest.raises(ConfigError, match="an image folder gives class labels, not values"):
        load_domain(tmp_path, task="regression")
    with pytest.raises(ConfigError, match=r"load_domain\(task='survival'\): expected one of"):
        load_domain(tmp_path, task="survival")


def test_strict_reaches_the_folder_loader(tmp_path, png):
    png(tmp_path / "a" / "1.png")
    (tmp_path / "a" / "x.txt").write_text("x")
    with pytest.raises(DataError, match=r"x\.txt: not a readable image"):
        load_domain(tmp_path, strict=True)
