"""Adaptation of archives too large for memory, fitted from streamed float32 chunks.

Each estimator keeps only sufficient statistics (sums and d x d cross-products in float64,
13 MiB at 1,280 features) or, for the final linear model, mini-batch SGD state, so peak
memory is one chunk plus O(d^2) however many rows stream past; no n x n matrix and no
float64 copy of the data is ever made. The density ratio's source-vs-target discriminator is
the same SGD head, fitted on interleaved source and target chunks. :func:`store_chunks`
streams a feature store written by ``medtransfer extract`` shard by shard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import zip_longest
from pathlib import Path

import numpy as np
from scipy import linalg
from sklearn.linear_model import SGDClassifier

from medtransfer.errors import ConfigError


class Moments:
    """Running count, mean and covariance of rows added chunk by chunk (float64 sums)."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.total = np.zeros(dim)
        self.cross = np.zeros((dim, dim))

    def add(self, X: np.ndarray) -> Moments:
        """Add the rows of a float32 chunk; the matmul upcasts the small result only."""
        self.n += len(X)
        self.total += X.sum(axis=0, dtype=np.float64)
        self.cross += (X.T @ X).astype(np.float64)
        return self

    @property
    def mean(self) -> np.ndarray:
        """Column means."""
        return self.total / max(self.n, 1)

    def covariance(self) -> np.ndarray:
        """Unbiased covariance matrix."""
        if self.n < 2:
            raise ConfigError("a streamed covariance needs at least 2 rows in each domain")
        mean = self.mean
        return (self.cross - self.n * np.outer(mean, mean)) / (self.n - 1)


class StreamingCORAL:
    """CORAL from chunks: source rows re-coloured with the target covariance.

    ``A = (C_s + reg I)^{-1/2} (C_t + reg I)^{1/2}`` as in Sun et al. (2016); ``transform``
    applies ``X @ A`` chunk by chunk, in float32.

    Parameters
    ----------
    reg : float, default 1.0
        Ridge added to both covariances (CORAL's default).
    """

    def __init__(self, reg: float = 1.0) -> None:
        self.reg = reg

    def fit(self, source_chunks: Iterable[np.ndarray], target_chunks: Iterable[np.ndarray]):
        """Accumulate both domains' moments and compute the re-colouring matrix."""
        source, target = _moments(source_chunks), _moments(target_chunks)
        ridge = self.reg * np.eye(len(source.total))
        whiten = _matrix_power(source.covariance() + ridge, -0.5)
        colour = _matrix_power(target.covariance() + ridge, 0.5)
        self.matrix_ = (whiten @ colour).astype(np.float32)
        self.n_source_, self.n_target_ = source.n, target.n
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Re-coloured float32 rows."""
        return np.asarray(X, dtype=np.float32) @ self.matrix_


class StreamingStandardizer:
    """Per-site standardisation (each site centred and scaled by its own moments) from chunks."""

    def fit(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]]):
        """``chunks`` yield (X, site) pairs; every site's mean and std are accumulated."""
        sums: dict = {}
        for X, site in chunks:
            for value in np.unique(site):
                rows = X[site == value]
                n, total, squares = sums.get(value, (0, 0.0, 0.0))
                sums[value] = (n + len(rows), total + rows.sum(0, dtype=np.float64),
                               squares + np.square(rows, dtype=np.float64).sum(0))
        self.mean_ = {k: (t / n).astype(np.float32) for k, (n, t, _) in sums.items()}
        self.scale_ = {k: np.sqrt(np.maximum(q / n - (t / n) ** 2, 1e-12)).astype(np.float32)
                       for k, (n, t, q) in sums.items()}
        return self

    def transform(self, X: np.ndarray, site: np.ndarray) -> np.ndarray:
        """Each row standardised with its site's moments (float32)."""
        unknown = sorted(set(np.unique(site).tolist()) - set(self.mean_))
        if unknown:
            raise ConfigError(f"sites {unknown[:3]} were not seen when fitting; fit on them too")
        out = np.empty(X.shape, dtype=np.float32)
        for value in np.unique(site):
            rows = site == value
            out[rows] = (X[rows] - self.mean_[value]) / self.scale_[value]
        return out


def fit_streamed_linear(chunks: Callable[[], Iterable[tuple]], classes: np.ndarray, *,
                        epochs: int = 3, alpha: float = 1e-4, average: bool = False,
                        random_state: int = 0) -> SGDClassifier:
    """A logistic-regression head fitted by mini-batch SGD over streamed chunks.

    Parameters
    ----------
    chunks : callable
        Gives a fresh iterator per epoch of ``(X, y)`` or ``(X, y, sample_weight)`` chunks.
    classes : ndarray
        Every class label (a chunk may lack some).
    epochs, alpha, average, random_state
        Passes over the chunks, then the L2 penalty, iterate averaging (steadier estimates
        from few passes) and seed of :class:`~sklearn.linear_model.SGDClassifier`.

    Returns
    -------
    SGDClassifier
    """
    model = SGDClassifier(loss="log_loss", alpha=alpha, average=average,
                          random_state=random_state)
    for _ in range(epochs):
        for X, y, *weight in chunks():
            model.partial_fit(X, y, classes=classes, sample_weight=weight[0] if weight else None)
    return model


class StreamingDensityRatio:
    """Importance weights p_target(x) / p_source(x) from a streamed domain discriminator.

    A logistic source-vs-target classifier is fitted by :func:`fit_streamed_linear` (averaged
    SGD) on chunks that each join a source and a target chunk (single-domain steps would pull
    its intercept back and forth); a row's weight is ``p / (1 - p) * n_source / n_target``
    (``p``: its estimated probability of being a target row), clipped at ``max_weight``, as
    :class:`~medtransfer.adapt.reweight.DensityRatioReweighted` computes in memory (which
    also cross-fits and renormalises; one streamed pass cannot). SGD is scale-sensitive: stream
    standardised rows (:class:`StreamingStandardizer`) when the features' scales differ.

    Parameters
    ----------
    max_weight : float, default=10.0
        Clip of the weights.
    epochs, alpha, random_state
        Of the discriminator (see :func:`fit_streamed_linear`).

    Attributes
    ----------
    discriminator_ : SGDClassifier
        Class 1 is the target domain.
    prior_ratio_ : float
        n_source / n_target of the streamed rows.
    """

    def __init__(self, max_weight: float = 10.0, epochs: int = 2, alpha: float = 1e-3,
                 random_state: int = 0) -> None:
        self.max_weight = max_weight
        self.epochs = epochs
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, source_chunks: Callable[[], Iterable[np.ndarray]],
            target_chunks: Callable[[], Iterable[np.ndarray]]) -> StreamingDensityRatio:
        """Fit the discriminator; each argument gives a fresh iterator of chunks per epoch."""
        counts = np.zeros(2, dtype=np.int64)

        def labelled() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            counts[:] = 0
            for pair in zip_longest(source_chunks(), target_chunks()):
                rows = [np.asarray(X, dtype=np.float32) for X in pair if X is not None]
                labels = [np.full(len(X), int(label)) for label, X in enumerate(pair)
                          if X is not None]
                counts[:] += [len(X) if X is not None else 0 for X in pair]
                yield np.concatenate(rows), np.concatenate(labels)

        self.discriminator_ = fit_streamed_linear(labelled, np.array([0, 1]), epochs=self.epochs,
                                                  alpha=self.alpha, average=True,
                                                  random_state=self.random_state)
        if counts.min() == 0:
            raise ConfigError("a streamed density ratio needs source and target rows; "
                              f"{counts[0]} source and {counts[1]} target rows were streamed")
        self.prior_ratio_ = float(counts[0] / counts[1])
        return self

    def weights(self, X: np.ndarray) -> np.ndarray:
        """Clipped importance weight of each row (float64)."""
        odds = np.exp(np.clip(self.discriminator_.decision_function(X), -50.0, 50.0))
        return np.minimum(odds * self.prior_ratio_, self.max_weight)


def store_chunks(path: str | Path) -> Iterator[tuple[list[str], np.ndarray]]:
    """(digests, float32 rows) of every shard of a feature store, one shard at a time."""
    import pyarrow as pa

    from medtransfer.features.store import SHARD_DIR

    for shard in sorted((Path(path) / SHARD_DIR).glob("*.arrow")):
        table = pa.ipc.open_file(pa.memory_map(str(shard))).read_all()
        rows = table.column("features").combine_chunks()
        yield (table.column("digest").to_pylist(),
               rows.flatten().to_numpy().reshape(len(table), rows.type.list_size))


def _moments(chunks: Iterable[np.ndarray]) -> Moments:
    moments = None
    for X in chunks:
        moments = (moments or Moments(X.shape[1])).add(np.asarray(X, dtype=np.float32))
    if moments is None:
        raise ConfigError("no rows were streamed; check the feature store's path")
    return moments


def _matrix_power(matrix: np.ndarray, power: float) -> np.ndarray:
    values, vectors = linalg.eigh(matrix)
    return (vectors * np.maximum(values, 1e-12) ** power) @ vectors.T
