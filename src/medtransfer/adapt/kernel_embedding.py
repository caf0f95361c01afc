"""Transfer component analysis (TCA) and joint distribution adaptation (JDA), scalable.

TCA (Pan et al. 2011) finds a kernel embedding where the source and target means agree
(small MMD) while the data variance is kept. JDA (Long et al. 2013) adds one MMD term per
class, using target pseudo-labels that are re-estimated each iteration. Both are solved here
on a Nystroem basis of at most ``max_samples`` landmark rows, so memory is
n x max_samples instead of n^2 (skada's TCA builds the full kernel and assumes the source
rows come first).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.linalg import eigh
from sklearn.base import BaseEstimator, clone
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import DomainRows, subsample_rows
from medtransfer.adapt.protect import ColumnProtecting


def _mmd_direction(K: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """K^T e with e = 1/n_s on ``source`` rows and -1/n_t on ``target`` rows."""
    e = np.zeros(len(K))
    e[source] = 1.0 / max(source.sum(), 1)
    e[target] = -1.0 / max(target.sum(), 1)
    return K.T @ e


def _inverse_sqrt_low_rank(mu: float, U: np.ndarray) -> np.ndarray:
    """(mu * I + U U^T)^(-1/2) from a thin SVD of U."""
    Q, s, _ = np.linalg.svd(U, full_matrices=False)
    eye = np.eye(len(U))
    return (eye - Q @ Q.T) / np.sqrt(mu) + (Q / np.sqrt(mu + s**2)) @ Q.T


class TransferComponentAnalysis(ColumnProtecting):
    """TCA on a Nystroem basis, then the final predictor on the embedded labelled rows.

    Cost: O(n * m) memory and O(n * m^2 + m^3) time, m = min(n, max_samples) landmarks.

    Parameters
    ----------
    estimator : estimator
        Final predictor.
    n_components : int, default=20
        Embedding dimension.
    mu : float, default=1.0
        Weight of the embedding-size penalty (larger = closer to kernel PCA).
    max_samples : int, default=2000
        Landmarks of the kernel basis; above it a random subset is used, with a warning.
    random_state : int or None
        Seed of the landmark choice.
    protect : sequence of int, default=()
        Positions of columns left out of the kernel and appended to the embedding as they are
        (see :mod:`medtransfer.adapt.protect`).

    Attributes
    ----------
    components_ : ndarray of shape (m, n_components)
    landmarks_ : ndarray of shape (m, n_features)
    """

    uses_target_labels = False  # marginal MMD only; JDA, which pseudo-labels, says True

    def __init__(
        self,
        estimator: BaseEstimator,
        n_components: int = 20,
        mu: float = 1.0,
        max_samples: int = 2000,
        random_state: int | None = None,
        protect: Sequence[int] = (),
    ) -> None:
        super().__init__(estimator)
        self.n_components = n_components
        self.mu = mu
        self.max_samples = max_samples
        self.random_state = random_state
        self.protect = protect

    def _kernel(self, Z: np.ndarray) -> np.ndarray:
        return rbf_kernel(Z, self.landmarks_, gamma=self.gamma_)

    def _basis(self, X: np.ndarray, rows: DomainRows) -> np.ndarray:
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        rng = np.random.default_rng(self.random_state)
        chosen = subsample_rows(rows.source | rows.target, self.max_samples, rng)
        if len(chosen) < len(Z):
            warnings.warn(
                f"{type(self).__name__}: kernel restricted to {len(chosen)} random landmark rows "
                f"of {len(Z)} (max_samples={self.max_samples}) to bound memory (Nystroem basis)",
                stacklevel=3,
            )
        self.landmarks_ = Z[chosen]
        variance = Z.var()
        self.gamma_ = 1.0 / (Z.shape[1] * variance) if variance > 0 else 1.0
        return self._kernel(Z)

    def _class_directions(self, K, y, rows) -> list[np.ndarray]:
        return []  # TCA matches the marginal distributions only

    def _solve(self, K: np.ndarray, rows: DomainRows, directions: list[np.ndarray]) -> None:
        """Top generalised eigenvectors of (spread, mu*I + sum of MMD directions d d^T)."""
        centred = K - K.mean(axis=0)
        spread = centred.T @ centred
        U = np.column_stack([_mmd_direction(K, rows.source, rows.target), *directions])
        whiten = _inverse_sqrt_low_rank(self.mu, U)
        m = K.shape[1]
        k = min(self.n_components, m)
        # The penalty is mu*I plus a few rank-one terms, so whitening by its inverse square
        # root (closed form) turns the problem into a standard one, far faster than a
        # generalised eigensolver on a low-rank spread.
        _, vectors = eigh(whiten @ spread @ whiten, subset_by_index=[m - k, m - 1])
        self.components_ = (whiten @ vectors)[:, ::-1]

    def _adapt_free(self, X, y, rows, covariates):
        K = self._basis(X, rows)
        self._solve(K, rows, self._class_directions(K, y, rows))
        return K @ self.components_, None

    def _map_free(self, X, code, covariates):
        return self._kernel(self.scaler_.transform(X)) @ self.components_  # one for all

    @property
    def keeps_feature_space(self) -> bool:
        """False: rows are embedded in ``n_components`` kernel components."""
        return False


class JointDistributionAdaptation(TransferComponentAnalysis):
    """JDA: TCA plus class-conditional MMD with iterated target pseudo-labels.

    Labelled target rows keep their true labels; unlabelled ones get the predictions of the
    final predictor trained on the current embedding, ``n_iter`` times.

    Parameters
    ----------
    estimator : estimator
        Final predictor (also the pseudo-labeller).
    n_components, mu, max_samples, random_state, protect
        As in :class:`TransferComponentAnalysis`.
    n_iter : int, default=5
        Pseudo-label refinements.

    Attributes
    ----------
    pseudo_labels_ : ndarray
        Final labels (true or pseudo) of the target training rows.
    """

    uses_target_labels = True  # true target labels, and pseudo-labels fitted on them

    def __init__(
        self,
        estimator: BaseEstimator,
        n_components: int = 20,
        mu: float = 1.0,
        max_samples: int = 2000,
        n_iter: int = 5,
        random_state: int | None = None,
        protect: Sequence[int] = (),
    ) -> None:
        super().__init__(estimator, n_components, mu, max_samples, random_state, protect)
        self.n_iter = n_iter

    def _class_directions(self, K, y, rows) -> list[np.ndarray]:
        labels = self._target_labels
        directions = []
        for c in np.unique(y[rows.labelled_source]):
            directions.append(_mmd_direction(K, rows.labelled_source & (y == c), labels == c))
        return directions

    def _adapt_free(self, X, y, rows, covariates):
        K = self._basis(X, rows)
        self._target_labels = np.where(rows.labelled_target, y, -1)
        self._solve(K, rows, [])
        for _ in range(self.n_iter):
            embedded = K @ self.components_
            labeller = clone(self.estimator).fit(embedded[rows.labelled], y[rows.labelled])
            unlabelled = rows.unlabelled_target
            if unlabelled.any():
                self._target_labels[unlabelled] = labeller.predict(embedded[unlabelled])
            self._solve(K, rows, self._class_directions(K, y, rows))
        self.pseudo_labels_ = self._target_labels[rows.target]
        del self._target_labels
        return K @ self.components_, None


@register_method(
    "tca", "transfer component analysis: kernel embedding with matched domain means"
)
def _tca(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return TransferComponentAnalysis(estimator, random_state=random_state)


@register_method(
    "jda",
    "joint distribution adaptation: TCA + per-class MMD with iterated target pseudo-labels",
    tasks=("classification",),
)
def _jda(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return JointDistributionAdaptation(estimator, random_state=random_state)
