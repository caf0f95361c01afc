import numpy as np
import pandas as pd
import pytest

from medtransfer.data.tables import load_table
from medtransfer.datasets.bundled import files_path
from medtransfer.errors import ConfigError, DataError

HEART = files_path("heart_disease_uci.csv")


def test_site_filter_on_the_real_heart_table():
    domain = load_table(HEART, label_col="num", site_col="dataset", site="cleveland")
    assert len(domain) == 304 and domain.name == "cleveland"
    assert "dataset" not in domain.inputs and "num" not in domain.inputs
    assert "id" not in domain.inputs  # an `id` column is used as ids by default
    assert domain.ids[:3].tolist() == ["1", "2", "3"]
    assert set(domain.metadata["site"]) == {"Cleveland"}
    assert domain.class_names == ("0", "1", "2", "3", "4")
    assert domain.class_counts()["0"] == 165  # pandas: (num == 0) & Cleveland


def test_all_sites_and_row_number_ids(tmp_path):
    frame = pd.read_csv(HEART).drop(columns="id")
    frame.to_csv(tmp_path / "noid.csv", index=False)
    domain = load_table(
        tmp_path / "noid.csv", label_col="num", site_col="dataset", site="VA long beach"
    )
    assert len(domain) == 200 and domain.ids[0] == "720"  # row numbers of the whole file
    everything = load_table(tmp_path / "noid.csv", label_col="num", site_col="dataset")
    assert len(everything) == 920 and everything.metadata["site"].nunique() == 4


def test_unknown_site_lists_the_valid_ones():
    with pytest.raises(DataError, match="valid sites: Cleveland, Hungary, Switzerland, VA Long"):
        load_table(HEART, label_col="num", site_col="dataset", site="Zurich")
    with pytest.raises(ConfigError, match="site 'Hungary' was given without site_col"):
        load_table(HEART, label_col="num", site="Hungary")


def test_table_without_the_label_column_lists_columns():
    with pytest.raises(DataError, match=r"no label column 'target'; available columns: id, age"):
        load_table(HEART, label_col="target")


def test_one_class_label_column_is_refused():
    with pytest.raises(DataError, match=r"column 'dataset': only one class \('Cleveland'\)"):
        load_table(HEART, label_col="dataset", site_col="dataset", site="Cleveland")


def test_single_class_after_filter_column(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "a", None]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"only one class \('a'\).*task='regression'"):
        load_table(tmp_path / "t.csv", label_col="y")


def test_infinite_values_name_column_and_count(tmp_path):
    frame = pd.DataFrame({"age": [50, 60, 70], "ratio": [1.0, np.inf, -np.inf], "y": [0, 1, 0]})
    frame.to_csv(tmp_path / "inf.csv", index=False)
    with pytest.raises(DataError, match=r"column 'ratio' has 2 infinite values \(first at row 1\)"):
        load_table(tmp_path / "inf.csv", label_col="y")


def test_blank_labels_are_unlabelled_and_numeric_classes_sort_by_value(tmp_path):
    frame = pd.DataFrame({"x": range(5), "y": [10, 2, None, 2, 10], "patient_id": list("aabbc")})
    frame.to_csv(tmp_path / "t.csv", index=False)
    domain = load_table(tmp_path / "t.csv", label_col="y")
    assert domain.class_names == ("2", "10")
    assert domain.labels.tolist() == [1, 0, -1, 0, 1]
    assert domain.patient_ids.tolist() == list("aabbc")
    assert list(domain.inputs.columns) == ["x"]


def test_regression_labels_and_parquet(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "dose": [21.0, None, 35.5], "key": ["a", "b", "c"]})
    frame.to_parquet(tmp_path / "t.parquet")
    domain = load_table(tmp_path / "t.parquet", label_col="dose", id_col="key", task="regression")
    assert domain.is_regression and domain.ids.tolist() == ["a", "b", "c"]
    assert np.isnan(domain.labels[1]) and domain.labels[2] == 35.5
    frame.assign(dose=["21", "n/a mg", "3"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"column 'dose': regression needs numeric .*'n/a mg'"):
        load_table(tmp_path / "bad.csv", label_col="dose", task="regression")


def test_ids_must_be_present_and_unique(tmp_path):
    pd.DataFrame({"k": ["a", "a"], "x": [1, 2]}).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(DataError, match=r"id column 'k' repeats the id 'a'"):
        load_table(tmp_path / "dup.csv", id_col="k")
    pd.DataFrame({"k": ["a", None], "x": [1, 2]}).to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(DataError, match=r"id column 'k' has empty cells"):
        load_table(tmp_path / "gap.csv", id_col="k")


def test_unreadable_or_empty_tables(tmp_path):
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="the table has no rows"):
        load_table(tmp_path / "empty.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"bad\.parquet: cannot be read as a parquet table"):
        load_table(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"absent\.csv: no such file"):
        load_table(tmp_path / "absent.csv")


def test_a_column_of_numbers_with_a_few_text_entries_is_read_as_numbers(tmp_path):
    values = [str(v) for v in range(40)] + ["<5", "n/a"]
    path = tmp_path / "t.csv"
    pd.DataFrame({"creatinine": values, "label": ["a", "b"] * 21}).to_csv(path, index=False)
    with pytest.warns(UserWarning, match=r"'creatinine' \(1 value\(s\)\); these entries are read"):
        domain = load_table(path, label_col="label")
    column = domain.inputs["creatinine"]
    assert pd.api.types.is_numeric_dtype(column) and column.isna().sum() == 2
    assert "<5" not in str(domain.inputs.to_dict())


def test_coded_columns_with_text_codes_stay_categorical(tmp_path):
    path = tmp_path / "t.csv"
    statin = ["0", "1"] * 20 + ["YES", "NO"]
    pd.DataFrame({"statin": statin, "label": ["a", "b"] * 21}).to_csv(path, index=False)
    domain = load_table(path, label_col="label")
    assert not pd.api.types.is_numeric_dtype(domain.inputs["statin"])
