import numpy as np
import pandas as pd
import pytest

from medtransfer.data.manifest import load_manifest
from medtransfer.errors import DataError


def _manifest(tmp_path, png, rows, name="manifest.csv"):
    for row in rows:
        if not str(row["path"]).startswith("missing"):
            target = row["path"] if str(row["path"]).startswith("/") else tmp_path / row["path"]
            png(tmp_path / target, seed=len(str(row["path"])))
    pd.DataFrame(rows).to_csv(tmp_path / name, index=False)
    return tmp_path / name


def test_manifest_resolves_relative_and_absolute_paths(tmp_path, png):
    absolute = tmp_path / "elsewhere" / "abs.png"
    rows = [
        {"path": "img/a.png", "label": "COVID", "patient_id": "p1", "site": "north"},
        {"path": "img/b.png", "label": "normal", "patient_id": "p1", "site": "north"},
        {"path": str(absolute), "label": "normal", "patient_id": "p2", "site": "south"},
        {"path": "img/c.png", "label": None, "patient_id": "p3", "site": "south"},
    ]
    domain = load_manifest(_manifest(tmp_path, png, rows))
    assert domain.class_names == ("COVID", "normal")
    assert domain.labels.tolist() == [0, 1, 1, -1]
    assert domain.ids[0] == "img/a.png" and domain.inputs[2] == absolute
    assert domain.patient_ids.tolist() == ["p1", "p1", "p2", "p3"]
    assert domain.metadata["site"].tolist() == ["north", "north", "south", "south"]
    assert domain.name == "manifest"


def test_manifest_site_filter_and_id_column(tmp_path, png):
    rows = [
        {"path": f"i{k}.png", "label": "ab"[k % 2], "site": "AB"[k // 2], "scan": f"s{k}"}
        for k in range(4)
    ]
    domain = load_manifest(_manifest(tmp_path, png, rows), site="b", id_col="scan")
    assert domain.ids.tolist() == ["s2", "s3"] and domain.name == "b"


def test_missing_image_names_the_row_and_path(tmp_path, png):
    rows = [{"path": "a.png", "label": "x"}, {"path": "missing/b.png", "label": "y"}]
    with pytest.raises(DataError, match=r"row 2 \(line 3\): image 'missing/b\.png' not found"):
        load_manifest(_manifest(tmp_path, png, rows))


def test_empty_path_cell_is_an_error(tmp_path, png):
    png(tmp_path / "a.png")
    (tmp_path / "m.csv").write_text("path,label\na.png,x\n,y\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3\) has an empty path"):
        load_manifest(tmp_path / "m.csv")


def test_regression_manifest_and_non_numeric_value(tmp_path, png):
    rows = [{"path": "a.png", "label": 1.5}, {"path": "b.png", "label": 3}]
    domain = load_manifest(_manifest(tmp_path, png, rows), task="regression")
    assert domain.is_regression and np.allclose(domain.labels, [1.5, 3.0])
    rows = [{"path": "a.png", "label": "1.5"}, {"path": "b.png", "label": "high"}]
    with pytest.raises(DataError, match=r"column 'label': regression needs numeric.*'high'"):
        load_manifest(_manifest(tmp_path, png, rows, "m2.csv"), task="regression")


def test_one_class_manifest_is_refused(tmp_path, png):
    rows = [{"path": "a.png", "label": "x"}, {"path": "b.png", "label": "x"}]
    with pytest.raises(DataError, match=r"only one class \('x'\)"):
        load_manifest(_manifest(tmp_path, png, rows))


def test_manifest_without_label_is_unlabelled_and_unknown_column_is_named(tmp_path, png):
    rows = [{"path": "a.png"}, {"path": "b.png"}]
    path = _manifest(tmp_path, png, rows)
    assert load_manifest(path).labels is None
    with pytest.raises(DataError, match=r"no label column 'dx'; available columns: path"):
        load_manifest(path, label_col="dx")
