import numpy as np
import pandas as pd
import pytest

from medtransfer.data.classes import harmonize_classes
from medtransfer.data.domain import Domain
from medtransfer.errors import DataError


def _domain(name, labels, class_names):
    n = len(labels) if labels is not None else 3
    return Domain(
        name=name,
        kind="table",
        inputs=pd.DataFrame({"x": np.arange(n)}),
        ids=np.array([str(i) for i in range(n)]),
        labels=None if labels is None else np.array(labels),
        class_names=class_names,
    )


SOURCE = _domain("pbc", [0, 1, 2, 3], ("basophil", "eosinophil", "lymphocyte", "neutrophil"))


def test_case_insensitive_match_recodes_onto_the_source():
    target = _domain("bccd", [0, 1, 1, -1, 0], ("LYMPHOCYTE", "neutrophil"))
    source, recoded, report = harmonize_classes(SOURCE, target)
    assert source is SOURCE
    assert recoded.class_names == SOURCE.class_names
    assert recoded.labels.tolist() == [2, 3, 3, -1, 2]
    assert report == {
        "missing_in_target": ["basophil", "eosinophil"],
        "renamed": {"LYMPHOCYTE": "lymphocyte"},
    }


def test_class_without_samples_counts_as_missing():
    target = _domain("t", [1, 1], ("Basophil", "Neutrophil"))
    _, recoded, report = harmonize_classes(SOURCE, target)
    assert "basophil" in report["missing_in_target"]
    assert recoded.labels.tolist() == [3, 3]


def test_unknown_target_class_lists_the_source_classes():
    target = _domain("t", [0, 1], ("neutrophil", "platelet"))
    with pytest.raises(DataError, match=r"class 'platelet' unknown to source 'pbc', whose classes"):
        harmonize_classes(SOURCE, target)


def test_unlabelled_target_is_fine():
    target = _domain("t", None, None)
    _, same, report = harmonize_classes(SOURCE, target)
    assert same is target and report["missing_in_target"] == list(SOURCE.class_names)


def test_refusals():
    with pytest.raises(DataError, match="continuous labels"):
        harmonize_classes(SOURCE, _domain("t", [1.5, 2.0], None))
    with pytest.raises(DataError, match="source 'r' has no class names"):
        harmonize_classes(_domain("r", [1.5], None), SOURCE)
    twins = _domain("s", [0, 1], ("Normal", "normal"))
    with pytest.raises(DataError, match="differ only in case; merge them"):
        harmonize_classes(twins, SOURCE)
