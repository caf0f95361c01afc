"""Label maps, the positive class, dropped columns and site-naming columns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from medtransfer.data import load_domain
from medtransfer.data.columns import drop_site_columns
from medtransfer.data.label_map import parse_label_map, warn_label_spaces
from medtransfer.errors import ConfigError, DataError

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
    with pytest.raises(ConfigError, match="entry 'nonsense' is not RAW=CLASS"):
        parse_label_map("nonsense")
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
