from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.explain.gradcam import default_layer, explain_images, grad_cam, save_overlay
from medtransfer.features.backbones import create_backbone
from medtransfer.finetune.head import head_to_sklearn
from medtransfer.finetune.trainer import FineTuner


class _Brightness(nn.Module):
    """conv (positive weights) -> ReLU -> mean pool: evidence is where the image is bright."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1 / 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def _square_image(row: int, col: int) -> torch.Tensor:
    image = torch.zeros(1, 1, 24, 24)
    image[0, 0, row : row + 5, col : col + 5] = 1.0
    return image


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_heat_map_peaks_where_the_signal_is(method: str):
    head = nn.Linear(4, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[-1.0] * 4, [1.0] * 4]))
        head.bias.zero_()
    images = torch.cat([_square_image(2, 3), _square_image(15, 16)])
    maps, classes = grad_cam(_Brightness(), head, images, target_class=1, method=method)
    assert maps.shape == (2, 24, 24) and maps.min() >= 0 and maps.max() == pytest.approx(1)
    assert classes.tolist() == [1, 1]
    for heat, (row, col) in zip(maps, [(2, 3), (15, 16)], strict=True):
        peak = np.unravel_index(heat.argmax(), heat.shape)
        assert row - 1 <= peak[0] <= row + 5 and col - 1 <= peak[1] <= col + 5
        assert heat[row : row + 5, col : col + 5].mean() > 5 * heat.mean() / 2
    # Class 0 counts brightness against itself: no positive evidence anywhere.
    against, _ = grad_cam(_Brightness(), head, images, target_class=0, method=method)
    assert np.allclose(against, 0)


def test_efficientnet_gets_its_last_conv_and_maps_of_the_input_size(tmp_path: Path):
    backbone = create_backbone("timm:test_efficientnet", weights="random", device="cpu")
    assert default_layer(backbone.model) == "conv_head"
    head = head_to_sklearn(nn.Linear(backbone.config.feature_dim, 2), np.arange(2))
    images = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    for method in ("gradcam", "gradcam++"):
        maps, classes = grad_cam(backbone, head, images, method=method)
        assert maps.shape == (2, 40, 40) and (maps >= 0).all() and np.isfinite(maps).all()
        assert set(classes.tolist()) <= {0, 1}
    maps, _ = grad_cam(backbone, head, images, layer="blocks.2", target_class=[0, 1])
    assert maps.shape == (2, 40, 40)
    with pytest.raises(ConfigError, match=r"layer 'conv_haed' is not a module.*'conv_head'"):
        grad_cam(backbone, head, images, layer="conv_haed")
    with pytest.raises(ConfigError, match=r"target_class=5 is outside the head's classes 0..1"):
        grad_cam(backbone, head, images, target_class=5)
    with pytest.raises(ConfigError, match=r"method='cam'; expected one of gradcam"):
        grad_cam(backbone, head, images, method="cam")


def test_explain_a_fine_tuned_model_and_write_an_overlay(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, (8, 32, 32)).astype(np.uint8)
    x[1::2, 4:12, 4:12] = 230
    y = np.arange(8) % 2
    domain = Domain(name="sq", kind="image", inputs=x, ids=np.arange(8).astype(str),
                    labels=y, class_names=("a", "b"))
    model = FineTuner("timm:test_efficientnet", weights="random", image_size=32, epochs=0,
                      batch_size=8, progress=False).fit(domain)
    maps, classes = explain_images(model, domain, method="gradcam++")
    assert maps.shape == (8, 32, 32) and len(classes) == 8
    out = save_overlay(x[1], maps[1], tmp_path / "overlay.png")
    written = np.asarray(Image.open(out))
    assert written.shape == (32, 32, 3) and written.std() > 0
    with pytest.raises(ConfigError, match=r"must end in \.png"):
        save_overlay(x[1], maps[1], tmp_path / "overlay.jpg")


def test_network_without_convolutions_is_refused():
    with pytest.raises(ConfigError, match=r"no Conv2d layer.*pass layer="):
        default_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
