import numpy as np
import pytest

from medtransfer.data.labels import encode_labels, sort_class_names
from medtransfer.errors import DataError


def test_codes_follow_sorted_names_and_blanks_are_unlabelled():
    codes, names = encode_labels(["b", " a ", "", None, np.nan, "b"], task="classification",
                                 where="x.csv")
    assert names == ("a", "b") and codes.tolist() == [1, 0, -1, -1, -1, 1]
    codes, names = encode_labels([3.0, 1.0, 10.0], task="classification", where="x.csv")
    assert names == ("1", "3", "10") and codes.tolist() == [1, 0, 2]
    assert sort_class_names(["b", "10", "a"]) == ("10", "a", "b")


def test_fixed_class_list_refuses_other_labels():
    codes, _ = encode_labels(["no", "yes"], task="classification", where="f",
                             class_names=("yes", "no"))
    assert codes.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"f: label 'maybe' is not one of the classes"):
        encode_labels(["maybe"], task="classification", where="f", class_names=("yes", "no"))


def test_regression_values_and_infinite_labels():
    values, names = encode_labels(["1.5", 2, None], task="regression", where="f")
    assert names is None and values[:2].tolist() == [1.5, 2.0] and np.isnan(values[2])
    with pytest.raises(DataError, match=r"f: 1 labels are infinite"):
        encode_labels(["1", "inf"], task="regression", where="f")
