import numpy as np
import pytest

from medtransfer.data.domain import Domain
from medtransfer.data.sampling import (
    choose_labelled,
    labelled_from_ids,
    per_class_subset,
    read_id_file,
)
from medtransfer.errors import ConfigError, DataError
from medtransfer.params import ParameterError


def _domain(labels):
    labels = np.asarray(labels)
    return Domain(
        "t",
        "table",
        inputs=np.zeros((len(labels), 1)),
        ids=np.array([f"s{i}" for i in range(len(labels))]),
        labels=labels,
        class_names=("a", "b", "c"),
    )


def test_choose_labelled_is_stratified_seeded_and_covers_every_class():
    domain = _domain([0] * 80 + [1] * 15 + [2] * 5)
    chosen = choose_labelled(domain, 10, random_state=3)
    assert len(chosen) == len(set(chosen)) == 10
    counts = np.bincount(domain.labels[chosen], minlength=3)
    assert counts.min() >= 1 and counts[0] >= 6
    assert np.array_equal(chosen, choose_labelled(domain, 10, random_state=3))
    assert not np.array_equal(chosen, choose_labelled(domain, 10, random_state=4))


def test_choose_labelled_skips_unlabelled_rows():
    domain = _domain([0, -1, 1, -1, 0, 1])
    chosen = choose_labelled(domain, 4, random_state=0)
    assert set(chosen) == {0, 2, 4, 5}


def test_k_larger_than_target_is_a_clear_error():
    with pytest.raises(ParameterError, match=r"^choose_labelled\(target_labels=7\): is larger "
                       r"than the 6 labelled samples of target 't'; pass at most 6$"):
        choose_labelled(_domain([0, 1, 2, 0, 1, 2]), 7)


@pytest.mark.parametrize("k", [-1, 2.5, "3"])
def test_k_is_a_count(k):
    with pytest.raises(ParameterError, match=rf"^choose_labelled\(target_labels={k!r}\): "
                       r"expected an integer >= 0; the number of labelled target samples, e.g. "
                       r"20$"):
        choose_labelled(_domain([0, 1, 2, 0, 1, 2]), k)
    assert len(choose_labelled(_domain([0, 1, 2, 0, 1, 2]), np.int64(3))) == 3


def test_ids_from_file_must_exist(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("id\ns1\ns3\n")
    domain = _domain([0, 1, 2, 0, 1, 2])
    assert list(labelled_from_ids(domain, read_id_file(path))) == [1, 3]
    with pytest.raises(DataError, match=r"1 id\(s\) not found.*'nope'"):
        labelled_from_ids(domain, ["s1", "nope"])
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(DataError, match="lists no ids"):
        read_id_file(tmp_path / "empty.txt")


def test_per_class_subset_takes_n_of_each_class_capped_by_what_exists_and_max_share():
    domain = _domain([0] * 30 + [1] * 6 + [2] * 2 + [-1] * 4)
    chosen = per_class_subset(domain, 5, random_state=1)
    assert list(np.bincount(domain.labels[chosen], minlength=3)) == [5, 5, 2]
    assert np.array_equal(chosen, np.sort(chosen))
    assert np.array_equal(chosen, per_class_subset(domain, 5, random_state=1))
    assert not np.array_equal(chosen, per_class_subset(domain, 5, random_state=2))
    half = per_class_subset(domain, 5, random_state=1, max_share=0.5)
    assert list(np.bincount(domain.labels[half], minlength=3)) == [5, 3, 1]
    assert len(per_class_subset(domain, 0)) == 0
    with pytest.raises(ConfigError, match="max_share must be in"):
        per_class_subset(domain, 5, max_share=0)
    with pytest.raises(ConfigError, match="samples per class must be >= 0, got -1"):
        per_class_subset(domain, -1)
