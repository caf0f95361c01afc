"""The numerical score head: its chained gradient is the exact chain rule, to O(h²)."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from torch import nn

from medtransfer.errors import ConfigError
from medtransfer.explain.gradcam import grad_cam
from medtransfer.explain.scores import NumericalScoreHead, log_proba_scores, score_jacobian
from medtransfer.finetune.head import fold_linear, sklearn_to_head
from medtransfer.finetune.logits import logit_function, softmax
from medtransfer.models.svm import PlattSVC


def _data(n_classes: int, seed: int = 0, d: int = 5):
    rng = np.random.default_rng(seed)
    y = np.arange(60) % n_classes
    X = rng.normal(size=(60, d)) * [1, 3, 0.5, 2, 1][:d] + y[:, None] * 0.8 + 4
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_folded_logistic_regression_is_the_same_model_and_its_jacobian_matches(n_classes):
    X, y = _data(n_classes)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X, y)
    folded = fold_linear(model)
    assert np.allclose(folded.predict_proba(X), model.predict_proba(X), atol=1e-12)
    head = sklearn_to_head(folded).double()
    points = torch.from_numpy(X[:4]).requires_grad_(True)
    exact = torch.autograd.functional.jacobian(lambda x: torch.log_softmax(head(x), 1), points)
    exact = torch.einsum("nkmd->nkd", exact).numpy()  # rows are independent
    numerical = score_jacobian(log_proba_scores(model.predict_proba), X[:4])
    assert numerical.shape == (4, n_classes, 5)
    assert np.allclose(numerical, exact, rtol=1e-4, atol=1e-6)


def test_fold_linear_refuses_other_models():
    X, y = _data(2)
    with pytest.raises(ConfigError, match=r"StandardScaler → SVC is not a logistic regression"):
        fold_linear(make_pipeline(StandardScaler(), SVC()).fit(X, y))


class _Conv(nn.Module):
    """conv -> tanh -> mean pool: a smooth float64 network with a spatial feature map."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 5, 3, padding=1).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x)).mean(dim=(2, 3))


def test_chained_gradient_matches_finite_differences_of_the_end_to_end_score():
    backbone = _Conv()
    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.normal(size=(6, 1, 10, 10)))
    with torch.no_grad():
        X = backbone(images).numpy()
    svm = make_pipeline(StandardScaler(), PlattSVC(n_folds=2, random_state=0))
    svm.fit(X, [0, 1, 2, 0, 1, 2])
    head = NumericalScoreHead(log_proba_scores(svm.predict_proba))

    def score(x: torch.Tensor) -> torch.Tensor:  # centred log-probability of class 2
        z = head(backbone(x))
        return (z[:, 2] - z.mean(dim=1)).sum()

    x = images[:2].clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(score(x), x)
    direction = torch.from_numpy(rng.normal(size=x.shape))
    eps = 1e-4
    with torch.no_grad():
        slope = (score(x + eps * direction) - score(x - eps * direction)) / (2 * eps)
    assert float((gradient * direction).sum()) == pytest.approx(float(slope), rel=1e-4)
    assert float(gradient.abs().sum()) > 0


def test_grad_cam_through_a_numerical_head_finds_the_bright_quadrant():
    conv = nn.Conv2d(1, 3, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.stack([torch.full((1, 3, 3), 1 / 9), -torch.eye(3)[None] / 3,
                                       torch.rand(1, 3, 3, generator=torch.Generator()
                                                  .manual_seed(0))]))
    backbone = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.uniform(0, 0.3, (40, 1, 32, 32)).astype(np.float32))
    y = np.arange(40) % 2
    corners = rng.integers(1, 9, (40, 2))
    for i in np.flatnonzero(y):  # class 1: a bright square in the top-left quadrant
        r, c = corners[i]
        images[i, 0, r : r + 7, c : c + 7] = 1.0
    with torch.no_grad():
        X = backbone(images).numpy()
    svm = make_pipeline(StandardScaler(), PlattSVC(kernel="linear", random_state=0)).fit(X, y)
    logits = logit_function(svm)
    assert np.allclose(softmax(logits(X)), svm.predict_proba(X), atol=1e-12)
    for method in ("gradcam", "gradcam++"):
        maps, classes = grad_cam(backbone, NumericalScoreHead(logits),
                                 images[y == 1][:4], method=method)
        assert classes.tolist() == [1, 1, 1, 1]
        for heat, (r, c) in zip(maps, corners[y == 1][:4], strict=True):
            peak = np.unravel_index(heat.argmax(), heat.shape)
            assert peak[0] < 16 and peak[1] < 16
            inside = np.zeros(heat.shape, dtype=bool)
            inside[r : r + 7, c : c + 7] = True
            assert heat[inside].mean() > 3 * heat[~inside].mean()


def test_a_predictor_that_depends_on_the_batch_is_refused():
    def batch_normalised(X: np.ndarray) -> np.ndarray:
        s = X[:, 0] * len(X) / 10  # e.g. a statistic of the whole batch
        p = 1 / (1 + np.exp(-s))
        return np.column_stack([1 - p, p])

    with pytest.raises(ConfigError, match=r"change with the other samples"):
        score_jacobian(log_proba_scores(batch_normalised), np.array([[0.0, 1.0], [2.0, 1.0]]))
