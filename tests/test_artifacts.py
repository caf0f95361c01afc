import json

import numpy as np
import pytest

from medtransfer import artifacts
from medtransfer.datasets import warfarin
from medtransfer.errors import ArtifactError
from medtransfer.runs.pipeline import TransferPipeline


def test_atomic_directory_leaves_nothing_when_the_block_fails(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), artifacts.atomic_directory(out) as tmp:
        (tmp / "half.txt").write_text("partial")
        raise RuntimeError("interrupted")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "run"
    with artifacts.atomic_directory(out) as tmp:
        (tmp / "a.txt").write_text("first")
    with (
        pytest.raises(ArtifactError, match=r"already exists.*--force"),
        artifacts.atomic_directory(out),
    ):
        pass
    with artifacts.atomic_directory(out, force=True) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]


def test_manifest_hashes_detect_tampering(tmp_path):
    (tmp_path / "model.skops").write_bytes(b"weights")
    artifacts.write_manifest(tmp_path, {})
    assert artifacts.read_manifest(tmp_path)["files"]
    (tmp_path / "model.skops").write_bytes(b"evil")
    with pytest.raises(ArtifactError, match="does not match its sha256"):
        artifacts.read_manifest(tmp_path)


def test_write_json_converts_numpy(tmp_path):
    artifacts.write_json(tmp_path / "x.json", {"a": np.float32(0.5), "b": np.arange(2)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 0.5, "b": [0, 1]}


def test_write_json_stores_undefined_metrics_as_null(tmp_path):
    payload = {"npv": np.float64("nan"), "values": np.array([1.0, np.inf]), "f": float("nan")}
    artifacts.write_json(tmp_path / "x.json", payload)
    assert json.loads((tmp_path / "x.json").read_text()) == {
        "npv": None, "values": [1.0, None], "f": None}


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "entry.bin"
    target.write_bytes(b"old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr("medtransfer.artifacts.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        artifacts.write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.slow
def test_a_mapped_dose_model_keeps_its_clip_range_through_save_and_load(tmp_path):
    target = warfarin(site=[3])
    pipeline = TransferPipeline(method="coral", classifier="logreg", task="regression",
                                target_transform="sqrt", progress=False)
    pipeline.fit(warfarin(site=[1, 2]), target, target_labels=20)
    pipeline.save(tmp_path / "run")
    loaded = TransferPipeline.load(tmp_path / "run")
    assert loaded.models_["coral"].y_range_ == pipeline.models_["coral"].y_range_
    np.testing.assert_array_equal(loaded.predict(target), pipeline.predict(target))
