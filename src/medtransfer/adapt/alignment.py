"""Feature alignment and optimal-transport mapping, wrapping skada's adapters.

CORAL and subspace alignment map both domains into a common space; the OT mappings move the
source rows onto the target distribution (labelled target rows constrain the exact and
entropic plans so that classes are matched). The final predictor then learns from the mapped
source rows plus the labelled target rows. Columns in ``protect`` are not aligned (see
:mod:`medtransfer.adapt.protect`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import DomainRows, subsample_rows
from medtransfer.adapt.protect import ColumnProtecting
from medtransfer.data.sample_domain import target_type

_BLOCK = 8192  # rows mapped at a time


class AlignedEstimator(ColumnProtecting):
    """Fit a skada feature adapter on source + target, then the final predictor.

    Features are standardised (on all rows) before the adapter so that distances and
    covariances do not depend on the units of each column. For classification, a
    ``StandardScaler`` that opens the final predictor's pipeline is skipped: the mapped rows
    are already on that common scale, and standardising them a second time would re-inflate
    the directions the mapping shrank (see ``_final_predictor``).

    Parameters
    ----------
    estimator : estimator
        Final predictor.
    adapter : skada BaseAdapter
        Feature adapter (``CORALAdapter()``, ``OTMappingAdapter()``...), cloned at fit.
    max_samples : int or None, default=None
        Cap on the source and on the target rows the adapter is fitted on (subsampled with a
        warning when exceeded). Set it for adapters whose cost grows with n_source x n_target.
    random_state : int or None
        Seed of the subsampling.
    protect : sequence of int, default=()
        Positions of columns the adapter never sees; they reach the final predictor
        standardised like the adapter's input (one mean and scale for all rows).

    Attributes
    ----------
    adapter_ : fitted adapter
    scaler_ : StandardScaler
    """

    standardize_protected = True  # the mapped columns are on the joint standardised scale

    def __init__(
        self,
        estimator: BaseEstimator,
        adapter: BaseEstimator,
        max_samples: int | None = None,
        random_state: int | None = None,
        protect: Sequence[int] = (),
    ) -> None:
        super().__init__(estimator)
        self.adapter = adapter
        self.max_samples = max_samples
        self.random_state = random_state
        self.protect = protect

    def _fit_rows(self, rows: DomainRows) -> np.ndarray | slice:
        if self.max_samples is None:
            return slice(None)  # every row, and indexing with it copies nothing
        rng = np.random.default_rng(self.random_state)
        source = subsample_rows(rows.source, self.max_samples, rng)
        target = subsample_rows(rows.target, self.max_samples, rng)
        if len(source) < rows.source.sum() or len(target) < rows.target.sum():
            warnings.warn(
                f"{type(self.adapter).__name__} costs n_source x n_target memory; fitted on a "
                f"random subsample of {len(source)} source and {len(target)} target rows "
                f"(max_samples={self.max_samples}); all rows are still mapped",
                stacklevel=3,
            )
        return np.concatenate([source, target])

    def _adapt_free(self, X, y, rows, covariates):
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        fit = self._fit_rows(rows)
        domain = np.where(rows.source[fit], 1, -2)
        # Labels only help class-aware plans; regression targets would be read as classes.
        labels = None if target_type(y) == "regression" else y[fit]
        adapter = self._configured_adapter(Z[fit], domain)
        self.adapter_ = adapter.fit(Z[fit], labels, sample_domain=domain)
        out = np.empty((len(X), self._width(Z)))
        for mask, code in ((rows.source, 1), (rows.target, -2)):
            index = np.flatnonzero(mask)
            # in blocks, so the adapter's temporaries stay small at 100k rows
            for start in range(0, len(index), _BLOCK):
                block = index[start : start + _BLOCK]
                out[block] = self._map_scaled(Z[block], code)
        return out, None

    def _final_predictor(self, y: np.ndarray) -> BaseEstimator:
        """The final predictor, minus a leading ``StandardScaler`` for classification.

        The mapped rows keep the scale of the joint standardisation, but not unit variance:
        CORAL gives the source the target's covariance (a column the target hardly varies
        along stays small), entropic OT pulls source rows towards target barycentres, subspace
        alignment keeps the minor components small. A second standardisation, fitted on the
        mapped labelled rows, blows those directions back up to unit variance, where the
        L2 penalty no longer discounts them and source-specific noise enters the model. On
        the four heart-disease sites it cost, at k = 0, 0.010 AUROC for CORAL and 0.136 for
        entropic OT with the default logistic regression. Regression keeps the scaler (on
        the warfarin sites the effect was mixed).
        """
        final = clone(self.estimator)
        steps = getattr(final, "steps", None)
        if (target_type(y) == "classification" and steps and len(steps) > 1
                and isinstance(steps[0][1], StandardScaler)):
            final.set_params(**{steps[0][0]: "passthrough"})
        return final

    def _map_scaled(self, Z: np.ndarray, code: int) -> np.ndarray:
        """Standardised rows of one domain through the adapter (as source or as target)."""
        code = 1 if code > 0 else -2  # the adapter was fitted on one source, one target code
        return self.adapter_.transform(
            Z, sample_domain=np.full(len(Z), code), allow_source=code > 0
        )

    def _configured_adapter(self, Z: np.ndarray, domain: np.ndarray) -> BaseEstimator:
        adapter = clone(self.adapter)
        if "n_components" in adapter.get_params() and adapter.n_components is None:
            # PCA per domain cannot keep more components than the smaller domain has rows.
            smaller = min((domain > 0).sum(), (domain < 0).sum())
            adapter.set_params(n_components=int(min(smaller, Z.shape[1])))
        return adapter

    def _width(self, Z: np.ndarray) -> int:
        return self.adapter_.transform(Z[:1], sample_domain=np.array([-2])).shape[1]

    def _map_free(self, X, code, covariates):
        return self._map_scaled(self.scaler_.transform(X), code)

    @property
    def adaptation_uses_target_labels(self) -> bool:
        """False for the adapters whose fit reads only the rows' features and domains:
        skada's CORAL, subspace alignment (two PCAs) and the linear Monge map (POT's
        ``LinearTransport`` ignores ``ys``/``yt``). True for the exact and entropic OT plans,
        which use the labelled target rows to match classes, and for any other adapter."""
        from medtransfer.adapt.skada_adapters import (  # cheap once skada is loaded
            CORALAdapter,
            LinearOTMappingAdapter,
            SubspaceAlignmentAdapter,
        )

        label_free = (CORALAdapter, LinearOTMappingAdapter, SubspaceAlignmentAdapter)
        return type(self.adapter) not in label_free  # exact types: a subclass may read y

    @property
    def keeps_feature_space(self) -> bool:
        """False for adapters that project onto ``n_components`` (subspace alignment);
        True for those that move rows within the standardised features (CORAL, OT)."""
        return "n_components" not in self.adapter.get_params()


@register_method("coral", "CORAL: re-colour source features with the target covariance")
def _coral(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    # skada (which imports torch) is imported by the methods that use it, when built
    from medtransfer.adapt.skada_adapters import CORALAdapter

    return AlignedEstimator(estimator, CORALAdapter(reg="auto"), random_state=random_state)


@register_method(
    "subspace_alignment", "align the source PCA subspace with the target's (Fernando 2013)"
)
def _subspace_alignment(estimator: BaseEstimator, random_state: int | None = None):
    from medtransfer.adapt.skada_adapters import SubspaceAlignmentAdapter

    adapter = SubspaceAlignmentAdapter(n_components=None, random_state=random_state)
    return AlignedEstimator(estimator, adapter, random_state=random_state)


@register_method(
    "ot_exact",
    "exact optimal transport (EMD) of source onto target; n_s x n_t cost, max 2000 per side",
)
def _ot_exact(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    from medtransfer.adapt.skada_adapters import OTMappingAdapter

    return AlignedEstimator(
        estimator, OTMappingAdapter(), max_samples=2000, random_state=random_state
    )


@register_method(
    "ot_entropic",
    "entropic (Sinkhorn) optimal transport of source onto target; max 2000 rows per side",
)
def _ot_entropic(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    from medtransfer.adapt.skada_adapters import EntropicOTMappingAdapter

    adapter = EntropicOTMappingAdapter(reg_e=1.0, norm="median")
    return AlignedEstimator(estimator, adapter, max_samples=2000, random_state=random_state)


@register_method(
    "ot_linear", "linear (Gaussian) Monge mapping of source onto target; O(d^3), any n"
)
def _ot_linear(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    from medtransfer.adapt.skada_adapters import LinearOTMappingAdapter

    return AlignedEstimator(estimator, LinearOTMappingAdapter(reg=1e-3), random_state=random_state)
