"""The shared shape of a transfer method: adapt on source + target, then fit the final predictor.

Every method here is fitted as ``fit(X, y, *, sample_domain)`` under skada's convention and
predicts on target rows with ``predict(X)`` (no ``sample_domain``: X is taken as target data).
Unlike skada's default pipelines, which mask every target label before the final estimator,
the final predictor here learns from the labelled source rows AND the labelled target rows;
rows with ``y = -1`` (or NaN for regression) only ever contribute their features.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from medtransfer.data.sample_domain import labelled_rows, target_type
from medtransfer.errors import DataError, OutOfMemoryError
from medtransfer.models.classifiers import fit_weighted


@dataclass(frozen=True)
class DomainRows:
    """Domain codes and boolean row masks of one stacked training set (skada convention)."""

    codes: np.ndarray
    source: np.ndarray
    target: np.ndarray
    labelled_source: np.ndarray
    labelled_target: np.ndarray

    @property
    def labelled(self) -> np.ndarray:
        """Rows whose label the final predictor may learn from."""
        return self.labelled_source | self.labelled_target

    @property
    def unlabelled_target(self) -> np.ndarray:
        """Target rows without a label."""
        return self.target & ~self.labelled_target


def check_features(X, what: str = "X") -> np.ndarray:
    """Return ``X`` as a finite 2-D float array or raise a DataError naming the fault."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise DataError(
            f"{what} must be a 2-D array (samples x features), got shape {X.shape}; "
            "reshape it, e.g. X.reshape(len(X), -1)"
        )
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{what} holds a missing or infinite value (row {row}, column {col}); "
            "encode missing values first, e.g. with medtransfer.features.TabularEncoder"
        )
    return X


def check_domain_inputs(X, y, sample_domain) -> tuple[np.ndarray, np.ndarray, DomainRows]:
    """Validate a stacked training set and return (X, y, row masks)."""
    X = check_features(X)
    y = np.asarray(y)
    domain = np.asarray(sample_domain)
    if len(y) != len(X) or len(domain) != len(X):
        raise DataError(
            f"X has {len(X)} rows but y has {len(y)} and sample_domain {len(domain)}; "
            "pass one label and one domain code per row"
        )
    if (domain == 0).any():
        raise DataError(
            "sample_domain contains 0; use a positive code for source rows and a negative "
            "code for target rows (skada's convention)"
        )
    labelled = labelled_rows(y)
    source, target = domain > 0, domain < 0
    rows = DomainRows(domain, source, target, source & labelled, target & labelled)
    if not rows.labelled_source.any() or not rows.target.any():
        raise DataError(
            f"need labelled source rows (sample_domain > 0) and target rows (sample_domain < 0); "
            f"got {int(rows.labelled_source.sum())} labelled source and "
            f"{int(rows.target.sum())} target rows"
        )
    return X, y, rows


def _final_has(attr: str):
    def check(self) -> bool:
        return hasattr(self.estimator, attr)

    return check


EFFECTS = ("mapped", "reweighted", "unchanged")


class AdaptedEstimator(BaseEstimator, ABC):
    """Base class: an adaptation step, then ``estimator`` fitted on the labelled rows.

    Subclasses implement ``_adapt(X, y, rows) -> (features, weights or None)`` for the
    training rows and ``_map_target(X)`` for new target rows; those that map source rows
    (or tell source domains apart) also override ``_map_domain(X, code)``, so that
    :meth:`transform_domains` shows every row as the final predictor sees it.

    Parameters
    ----------
    estimator : estimator
        Final predictor (see ``medtransfer.models.make_classifier``).

    Attributes
    ----------
    adaptation_effect : {"mapped", "reweighted"}
        Class attribute: "mapped" when the adaptation moves the features, "reweighted"
        when it only weights the training rows and leaves the features as they are.
    uses_target_labels : bool
        Class attribute: whether ``_adapt`` reads any target label, directly or through
        something fitted on them (pseudo-labels seeded by the labelled target rows, class-aware
        plans). True, the safe default, unless ``_adapt`` has been read and found to use only
        the features, the domain codes and the source labels; then the adaptation is the same
        for every choice of labelled target rows, and ``auto`` computes it once per selection
        (:class:`~medtransfer.adapt.fold_invariant.AdaptationCache`). A test proves each False.
    y_range_ : tuple of float or None
        Regression: the smallest and largest training label; predictions are clipped to it.
    """

    adaptation_effect: ClassVar[str] = "mapped"
    uses_target_labels: ClassVar[bool] = True

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    @abstractmethod
    def _adapt(self, X, y, rows: DomainRows) -> tuple[np.ndarray, np.ndarray | None]:
        """Features the final predictor learns from, and per-row weights (or None)."""

    def _map_target(self, X: np.ndarray) -> np.ndarray:
        return X

    def _map_domain(self, X: np.ndarray, code: int) -> np.ndarray:
        """Rows of the domain ``code`` in the final predictor's space (default: target rows
        through ``_map_target``, source rows unchanged)."""
        return self._map_target(X) if code < 0 else X

    def fit(self, X, y, *, sample_domain) -> AdaptedEstimator:
        """Adapt on all rows, then fit the final predictor on the labelled ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked source and target features.
        y : array-like of shape (n_samples,)
            Labels; -1 (classification) or NaN (regression) for unlabelled target rows.
        sample_domain : array-like of shape (n_samples,)
            > 0 for source rows, < 0 for target rows.

        Returns
        -------
        self
        """
        return self._fit_adapted(X, y, sample_domain, self._adapt)

    def _fit_adapted(self, X, y, sample_domain, adapt) -> AdaptedEstimator:
        """:meth:`fit` with ``adapt(X, y, rows)`` in place of ``_adapt`` (an AdaptationCache
        passes one that reuses a previous fit's adaptation)."""
        X, y, rows = check_domain_inputs(X, y, sample_domain)
        try:
            features, weight = adapt(X, y, rows)
            keep = rows.labelled
            weight = None if weight is None else weight[keep]
            # Weights are passed as step__sample_weight, which metadata routing (switched on
            # by anyone importing skada) would reject.
            with config_context(enable_metadata_routing=False):
                self.estimator_ = fit_weighted(self._final_predictor(y), features[keep],
                                               y[keep], weight)
        except MemoryError as err:
            raise OutOfMemoryError(
                f"{type(self).__name__} ran out of memory on {X.shape[0]} rows x {X.shape[1]} "
                f"features ({X.nbytes / 2**30:.2f} GiB as float64; the method holds a few "
                f"copies): {err}. Subsample the source rows, reduce the features (a smaller "
                "backbone or --image-size), or pick a lighter method (`medtransfer methods`)"
            ) from err
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        # Mapped target rows can land far outside what the predictor saw (a category that
        # only the target has, standardised within the target); a linear regression would
        # extrapolate without bound, so predictions stay within the labels it learnt from.
        self.y_range_ = ((float(np.min(y[keep])), float(np.max(y[keep])))
                         if target_type(y) == "regression" else None)
        self.n_features_in_ = X.shape[1]
        return self

    def _final_predictor(self, y: np.ndarray) -> BaseEstimator:
        """An unfitted copy of the final predictor (subclasses may adjust it to the adaptation)."""
        return clone(self.estimator)

    def transform_target(self, X) -> np.ndarray:
        """Target rows in the space the final predictor works in."""
        check_is_fitted(self, "estimator_")
        return self._map_target(check_features(X))

    def predict(self, X) -> np.ndarray:
        """Predict target rows (regression: within the range of the training labels)."""
        features = self.transform_target(X)  # checks the fit before estimator_ is read
        pred = self.estimator_.predict(features)
        if getattr(self, "y_range_", None) is not None:
            return np.clip(pred, *self.y_range_)
        return pred

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of target rows."""
        features = self.transform_target(X)
        return self.estimator_.predict_proba(features)

    def transform_domains(self, X, sample_domain) -> np.ndarray:
        """Rows of any domain in the space the final predictor works in.

        Source rows are mapped as the fit mapped the source (re-coloured by CORAL, moved
        by optimal transport, standardised with their own site's statistics, ...), target
        rows as :meth:`transform_target` maps them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked rows, in the feature space the method was fitted in.
        sample_domain : array-like of shape (n_samples,)
            > 0 for source rows, < 0 for target rows (skada's convention).

        Returns
        -------
        ndarray of shape (n_samples, n_adapted_features)
            The adapted features, rows in the order of ``X``.
        """
        check_is_fitted(self, "estimator_")
        X, codes = check_features(X), check_domain_codes(X, sample_domain)
        if not len(X):
            raise DataError("X has no rows to transform; pass at least one row")
        parts = {int(c): codes == c for c in np.unique(codes)}
        mapped = {c: self._map_domain(X[mask], c) for c, mask in parts.items()}
        width = next(iter(mapped.values())).shape[1]
        out = np.empty((len(X), width))
        for code, mask in parts.items():
            out[mask] = mapped[code]
        return out

    @property
    def adaptation_uses_target_labels(self) -> bool:
        """Whether this instance's adaptation reads target labels: the class's
        ``uses_target_labels``, refined by subclasses whose answer depends on a parameter."""
        return self.uses_target_labels

    @property
    def keeps_feature_space(self) -> bool:
        """Whether the adapted features are the input columns (moved, rescaled), not a new
        space such as a subspace or a kernel embedding; then before and after share axes."""
        return True

    def training_weights(self, sample_domain) -> np.ndarray | None:
        """Weight of each training row in the final predictor's fit, or None if unweighted.

        Parameters
        ----------
        sample_domain : array-like of shape (n_samples,)
            Domain codes of the rows ``fit`` was given, in the same order.

        Returns
        -------
        ndarray of shape (n_samples,) or None
            None for methods that do not weight rows (the default).
        """
        check_is_fitted(self, "estimator_")
        return None


@dataclass(frozen=True)
class AdaptedFeatures:
    """Rows of a stacked set as a fitted transfer method's final predictor sees them.

    Attributes
    ----------
    features : ndarray of shape (n_samples, n_adapted_features)
        The adapted features (the input features themselves when ``effect`` is not
        "mapped").
    weight : ndarray of shape (n_samples,) or None
        Training weight of each row, for methods that reweight rows and only when the rows
        are the ones the method was fitted on; None otherwise.
    effect : {"mapped", "reweighted", "unchanged"}
        What the adaptation does to the features: moves them, weights the rows and leaves
        the features as they are, or leaves them as they are (baselines, parameter
        transfer, label-shift correction).
    same_space : bool
        True when ``features`` has the input's columns (possibly moved or rescaled); False
        when the method works in a space of its own (a subspace, a kernel embedding).
    """

    features: np.ndarray
    weight: np.ndarray | None
    effect: str
    same_space: bool = True


def adapted_features(
    method: BaseEstimator, X, sample_domain, *, fitted_rows: bool = False
) -> AdaptedFeatures:
    """What the final predictor of a fitted transfer method sees of each row.

    Works for every registered method: an :class:`AdaptedEstimator` maps the rows with
    :meth:`~AdaptedEstimator.transform_domains`; a selector that wraps a fitted method as
    ``estimator_`` (the "auto" method) is looked through; any other method uses the
    features as they are (effect "unchanged").

    Parameters
    ----------
    method : estimator
        A fitted transfer method (``fit(X, y, *, sample_domain)``).
    X : array-like of shape (n_samples, n_features)
        Stacked source and target rows in the method's input feature space.
    sample_domain : array-like of shape (n_samples,)
        > 0 for source rows, < 0 for target rows.
    fitted_rows : bool, default=False
        Declare that ``X`` holds exactly the rows the method was fitted on, in that order;
        then the training weights of a reweighting method are returned too.

    Returns
    -------
    AdaptedFeatures
    """
    X, codes = check_features(X), check_domain_codes(X, sample_domain)
    adapted = _adapting_estimator(method)
    if adapted is None:
        return AdaptedFeatures(X, None, "unchanged")
    weight = adapted.training_weights(codes) if fitted_rows else None
    return AdaptedFeatures(
        adapted.transform_domains(X, codes),
        weight,
        adapted.adaptation_effect,
        adapted.keeps_feature_space,
    )


def _adapting_estimator(method: BaseEstimator, depth: int = 3) -> AdaptedEstimator | None:
    """``method`` if it adapts features, else the fitted method a selector wraps, else None."""
    for _ in range(depth):
        if isinstance(method, AdaptedEstimator):
            return method
        method = getattr(method, "estimator_", None)
        if method is None:
            return None
    return None


def check_domain_codes(X: np.ndarray, sample_domain) -> np.ndarray:
    """``sample_domain`` as an array, checked against ``X`` (one non-zero code per row)."""
    codes = np.asarray(sample_domain)
    if codes.shape != (len(X),):
        raise DataError(
            f"X has {len(X)} rows but sample_domain has shape {codes.shape}; pass one domain "
            "code per row"
        )
    if (codes == 0).any():
        raise DataError(
            "sample_domain contains 0; use a positive code for source rows and a negative "
            "code for target rows (skada's convention)"
        )
    return codes.astype(int)


def subsample_rows(
    mask: np.ndarray, max_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices of at most ``max_samples`` rows of ``mask``, drawn without replacement."""
    index = np.flatnonzero(mask)
    if len(index) <= max_samples:
        return index
    return np.sort(rng.choice(index, max_samples, replace=False))
