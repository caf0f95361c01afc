import math

import pytest
import torch
from torch import nn
from torch.nn import functional

from medtransfer.errors import ConfigError
from medtransfer.finetune.adversarial import (
    CDANLoss,
    DANNLoss,
    GradientReversal,
    multilinear_map,
    reverse_gradient,
)
from medtransfer.finetune.losses import (
    L2SP,
    coral_loss,
    dann_schedule,
    diversity_loss,
    entropy_loss,
    mcc_loss,
    multi_kernel_mmd,
)
from medtransfer.finetune.transfer import (
    TRANSFER_LOSSES,
    TransferBatch,
    make_transfer_loss,
    schedule_weight,
)


def _gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def test_mmd_is_zero_for_identical_batches_and_grows_with_mean_shift():
    x = _gaussian(64, 8, 0)
    assert multi_kernel_mmd(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)
    values = [multi_kernel_mmd(x, _gaussian(64, 8, 1, shift)).item() for shift in (0, 0.5, 2)]
    assert values[0] < values[1] < values[2]
    assert values[2] > 10 * values[0]


def test_coral_is_zero_for_equal_covariances_and_positive_otherwise():
    x = _gaussian(50, 4, 0)
    assert coral_loss(x, x + 3.0).item() == pytest.approx(0.0, abs=1e-6)
    assert coral_loss(x, 3 * x).item() > 0.1


def test_feature_losses_reject_bad_shapes_with_a_fix():
    with pytest.raises(ConfigError, match=r"same d.*\(4, 3\) and \(4, 2\)"):
        multi_kernel_mmd(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ConfigError, match=r"at least 2 samples.*raise batch_size"):
        coral_loss(torch.zeros(1, 3), torch.zeros(4, 3))
    with pytest.raises(ConfigError, match=r"pass unlabelled target images"):
        multi_kernel_mmd(torch.zeros(4, 3), torch.zeros(0, 3))


def test_entropy_is_log_c_for_uniform_and_zero_for_one_hot():
    assert entropy_loss(torch.zeros(5, 4)).item() == pytest.approx(math.log(4), rel=1e-6)
    assert entropy_loss(100 * torch.eye(4)).item() == pytest.approx(0.0, abs=1e-6)
    assert diversity_loss(100 * torch.eye(4)).item() == pytest.approx(-math.log(4), rel=1e-5)


def test_mcc_is_zero_without_confusion_and_high_with_it():
    assert mcc_loss(100 * torch.eye(3)).item() == pytest.approx(0.0, abs=1e-6)
    confused = mcc_loss(torch.zeros(6, 3)).item()
    assert confused == pytest.approx(2 / 3, rel=1e-5)


def test_dann_schedule_ramps_from_zero_to_one():
    assert dann_schedule(0.0) == 0.0
    assert dann_schedule(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_schedule(1.0) > 0.999
    assert schedule_weight("constant", 0.0) == 1.0
    with pytest.raises(ConfigError, match=r"schedule='linear'.*'dann' ramps"):
        schedule_weight("linear", 0.5)


def test_gradient_reversal_flips_sign_and_scales_by_lambda():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    upstream = torch.tensor([0.5, 1.0, -1.0])
    (reverse_gradient(x, 0.3) * upstream).sum().backward()
    assert torch.allclose(x.grad, -0.3 * upstream)
    layer = GradientReversal(coeff=2.0)
    y = torch.ones(2, requires_grad=True)
    out = layer(y)
    assert torch.equal(out, y)
    out.sum().backward()
    assert torch.equal(y.grad, torch.full((2,), -2.0))


def test_dann_sends_features_the_opposite_of_the_discriminator_gradient():
    torch.manual_seed(0)
    loss = DANNLoss(feature_dim=3, hidden=8)
    source = _gaussian(6, 3, 0).requires_grad_(True)
    target = _gaussian(6, 3, 1, 1.0)
    loss(source, target).backward()
    reversed_grad = source.grad.clone()
    source.grad = None
    logits = loss.discriminator(torch.cat([source, target])).squeeze(1)
    truth = torch.cat([torch.ones(6), torch.zeros(6)])
    functional.binary_cross_entropy_with_logits(logits, truth).backward()
    assert torch.allclose(reversed_grad, -source.grad, atol=1e-7)


def test_cdan_multilinear_map_is_the_outer_product():
    features = torch.tensor([[1.0, 2.0]])
    probs = torch.tensor([[0.25, 0.75]])
    assert torch.allclose(multilinear_map(features, probs), torch.tensor([[0.25, 0.5, 0.75, 1.5]]))
    loss = CDANLoss(feature_dim=2, n_classes=2, hidden=4)
    f_s = _gaussian(4, 2, 0).requires_grad_(True)
    value = loss(f_s, _gaussian(4, 2, 1), torch.zeros(4, 2), torch.zeros(4, 2))
    value.backward()
    assert value.item() > 0 and f_s.grad is not None


def test_l2sp_is_zero_at_start_and_the_squared_distance_after_a_change():
    layer = nn.Linear(3, 2)
    penalty = L2SP(layer.parameters())
    assert penalty().item() == 0.0
    with torch.no_grad():
        layer.weight[0, 0] += 0.5
        layer.bias[1] -= 2.0
    assert penalty().item() == pytest.approx(0.25 + 4.0)


def test_registry_builds_every_loss_and_suggests_names():
    backbone = nn.Linear(4, 4)
    features = (_gaussian(4, 4, 0), _gaussian(4, 4, 1))
    batch = TransferBatch(*features, torch.zeros(4, 2), torch.ones(4, 2))
    for name in TRANSFER_LOSSES:
        value = make_transfer_loss(name, 4, 2, backbone)(batch)
        assert value.ndim == 0 and torch.isfinite(value)
    assert make_transfer_loss("none", 4, 2, backbone) is None
    with pytest.raises(ConfigError, match=r"unknown transfer loss 'cora'.*Did you mean 'coral'"):
        make_transfer_loss("cora", 4, 2, backbone)
