"""The leakage guard catches planted duplicates: copies, resized JPEG re-encodes, table rows."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medtransfer.data import Domain
from medtransfer.datasets import heart_disease, pneumonia
from medtransfer.errors import ConfigError, DataError
from medtransfer.features import TabularEncoder
from medtransfer.runs.validation import ValidationOptions, guard_heldout
from medtransfer.shift.leakage import check_leakage


def _image_domain(name, images, folder):
    folder.mkdir()
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{i}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return Domain(name, "image", inputs=paths, ids=np.array([p.name for p in paths]))


def _resized_jpeg(image: np.ndarray, path):
    """The image at twice its size, JPEG-encoded at quality 70 (pixels all differ)."""
    big = Image.fromarray(image).resize((2 * image.shape[1], 2 * image.shape[0]),
                                        Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=70)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def xrays():
    return pneumonia("test").inputs[:120]


def test_planted_copy_and_resized_jpeg_in_the_target_are_caught(xrays, tmp_path):
    source = _image_domain("source", xrays[:60], tmp_path / "source")
    target = _image_domain("target", xrays[60:100], tmp_path / "target")
    copy = tmp_path / "target" / "copy.png"
    Image.fromarray(xrays[3]).save(copy)
    near = _resized_jpeg(xrays[7], tmp_path / "target" / "near.jpg")
    target = Domain("target", "image", inputs=[*target.inputs, copy, near],
                    ids=np.r_[target.ids, ["copy.png", "near.jpg"]])

    found = check_leakage({"source": source, "target": target})

    assert found.flagged.tolist() == [40, 41]  # the two planted cases, nothing else
    between = found.pairs[0]
    assert (between["exact"], between["perceptual"], between["cases"]) == (1, 2, 2)
    assert found.pairs[1]["cases"] == 0  # no duplicate within the target
    assert "target vs source: 2 of 42 cases" in found.summary()[0]


def test_clean_image_sets_flag_nothing(xrays, tmp_path):
    source = _image_domain("source", xrays[:60], tmp_path / "source")
    target = _image_domain("target", xrays[60:], tmp_path / "target")
    found = check_leakage({"source": source, "target": target})
    assert found.flagged.size == 0
    assert found.summary() == ["no duplicates found between source, target"]


def test_table_copy_within_heldout_and_patient_overlap():
    heart = heart_disease("Cleveland")
    source, target = heart.subset(range(0, 150)), heart.subset(range(150, 300))
    rows = pd.concat([target.inputs, source.inputs.iloc[[5]], target.inputs.iloc[[9]]],
                     ignore_index=True)
    patients = pd.DataFrame({"patient_id": [f"p{i}" for i in range(len(rows))]})
    patients.loc[3, "patient_id"] = "s0"  # a target case of a source patient
    target = Domain("target", "table", inputs=rows, ids=np.arange(len(rows)).astype(str),
                    metadata=patients)
    source = Domain("source", "table", inputs=source.inputs, ids=source.ids,
                    metadata=pd.DataFrame({"patient_id": [f"s{i}" for i in range(150)]}))
    encoder = TabularEncoder().fit(source.inputs)
    features = {"source": encoder.transform(source.inputs), "target": encoder.transform(rows)}

    found = check_leakage({"source": source, "target": target}, features)

    between, within = found.pairs
    assert (between["exact"], between["patient"]) == (1, 1)
    assert "feature" not in between  # tables: identical rows only
    assert within["exact"] == 1
    assert {3, 150, 151} <= set(found.flagged.tolist())


def test_guard_drops_warns_or_refuses(xrays, tmp_path):
    source = Domain("s", "image", inputs=xrays[:30], ids=np.arange(30).astype(str))
    labelled = Domain("l", "image", inputs=xrays[30:35], ids=np.arange(30, 35).astype(str))
    heldout = Domain("h", "image", inputs=np.concatenate([xrays[35:60], xrays[[2, 31]]]),
                     ids=np.arange(35, 62).astype(str))
    with pytest.warns(UserWarning, match=r"LEAKAGE: 2 of 27 held-out target cases"):
        kept, record = guard_heldout(source, labelled, heldout, dedupe="drop")
    assert len(kept) == 25 and record["dropped"] == 2
    assert [p["cases"] for p in record["pairs"]] == [0, 1, 1, 0]
    with pytest.warns(UserWarning, match="the held-out scores are optimistic"):
        kept, _ = guard_heldout(source, labelled, heldout, dedupe="keep")
    assert len(kept) == 27
    with pytest.raises(DataError, match="pass --dedupe drop to score without them"):
        guard_heldout(source, labelled, heldout, dedupe="error")


def test_unknown_dedupe_mode_is_refused():
    with pytest.raises(ConfigError, match=r"ValidationOptions\(dedupe='skip'\): expected "
                                          "one of 'keep', 'drop', 'error'"):
        ValidationOptions(dedupe="skip").check()


def test_a_feature_space_neighbour_is_flagged_at_the_stated_radius(xrays):
    rng = np.random.default_rng(0)
    source = Domain("s", "image", inputs=xrays[:40], ids=np.arange(40).astype(str))
    # distinct images whose first feature vector lies next to a source one (a crop, say)
    target = Domain("t", "image", inputs=xrays[40:60], ids=np.arange(40, 60).astype(str))
    Xs = rng.normal(size=(40, 16))
    Xt = rng.normal(size=(20, 16))
    Xt[4] = Xs[11] + 1e-3
    found = check_leakage({"source": source, "target": target}, {"source": Xs, "target": Xt})
    assert found.pairs[0]["feature"] == 1 and found.flagged.tolist() == [4]
    assert 0 < found.thresholds["feature_radius"] < 1
