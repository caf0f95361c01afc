"""Protected columns: features that an alignment or a harmonisation must leave as they are.

A site effect is a difference in how a quantity is measured; a difference in who the
patients are (genotype, weight, age, co-medication) is biology, and it is what a dose or a
risk model needs. Aligning such a column erases it: on the IWPC warfarin sites, standardising
weight and VKORC1 genotype within each site took away the covariates that carry the
East-Asian dose difference. The methods that move table columns (per-site standardisation,
ComBat, CORAL, subspace alignment, the optimal-transport maps) therefore take ``protect``,
the positions of columns they never move; ComBat also keeps their effect on the other
columns (Johnson et al. 2007's covariates).

A protected column of a table is protected in every encoded feature derived from it (its
missingness indicator, its one-hot columns): :func:`encoded_columns` finds them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from medtransfer.adapt.domain_estimator import AdaptedEstimator, DomainRows
from medtransfer.errors import ConfigError
from medtransfer.features.tabular import TabularEncoder


def source_columns(encoder: TabularEncoder) -> list[str]:
    """The table column each output feature of a fitted encoder is derived from.

    Parameters
    ----------
    encoder : TabularEncoder
        Fitted; its output is numeric columns, then their missingness indicators, then the
        one-hot columns of each categorical column (``get_feature_names_out``'s order).

    Returns
    -------
    list of str
        One column name per output feature.
    """
    one_hot = [c for c, values in encoder.categories_.items() for _ in values]
    return [*encoder.numeric_, *encoder.indicators_, *one_hot]


def encoded_columns(encoder: TabularEncoder, protect: Sequence[str]) -> tuple[int, ...]:
    """Positions of the encoded features derived from the table columns ``protect``.

    Parameters
    ----------
    encoder : TabularEncoder
        Fitted encoder of the table.
    protect : sequence of str
        Table columns to protect; each must be an input column of the encoder.

    Returns
    -------
    tuple of int
        Feature positions, ascending (empty for a column the encoder dropped as mostly
        missing: nothing of it reaches the model).

    Raises
    ------
    ConfigError
        When a name is not a column of the table.
    """
    known = [str(c) for c in encoder.feature_names_in_]
    unknown = [c for c in protect if c not in known]
    if unknown:
        raise ConfigError(
            f"--protect: column(s) {unknown} not in the table; its feature columns are "
            f"{known}. Pass names from that list, comma-separated"
        )
    wanted = set(protect)
    return tuple(i for i, column in enumerate(source_columns(encoder)) if column in wanted)


def check_protect(protect: Sequence[int], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """The free and the protected column positions, ``protect`` checked against the width.

    Raises
    ------
    ConfigError
        When a position is not an int in ``[0, n_features)``, or every column is protected.
    """
    kept = np.asarray(list(protect), dtype=object)
    bad = [p for p in kept if not isinstance(p, int | np.integer) or not 0 <= p < n_features]
    if bad:
        raise ConfigError(
            f"protect={list(protect)}: position(s) {bad} are not column indices of the "
            f"{n_features} features; pass ints in [0, {n_features})"
        )
    kept = np.unique(kept.astype(int))
    if len(kept) == n_features:
        raise ConfigError(
            f"protect covers all {n_features} features, so nothing is left to align; protect "
            "fewer columns or use a method that does not move features (source_only, pooled)"
        )
    return np.setdiff1d(np.arange(n_features), kept), kept


class ColumnProtecting(AdaptedEstimator):
    """An adaptation that moves the free columns only; the protected ones pass unchanged.

    Subclasses implement ``_adapt_free(X, y, rows, covariates)`` and
    ``_map_free(X, code, covariates)`` on the free columns; ``covariates`` are the protected
    columns, which an adaptation may condition on (ComBat) but never changes. The output has
    the input's columns in their places when the adaptation keeps the feature space, else
    the adapted space followed by the protected columns.

    Attributes
    ----------
    standardize_protected : bool
        Class attribute: pass the protected columns standardised by one mean and scale for
        all rows (the same map for every domain, so nothing is aligned), for adaptations whose
        output is on a standardised scale that the final predictor does not rescale.
    free_, protected_ : ndarray of int
        Positions of the adapted and of the protected columns.
    protected_location_, protected_scale_ : ndarray
        The shared standardisation of the protected columns (0 and 1 when not standardised).
    """

    standardize_protected: ClassVar[bool] = False

    def set_unprotected(self, n_features: int) -> ColumnProtecting:
        """Set the state of a fit that protected nothing, for an adapter whose learned state
        is set from statistics rather than fitted on rows (the federated adapters).

        Parameters
        ----------
        n_features : int
            Width of the rows the adapter maps.

        Returns
        -------
        self
        """
        self.free_, self.protected_ = np.arange(n_features), np.arange(0)
        self.protected_location_, self.protected_scale_ = np.zeros(0), np.ones(0)
        return self

    def _adapt(self, X, y, rows: DomainRows):
        self.free_, self.protected_ = check_protect(self.protect, X.shape[1])
        kept = X[:, self.protected_]
        standardize = self.standardize_protected and kept.shape[1] > 0
        self.protected_location_ = kept.mean(axis=0) if standardize else np.zeros(kept.shape[1])
        scale = kept.std(axis=0) if standardize else np.ones(kept.shape[1])
        self.protected_scale_ = np.where(scale > 1e-12, scale, 1.0)
        out, weight = self._adapt_free(X[:, self.free_], y, rows, kept)
        return self._join(out, kept), weight

    @abstractmethod
    def _adapt_free(self, X, y, rows: DomainRows,
                    covariates: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Adapt the free columns ``X`` (see ``AdaptedEstimator._adapt``)."""

    @abstractmethod
    def _map_free(self, X: np.ndarray, code: int, covariates: np.ndarray) -> np.ndarray:
        """Free columns of rows of the domain ``code`` in the adapted space."""

    def _map_target(self, X):
        return self._map_domain(X, -1)

    def _map_domain(self, X, code):
        kept = X[:, self.protected_]
        return self._join(self._map_free(X[:, self.free_], code, kept), kept)

    def _join(self, adapted: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """Adapted free columns and protected columns, in the input's order if possible."""
        kept = (kept - self.protected_location_) / self.protected_scale_
        if not kept.shape[1]:
            return adapted
        if not (self.keeps_feature_space and adapted.shape[1] == len(self.free_)):
            return np.hstack([adapted, kept])
        out = np.empty((len(adapted), len(self.free_) + len(self.protected_)))
        out[:, self.free_], out[:, self.protected_] = adapted, kept
        return out
