"""One rule for what a target is and which rows carry a label, used by every room."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.adapt.domain_estimator import check_domain_inputs
from medtransfer.data.sample_domain import domain_masks, labelled_rows, target_type


@pytest.mark.parametrize(("y", "expected"), [
    ([0.0, 1.0, 1.0, 0.0], "classification"),  # class codes that passed through a float column
    ([0.0, 2.0, -1.0], "classification"),
    ([0, 1, -1], "classification"),
    (["yes", "no"], "classification"),
    ([True, False], "classification"),
    ([0.0, 1.0, np.nan], "regression"),  # NaN marks an unlabelled regression row
    ([12.5, 30.0, 41.0], "regression"),
    ([1.0, np.inf], "regression"),
    (np.arange(20.0), "regression"),  # 20 distinct whole numbers: a measurement
    (np.arange(19.0), "classification"),
])
def test_target_type(y, expected) -> None:
    assert target_type(np.asarray(y)) == expected


def test_labelled_rows_follow_the_target_type() -> None:
    np.testing.assert_array_equal(labelled_rows(np.array([0.0, 1.0, -1.0])), [True, True, False])
    np.testing.assert_array_equal(labelled_rows(np.array([2.5, np.nan, -1.0])), [True, False, True])
    np.testing.assert_array_equal(labelled_rows(np.array([3.0, -1.0]), "regression"), [True, True])
    source, target = domain_masks(np.array([0.0, 1.0, -1.0, 1.0]), np.array([1, 1, -2, -2]))
    np.testing.assert_array_equal(source, [True, True, False, False])
    np.testing.assert_array_equal(target, [False, False, False, True])


def test_adapters_read_float_class_codes_as_classes() -> None:
    # adapters used to read any float y as regression (and -1 as a label), selection as classes
    y = np.array([0.0, 1.0, 1.0, 0.0, -1.0, 1.0, 0.0, -1.0])
    domain = np.array([1, 1, 1, 1, -2, -2, -2, -2])
    _, _, rows = check_domain_inputs(np.zeros((8, 2)), y, domain)
    assert rows.labelled_target.tolist() == [False] * 4 + [False, True, True, False]
    assert target_type(y) == "classification"
