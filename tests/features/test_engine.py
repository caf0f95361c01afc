"""Inference engines: ONNX Runtime and channels-last eager give plain eager's features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.features import engine as engine_module
from medtransfer.features.backbones import backbone_config, create_backbone, weights_fingerprint
from medtransfer.features.engine import engine_scope, resolve_engine
from medtransfer.features.extract import ImageDataset, extract_features
from medtransfer.features.onnx_backbone import onnx_path
from medtransfer.params import ParameterError


def _domain(n: int = 5, seed: int = 0) -> Domain:
    images = np.random.default_rng(seed).integers(0, 256, (n, 30, 30, 3), dtype=np.uint8)
    return Domain("imgs", "image", inputs=images, ids=np.arange(n).astype(str))


def _plain_eager(domain: Domain, size: int) -> np.ndarray:
    model = create_backbone("efficientnet_lite0", device="cpu")
    dataset = ImageDataset(list(domain.inputs), model.config, size)
    with torch.inference_mode():
        return model(torch.stack([dataset[i] for i in range(len(dataset))])).numpy()


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_engines_match_plain_eager_within_1e_4(engine):
    if engine == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnx")
    domain = _domain()
    for size in (32, 48):
        found = extract_features(domain, image_size=size, engine=engine, cache=False,
                                 progress=False, batch_size=2)
        np.testing.assert_allclose(found, _plain_eager(domain, size), rtol=0, atol=1e-4)
        if engine == "onnx":  # 5 images: two full batches on the static export, one dynamic
            config = backbone_config("efficientnet_lite0")
            sha = weights_fingerprint(config, None)[1]
            assert onnx_path(config, sha, shape=(2, 3, size, size)).is_file()
            assert not onnx_path(config, sha, shape=(1, 3, size, size)).exists()


def test_auto_is_onnx_on_cpu_only_when_installed(monkeypatch):
    monkeypatch.setattr(engine_module, "onnx_available", lambda: True)
    assert resolve_engine("auto", "cpu") == "onnx"
    assert resolve_engine("auto", "cuda") == "torch"
    with pytest.raises(ParameterError, match=r"^resolve_engine\(engine='onnx'\): runs on the CPU, "
                       r"but the device is 'cuda'; use engine='torch' on accelerators or "
                       r"device='cpu'$"):
        resolve_engine("onnx", "cuda")
    monkeypatch.setattr(engine_module, "onnx_available", lambda: False)
    assert resolve_engine("auto", "cpu") == "torch"
    with pytest.raises(ParameterError, match=r"^resolve_engine\(engine='onnx'\): needs ONNX "
                       r"Runtime; run `pip install 'medtransfer\[onnx\]'` or use engine='torch'$"):
        resolve_engine("onnx", "cpu")


def test_scope_and_environment_choose_the_engine(monkeypatch):
    monkeypatch.setenv("MEDTRANSFER_ENGINE", "torch")
    monkeypatch.setattr(engine_module, "onnx_available", lambda: True)
    assert resolve_engine(None, "cpu") == "torch"
    with engine_scope("auto"):
        assert resolve_engine(None, "cpu") == "onnx"
        assert resolve_engine("torch", "cpu") == "torch"
    expected = r"engine_scope\(engine='fast'\): expected one of 'auto', 'onnx', 'torch'"
    with pytest.raises(ConfigError, match=expected), engine_scope("fast"):
        pass
