"""Class scores of any fitted scikit-learn predictor as a torch head that autograd can chain.

Grad-CAM needs the gradient of a class score with respect to a backbone's feature map. When
the part on top of the pooled features is not a torch module (an adapter, a scaler, an SVM
with Platt scaling, a recalibrator...), :class:`NumericalScoreHead` supplies that part's
local Jacobian by central differences in float64, and autograd multiplies it into the
backbone: ``d score / d A = (d features / d A)^T · (d score / d features)``. That is the exact
chain rule with one numerically estimated factor, accurate to O(h²) for a smooth predictor.

The scores are logits (see :mod:`medtransfer.finetune.logits`) or, for a model whose logits
are unknown, log-probabilities ``log p_k(x)``. Both equal a softmax head's logits up to a
shift common to all classes, so the centred score Grad-CAM explains is the same as that of
the equivalent torch head.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from medtransfer.errors import ConfigError

ScoreFunction = Callable[[np.ndarray], np.ndarray]
TINY = 1e-300  # log(0) guard: a class the model never predicts gets a flat, finite score
DEFAULT_STEP = 1e-4
MAX_ROWS = 8192  # perturbed rows per call to the predictor (memory bound)


def log_proba_scores(proba: ScoreFunction) -> ScoreFunction:
    """Scores ``log proba(X)`` in float64, exact zeros clipped to a tiny positive value."""

    def scores(X: np.ndarray) -> np.ndarray:
        return np.log(np.clip(np.asarray(proba(X), dtype=np.float64), TINY, None))

    return scores


def score_jacobian(
    scores: ScoreFunction, X: np.ndarray, *, step: float = DEFAULT_STEP
) -> np.ndarray:
    """Jacobian of the class scores with respect to each row, by central differences.

    Every row ``x`` (d features) is evaluated at ``x ± h e_j`` for all ``j`` at once, in
    batches of at most ``MAX_ROWS`` rows; ``h = step · max(mean |x|, 1e-6)``. The predictor
    must treat rows independently (every sklearn predictor does): this is checked by also
    evaluating the unperturbed rows inside each batch.

    Parameters
    ----------
    scores : callable
        ``scores(X) -> (n, K)`` class scores from (n, d) float64 rows.
    X : ndarray (n, d)
        Points at which to differentiate.
    step : float
        Relative finite-difference step.

    Returns
    -------
    ndarray of float64, shape (n, K, d)
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    rows_per_point = 2 * d + 1
    per_call = max(1, MAX_ROWS // rows_per_point)
    jacobians = []
    for start in range(0, n, per_call):
        block = X[start : start + per_call]
        h = step * np.maximum(np.abs(block).mean(axis=1), 1e-6)
        eye = np.eye(d)[None] * h[:, None, None]
        points = np.concatenate([block[:, None], block[:, None] + eye, block[:, None] - eye], 1)
        values = np.asarray(scores(points.reshape(-1, d)), dtype=np.float64)
        values = values.reshape(len(block), rows_per_point, -1)
        _check_row_independent(values[:, 0], np.asarray(scores(block), dtype=np.float64))
        plus, minus = values[:, 1 : d + 1], values[:, d + 1 :]
        jacobians.append(((plus - minus) / (2 * h[:, None, None])).transpose(0, 2, 1))
    return np.concatenate(jacobians) if jacobians else np.empty((0, 0, d))


def _check_row_independent(in_batch: np.ndarray, alone: np.ndarray) -> None:
    if not np.allclose(in_batch, alone, rtol=1e-6, atol=1e-9):
        raise ConfigError(
            "the model's scores for a sample change with the other samples it is predicted "
            "with, so its gradient cannot be estimated row by row; explain a model that "
            "predicts each sample on its own"
        )


class _NumericalScores(torch.autograd.Function):
    """Forward: ``scores(features)``; backward: J^T · grad with J by central differences."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, scores: ScoreFunction, step: float) -> torch.Tensor:
        X = features.detach().cpu().double().numpy()
        ctx.save_for_backward(features)
        ctx.scores, ctx.step = scores, step
        values = np.asarray(scores(X), dtype=np.float64)
        return torch.from_numpy(values).to(features.device, features.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (features,) = ctx.saved_tensors
        X = features.detach().cpu().double().numpy()
        jacobian = score_jacobian(ctx.scores, X, step=ctx.step)
        upstream = grad_output.detach().cpu().double().numpy()
        grad = np.einsum("nk,nkd->nd", upstream, jacobian)
        return torch.from_numpy(grad).to(features.device, features.dtype), None, None


class NumericalScoreHead(nn.Module):
    """A torch head whose outputs are ``scores(features)`` of any fitted predictor.

    Gradients flow back through it by central differences (see :func:`score_jacobian`),
    so ``grad_cam(backbone, NumericalScoreHead(f), images)`` explains the predictor's
    scores ``f`` exactly as it computes them from the backbone's features.

    Parameters
    ----------
    scores : callable
        ``scores(X) -> (n, K)`` class logits (or log-probabilities, see
        :func:`log_proba_scores`) from (n, d) float64 features.
    step : float
        Relative finite-difference step.
    """

    def __init__(self, scores: ScoreFunction, step: float = DEFAULT_STEP) -> None:
        super().__init__()
        self.scores = scores
        self.step = step

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Class scores (B, K), differentiable with respect to ``features``."""
        return _NumericalScores.apply(features, self.scores, self.step)
