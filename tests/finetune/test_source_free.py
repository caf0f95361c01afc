import numpy as np
import pytest
import torch
from tests.tiny_images import TINY, two_class_images

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError
from medtransfer.features.backbones import create_backbone
from medtransfer.finetune.head import head_to_sklearn
from medtransfer.finetune.inputs import image_tensor
from medtransfer.finetune.losses import entropy_loss
from medtransfer.finetune.source_free import (
    adapt_batch_norm,
    centroid_pseudo_labels,
    shot_adapt,
    source_model,
)
from medtransfer.finetune.trainer import FineTuner


def _images(n: int, seed: int, offset: int) -> Domain:
    return two_class_images(n, seed, offset)


@pytest.fixture(scope="module")
def source_fit() -> FineTuner:
    return FineTuner(
        TINY, weights="random", image_size=32, epochs=0, batch_size=8,
        progress=False,
    ).fit(_images(16, 0, 0))


def test_centroid_pseudo_labels_fix_a_wrong_head_prediction():
    features = torch.tensor([[5.0, 0.1], [5.0, -0.1], [4.0, 0.0], [0.1, 5.0], [-0.1, 5.0]])
    head = torch.nn.Linear(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        head.bias.copy_(torch.tensor([0.0, 4.5]))  # pushes the point (4, 0) to class 1
    assert head(features).argmax(dim=1).tolist() == [0, 0, 1, 1, 1]
    assert centroid_pseudo_labels(features, head).tolist() == [0, 0, 0, 1, 1]


def test_shot_makes_target_predictions_more_confident_and_keeps_the_head(source_fit):
    target = _images(16, 1, 60).without_labels()
    before = entropy_loss(torch.logit(torch.from_numpy(source_fit.predict_proba(target))))
    adapted = shot_adapt(source_fit, target, epochs=2, batch_size=8, lr=1e-3, progress=False)
    after = entropy_loss(torch.logit(torch.from_numpy(adapted.predict_proba(target))))
    assert after < before
    assert np.array_equal(adapted.head_.coef_, source_fit.head_.coef_)
    assert [h["stage"] for h in adapted.history_] == ["shot", "shot"]
    assert source_fit.history_ == []  # the source model is left untouched
    again = shot_adapt(source_fit, target, epochs=2, batch_size=8, lr=1e-3, progress=False)
    assert np.allclose(again.predict_proba(target), adapted.predict_proba(target))


def test_adabn_sets_batch_norm_statistics_to_the_target(source_fit):
    target = _images(10, 2, 80)
    adapted = adapt_batch_norm(source_fit, target, batch_size=10, progress=False)
    model = adapted.backbone_.model
    images = image_tensor(target, adapted.backbone_.config, 32)
    with torch.no_grad():
        stem = model.conv_stem(images)
    assert torch.allclose(model.bn1.running_mean, stem.mean(dim=(0, 2, 3)), atol=1e-4)
    assert not torch.allclose(source_fit.backbone_.model.bn1.running_mean, model.bn1.running_mean)


def test_source_model_from_parts_predicts_like_the_fitted_model(source_fit):
    target = _images(6, 3, 30)
    head = head_to_sklearn(
        torch.nn.Linear(source_fit.feature_dim_, 2), np.arange(2)
    )
    backbone = create_backbone(TINY, weights="random", device="cpu")
    rebuilt = source_model(backbone, head, ("a", "b"), image_size=32)
    assert rebuilt.predict_proba(target).shape == (6, 2)
    rebuilt = source_model(source_fit.backbone_, source_fit.head_, ("a", "b"), image_size=32)
    assert np.allclose(rebuilt.predict_proba(target), source_fit.predict_proba(target))


def test_source_free_needs_target_images(source_fit):
    empty = _images(4, 4, 0).subset([])
    with pytest.raises(ConfigError, match=r"SHOT adapts to unlabelled target images.*has none"):
        shot_adapt(source_fit, empty, progress=False)
    with pytest.raises(ConfigError, match=r"AdaBN adapts to unlabelled target images"):
        adapt_batch_norm(source_fit, empty, progress=False)
