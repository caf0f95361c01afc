"""A small neural map that carries target features into the source feature distribution.

A residual MLP ``g(x) = x + f(x)`` is trained (CPU, seeded, a few hundred full-batch Adam
steps) so that ``g(X_target)`` matches the source in mean, covariance and a multi-bandwidth
RBF MMD on random mini-batches; labelled target rows additionally pull ``g`` to put them near
the source rows of their class (class means). The final predictor is trained on the source
rows plus the mapped labelled target rows, and predicts on ``g(X)``.
Cost: O(steps * batch^2) for the MMD, O(d^2) for the covariance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import erf
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt.base import register_method
from medtransfer.adapt.protect import ColumnProtecting
from medtransfer.data.sample_domain import target_type

SMALL_PROBLEM = 200_000  # feature values (rows x columns) below which one thread is faster


def _mmd2(a, b, bandwidths):
    import torch

    joint = torch.cat([a, b])
    distances = torch.cdist(joint, joint).pow(2)
    kernel = sum(torch.exp(-distances / (2.0 * h)) for h in bandwidths)
    n = len(a)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2.0 * kernel[:n, n:].mean()


def _moments_loss(mapped, source):
    import torch

    mean_gap = (mapped.mean(0) - source.mean(0)).pow(2).sum()
    cov_gap = (torch.cov(mapped.T) - torch.cov(source.T)).pow(2).sum() / mapped.shape[1]
    return mean_gap + cov_gap


class MappingNetwork(ColumnProtecting):
    """Learn a residual MLP mapping target features onto the source distribution.

    Parameters
    ----------
    estimator : estimator
        Final predictor.
    hidden : int, default=64
        Hidden units of the MLP.
    steps : int, default=200
        Adam steps.
    batch_size : int, default=256
        Rows per domain in each MMD mini-batch.
    mmd_weight : float, default=1.0
        Weight of the MMD term against the moment term.
    learning_rate : float, default=1e-3
    random_state : int or None
        Seed of the initialisation and the batches.
    protect : sequence of int, default=()
        Positions of columns the network never moves (see :mod:`medtransfer.adapt.protect`).

    Attributes
    ----------
    layers_ : list of ndarray
        The trained network's weights and biases (float32, numpy), so that a fitted model holds
        no torch object and is saved like every other estimator.
    scaler_ : StandardScaler
        Standardisation fitted on the source rows.
    loss_history_ : list of float
    """

    uses_target_labels = True  # labelled target rows pull the map toward their class means

    def __init__(
        self,
        estimator: BaseEstimator,
        hidden: int = 64,
        steps: int = 200,
        batch_size: int = 256,
        mmd_weight: float = 1.0,
        learning_rate: float = 1e-3,
        random_state: int | None = None,
        protect: Sequence[int] = (),
    ) -> None:
        super().__init__(estimator)
        self.protect = protect
        self.hidden = hidden
        self.steps = steps
        self.batch_size = batch_size
        self.mmd_weight = mmd_weight
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _build(self, d: int):
        import torch

        net = torch.nn.Sequential(
            torch.nn.Linear(d, self.hidden), torch.nn.GELU(), torch.nn.Linear(self.hidden, d)
        )
        torch.nn.init.zeros_(net[2].weight)  # start at the identity map
        torch.nn.init.zeros_(net[2].bias)
        return net

    def _map(self, Z):
        return Z + self.network_(Z)

    def _class_pull(self, mapped_labelled, source_means, codes):
        gap = (mapped_labelled - source_means[codes]).pow(2).sum(1).mean()
        return gap / mapped_labelled.shape[1]

    def _train(self, Zs, Zt, labelled_t, class_codes):
        import torch

        threads = torch.get_num_threads()
        if Zs.numel() + Zt.numel() < SMALL_PROBLEM:
            # Thread start-up dominates such small steps and is ~10x slower on a busy machine.
            torch.set_num_threads(1)
        # Seed a forked RNG so that fitting does not reset the caller's global torch state.
        try:
            with torch.random.fork_rng():
                self._optimise(Zs, Zt, labelled_t, class_codes)
        finally:
            torch.set_num_threads(threads)

    def _optimise(self, Zs, Zt, labelled_t, class_codes):
        import torch

        torch.manual_seed(0 if self.random_state is None else self.random_state)
        gen = torch.Generator().manual_seed(0 if self.random_state is None else self.random_state)
        self.network_ = self._build(Zs.shape[1])
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate)
        bandwidths = [Zs.shape[1] * s for s in (0.5, 1.0, 2.0)]
        self.loss_history_ = []
        for _ in range(self.steps):
            bs = torch.randint(len(Zs), (min(self.batch_size, len(Zs)),), generator=gen)
            bt = torch.randint(len(Zt), (min(self.batch_size, len(Zt)),), generator=gen)
            mapped = self._map(Zt)
            loss = _moments_loss(mapped, Zs)
            loss = loss + self.mmd_weight * _mmd2(mapped[bt], Zs[bs], bandwidths)
            if class_codes is not None:
                loss = loss + self._class_pull(mapped[labelled_t], *class_codes)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            self.loss_history_.append(loss.item())
        first, last = self.network_[0], self.network_[2]
        self.layers_ = [t.detach().numpy().copy() for t in
                        (first.weight, first.bias, last.weight, last.bias)]
        del self.network_

    def _adapt_free(self, X, y, rows, covariates):
        import torch

        self.scaler_ = StandardScaler().fit(X[rows.source])
        Z = torch.as_tensor(self.scaler_.transform(X), dtype=torch.float32)
        Zs, Zt = Z[torch.as_tensor(rows.source)], Z[torch.as_tensor(rows.target)]
        labelled_t = torch.as_tensor(rows.labelled_target[rows.target])
        class_codes = None
        if labelled_t.any() and target_type(y) == "classification":
            classes = np.unique(y[rows.labelled_source])
            means = torch.stack([Z[torch.as_tensor(rows.labelled_source & (y == c))].mean(0)
                                 for c in classes])
            codes = np.searchsorted(classes, y[rows.target][rows.labelled_target[rows.target]])
            if np.isin(y[rows.labelled_target], classes).all():
                class_codes = (means, torch.as_tensor(codes))
        self._train(Zs, Zt, labelled_t, class_codes)
        out = self.scaler_.transform(X)
        out[rows.target] = self._map_scaled(out[rows.target])
        return out, None

    def _map_scaled(self, Z: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2 = self.layers_
        Z = Z.astype(np.float32)
        hidden = Z @ w1.T + b1
        hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))  # torch's exact GELU
        return (Z + hidden @ w2.T + b2).astype(np.float64)

    def _map_free(self, X, code, covariates):
        # the network moves target rows only; source rows are just standardised
        Z = self.scaler_.transform(X)
        return self._map_scaled(Z) if code < 0 else Z


@register_method(
    "mapping_network",
    "small torch MLP mapping target features onto the source distribution (moments + MMD)",
)
def _mapping_network(estimator: BaseEstimator, random_state: int | None = None):
    return MappingNetwork(estimator, random_state=random_state)
