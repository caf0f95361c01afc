import logging
import warnings

import numpy as np
import pytest

from medtransfer.data.folders import SkippedFilesWarning, load_image_folder
from medtransfer.errors import DataError


def _two_classes(root, png):
    for i in range(3):
        png(root / "Pneumonia" / f"p{i}.png", seed=i)
        png(root / "normal" / f"n{i}.png", seed=10 + i)
    png(root / "normal" / "sub" / "deep.png", seed=20)


def test_class_folders_give_sorted_classes_and_posix_ids(tmp_path, png):
    _two_classes(tmp_path, png)
    (tmp_path / "normal" / ".DS_Store").write_bytes(b"\x00junk")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # hidden litter is ignored silently
        domain = load_image_folder(tmp_path, name="site A")
    assert domain.class_names == ("Pneumonia", "normal")
    assert domain.class_counts() == {"Pneumonia": 3, "normal": 4}
    assert "normal/sub/deep.png" in list(domain.ids)
    assert all(p.is_file() for p in domain.inputs) and domain.root == tmp_path
    assert domain.name == "site A" and domain.kind == "image"
    position = list(domain.ids).index("Pneumonia/p1.png")
    assert domain.labels[position] == 0


def test_corrupt_and_non_image_files_are_skipped_with_a_warning(tmp_path, png, truncated_png):
    _two_classes(tmp_path, png)
    truncated_png(tmp_path / "normal" / "cut.png")
    (tmp_path / "Pneumonia" / "notes.txt").write_text("reading list")
    with pytest.warns(SkippedFilesWarning, match=r"skipped 2 unreadable files.*(cut|notes)"):
        domain = load_image_folder(tmp_path)
    assert len(domain) == 7
    assert not any(i.endswith(("cut.png", "notes.txt")) for i in domain.ids)


def test_strict_turns_unreadable_files_into_an_error(tmp_path, png, truncated_png):
    _two_classes(tmp_path, png)
    truncated_png(tmp_path / "normal" / "cut.png")
    with pytest.raises(DataError, match=r"1 unreadable files: .*cut\.png.*without strict"):
        load_image_folder(tmp_path, strict=True)


def test_empty_folders_are_refused(tmp_path):
    with pytest.raises(DataError, match="empty folder, no image files found"):
        load_image_folder(tmp_path)
    (tmp_path / "normal").mkdir()
    with pytest.raises(DataError, match="empty folder"):
        load_image_folder(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        load_image_folder(tmp_path / "absent")


def test_only_unreadable_files_is_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    with pytest.warns(SkippedFilesWarning), pytest.raises(DataError, match="none of the 1 files"):
        load_image_folder(tmp_path)


def test_class_folder_left_empty_is_dropped_with_warning(tmp_path, png):
    _two_classes(tmp_path, png)
    (tmp_path / "zebra").mkdir()
    (tmp_path / "zebra" / "z.txt").write_text("z")
    with pytest.warns(SkippedFilesWarning) as caught:
        domain = load_image_folder(tmp_path)
    messages = [str(w.message) for w in caught]
    assert any("z.txt" in m for m in messages)
    assert any(m.endswith("without any readable image were left out: ['zebra']") for m in messages)
    assert domain.class_names == ("Pneumonia", "normal")


def test_flat_folder_is_an_unlabelled_domain(tmp_path, png):
    for i in range(4):
        png(tmp_path / f"img{i}.png", seed=i)
    domain = load_image_folder(tmp_path)
    assert domain.labels is None and domain.class_names is None
    assert sorted(domain.ids) == [f"img{i}.png" for i in range(4)]


def test_dicom_folder_keeps_acquisition_tags_only(tmp_path, dicom, dicom_pixels, caplog):
    caplog.set_level(logging.DEBUG)
    for cls in ("effusion", "normal"):
        for i in range(2):
            dicom(tmp_path / cls / f"{cls}{i}", dicom_pixels + i)  # extension-less
    domain = load_image_folder(tmp_path)
    assert domain.class_counts() == {"effusion": 2, "normal": 2}
    assert domain.metadata["modality"].tolist() == ["CR"] * 4
    assert sorted(domain.metadata.columns) == ["body_part", "manufacturer", "modality"]
    everything = " ".join(
        [caplog.text, domain.metadata.to_csv(), " ".join(domain.ids), repr(domain)]
    )
    for word in ("Doe", "Janet", "MRN-4711-0815", "19610203"):
        assert word not in everything
    assert np.array_equal(domain.labels, [0, 0, 1, 1])
