import numpy as np
import pytest

from medtransfer.data.npz import load_npz
from medtransfer.errors import DataError


@pytest.fixture
def archive(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 4)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 3).reshape(n, 1).astype(np.uint8)
    np.savez(tmp_path / "organs.npz", **arrays)
    return tmp_path / "organs.npz", arrays


def test_one_split(archive):
    path, arrays = archive
    domain = load_npz(path, split="test")
    assert domain.name == "organs/test" and domain.ids[3] == "test/000003"
    assert np.array_equal(domain.inputs, arrays["test_images"])
    assert domain.labels.tolist() == [0, 1, 2, 0] and domain.class_names == ("0", "1", "2")
    assert set(domain.metadata["split"]) == {"test"}


def test_all_splits_concatenated_with_names(archive):
    path, _ = archive
    domain = load_npz(path, split=None, class_names=["liver", "lung", "heart"])
    assert len(domain) == 12 and domain.name == "organs"
    assert domain.ids[6] == "val/000000" and domain.ids[-1] == "test/000003"
    assert domain.class_names == ("liver", "lung", "heart")
    assert domain.metadata["split"].tolist().count("val") == 2


def test_class_names_stored_in_the_archive(tmp_path, archive):
    _, arrays = archive
    np.savez(tmp_path / "named.npz", **arrays, class_names=np.array(["a", "b", "c"]))
    assert load_npz(tmp_path / "named.npz", split="val").class_names == ("a", "b", "c")
    with pytest.raises(DataError, match=r"2 class names \['x', 'y'\] for label codes up to 2"):
        load_npz(tmp_path / "named.npz", class_names=["x", "y"])


def test_unknown_split_lists_the_available_ones(archive):
    with pytest.raises(DataError, match="no split 'dev'; available splits: train, val, test"):
        load_npz(archive[0], split="dev")


def test_bad_archives_are_refused(tmp_path):
    np.savez(tmp_path / "float.npz", train_images=np.zeros((2, 4, 4)), train_labels=[0, 1])
    with pytest.raises(DataError, match="train_images must be uint8"):
        load_npz(tmp_path / "float.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match=r"no train_images.*found x"):
        load_npz(tmp_path / "other.npz")
    np.savez(tmp_path / "obj.npz", train_images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match=r"not a readable \.npz archive of plain arrays"):
        load_npz(tmp_path / "obj.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataError, match=r"text\.npz: not a readable \.npz"):
        load_npz(tmp_path / "text.npz")


def test_label_shapes_and_codes_are_checked(tmp_path):
    images = np.zeros((2, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "multi.npz", train_images=images, train_labels=np.zeros((2, 14)))
    with pytest.raises(DataError, match="multi-label is not supported"):
        load_npz(tmp_path / "multi.npz")
    np.savez(tmp_path / "frac.npz", train_images=images, train_labels=np.array([0.5, 1.5]))
    with pytest.raises(DataError, match="class labels must be integer codes"):
        load_npz(tmp_path / "frac.npz")
    assert load_npz(tmp_path / "frac.npz", task="regression").labels.tolist() == [0.5, 1.5]
    np.savez(tmp_path / "half.npz", train_images=images, train_labels=[0, 1], test_images=images)
    with pytest.raises(DataError, match="test_labels is missing while other splits have labels"):
        load_npz(tmp_path / "half.npz")
    np.savez(tmp_path / "bare.npz", train_images=images)
    assert load_npz(tmp_path / "bare.npz").labels is None


def test_missing_archive(tmp_path):
    with pytest.raises(DataError, match=r"absent\.npz: no such file"):
        load_npz(tmp_path / "absent.npz")
