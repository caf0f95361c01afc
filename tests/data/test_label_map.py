"""Label maps, the positive class, dropped columns and site-naming columns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from medtransfer.data import load_domain
from medtransfer.data.columns import drop_columns, drop_site_columns
from medtransfer.data.domain import Domain
from medtransfer.data.label_map import map_labels, parse_label_map, warn_label_spaces
from medtransfer.errors import DataError
from medtransfer.params import ParameterError

HEART = "/work/shared/data/heart_disease_uci.csv"
MAP = "0=no disease,1-4=disease"


def heart(site, **options):
    return load_domain(HEART, label_col="num", site_col="dataset", site=site, **options)


def test_the_readme_map_gives_the_binary_task_with_disease_positive():
    cleveland = heart("Cleveland", label_map=MAP)
    assert cleveland.class_names == ("no disease", "disease")
    raw = pd.read_csv(HEART).query("dataset == 'Cleveland'")["num"].to_numpy()
    assert np.array_equal(cleveland.labels, (raw > 0).astype(int))


def test_positive_class_moves_the_named_class_last():
    domain = heart("Hungary", label_map=MAP, positive_class="No Disease")
    assert domain.class_names == ("disease", "no disease")
    raw = pd.read_csv(HEART).query("dataset == 'Hungary'")["num"].to_numpy()
    assert np.array_equal(domain.labels, (raw == 0).astype(int))
    with pytest.raises(DataError, match="--positive-class 'sick' is not one of its classes"):
        heart("Hungary", label_map=MAP, positive_class="sick")


def test_bad_maps_are_one_clear_error():
    assert parse_label_map("a=x, 2-3=y") == {"a": "x", "2": "y", "3": "y"}
    with pytest.raises(ParameterError, match=r"^parse_label_map\(label_map='a=x,nonsense'\): "
                       r"entry 'nonsense' is not RAW=CLASS; write e.g. "
                       r"'0=no disease,1-4=disease'$"):
        parse_label_map("a=x,nonsense")
    with pytest.raises(ParameterError, match=r"^parse_label_map\(label_map=' , '\): is empty; "
                       r"write e.g. '0=no disease,1-4=disease'$"):
        parse_label_map(" , ")
    with pytest.raises(DataError, match="label '4' is not in --label-map"):
        heart("Cleveland", label_map="0=no,1-3=yes")


def test_grades_at_one_site_and_yes_no_at_another_warn():
    with pytest.warns(UserWarning, match="merge them with --label-map"):
        warn_label_spaces(heart("Cleveland"), heart("Hungary"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_label_spaces(heart("Cleveland", label_map=MAP), heart("Hungary", label_map=MAP))


def test_a_site_column_of_one_csv_per_site_is_dropped_and_drop_cols_too(tmp_path):
    frame = pd.read_csv(HEART)
    for site in ("Cleveland", "Hungary"):
        frame[frame["dataset"] == site].to_csv(tmp_path / f"{site}.csv", index=False)
    source, target = (load_domain(tmp_path / f"{s}.csv", label_col="num", drop_cols=["chol"])
                      for s in ("Cleveland", "Hungary"))
    assert "chol" not in source.inputs.columns and "dataset" in source.inputs.columns
    with pytest.warns(UserWarning, match="'dataset' hold one value in source"):
        source, target = drop_site_columns(source, target)
    assert "dataset" not in source.inputs.columns and "dataset" not in target.inputs.columns
    with pytest.raises(DataError, match="--drop-cols names 'nosuch'"):
        load_domain(tmp_path / "Hungary.csv", label_col="num", drop_cols=["nosuch"])


def test_table_only_options_on_images_and_regression_name_the_parameter():
    images = Domain("img", "image", inputs=np.zeros((2, 8, 8), dtype=np.uint8),
                    ids=np.array(["a", "b"]))
    with pytest.raises(ParameterError, match=r"^drop_columns\(drop_cols=\['chol'\]\): applies "
                       r"to tables; 'img' holds images$"):
        drop_columns(images, ["chol"])
    dose = Domain("dose", "table", inputs=pd.DataFrame({"x": [1.0, 2.0]}), ids=np.array(["a", "b"]),
                  labels=np.array([1.5, 2.5]))
    with pytest.raises(ParameterError, match=r"^map_labels\(label_map='0=a,1=b'\): maps classes, "
                       r"but 'dose' has continuous labels; leave it out$"):
        map_labels(dose, "0=a,1=b")
