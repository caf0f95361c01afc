"""Instance reweighting under covariate shift: KMM, KLIEP and a classifier density ratio.

Each source row gets an importance weight w(x) ~ p_target(x) / p_source(x), normalised to
mean 1 and clipped at ``max_weight``; labelled target rows keep weight 1. The weighted final
predictor is then fitted on source + labelled target rows. ``ess_`` reports the effective
sample size of the source weights, (sum w)^2 / sum w^2; a warning says when it is tiny.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import AdaptedEstimator, DomainRows, subsample_rows
from medtransfer.errors import DataError

TINY_ESS_FRACTION = 0.1


def effective_sample_size(weight: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of non-negative weights."""
    total = float(np.sum(weight))
    squares = float(np.sum(np.square(weight)))
    return total**2 / squares if squares > 0 else 0.0


def clip_weights(weight: np.ndarray, max_weight: float) -> np.ndarray:
    """Weights with mean 1 and none above ``max_weight`` (>= 1): clip and renormalise."""
    weight = np.clip(np.asarray(weight, dtype=float), 0.0, None)
    if weight.sum() <= 0:
        return np.ones_like(weight)
    # Renormalising after a clip can lift the clipped rows again; repeat until stable.
    for _ in range(100):
        weight = weight / weight.mean()
        if weight.max() <= max_weight * (1 + 1e-9):
            break
        weight = np.minimum(weight, max_weight)
    return weight


class ReweightedEstimator(AdaptedEstimator):
    """Base class: importance weights for source rows, then a weighted final predictor.

    Parameters
    ----------
    estimator : estimator
        Final predictor; must accept ``sample_weight``.
    max_weight : float, default=10.0
        Clip of the normalised weights (bounds the variance they add); it cannot hold when
        fewer than n_source / max_weight rows have a positive weight.
    random_state : int or None
        Seed of any random step.

    Attributes
    ----------
    source_weights_ : ndarray of shape (n_source,)
        Final (normalised, clipped) weights of the source rows, in row order.
    ess_ : float
        Effective sample size of ``source_weights_``.
    unclipped_ess_ : float
        Effective sample size before clipping (warned about below 10% of the source rows).
    """

    adaptation_effect = "reweighted"
    # The weights estimate p_target(x) / p_source(x) from the rows' features and domains only
    # (KMM, KLIEP, the domain classifier); subclasses that read y must set this back to True.
    uses_target_labels = False

    def __init__(
        self, estimator: BaseEstimator, max_weight: float = 10.0, random_state: int | None = None
    ) -> None:
        super().__init__(estimator)
        self.max_weight = max_weight
        self.random_state = random_state

    def training_weights(self, sample_domain) -> np.ndarray:
        """Weight of each training row: ``source_weights_`` on source rows, 1 on target rows.

        Parameters
        ----------
        sample_domain : array-like of shape (n_samples,)
            Domain codes of the rows ``fit`` was given, in the same order.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "source_weights_")
        source = np.asarray(sample_domain) > 0
        if source.sum() != len(self.source_weights_):
            raise DataError(
                f"{type(self).__name__} was fitted on {len(self.source_weights_)} source rows "
                f"but sample_domain marks {int(source.sum())}; pass the domain codes of the "
                "rows fit was given, in the same order"
            )
        weight = np.ones(len(source))
        weight[source] = self.source_weights_
        return weight

    @abstractmethod
    def _source_weights(self, Z: np.ndarray, rows: DomainRows) -> np.ndarray:
        """Estimated p_target / p_source of each source row."""

    def _adapt(self, X, y, rows):
        Z = StandardScaler().fit(X).transform(X)
        raw = self._source_weights(Z, rows)
        if not np.all(np.isfinite(raw)):
            raise DataError(
                f"{type(self).__name__}: the density-ratio estimate diverged "
                f"({int(np.sum(~np.isfinite(raw)))} non-finite weights of {len(raw)}); the domains "
                "barely overlap in these features: use density_ratio, kmm or a feature-alignment "
                "method instead"
            )
        source_weights = clip_weights(raw, self.max_weight)
        self.source_weights_ = source_weights
        self.ess_ = effective_sample_size(source_weights)
        self.unclipped_ess_ = effective_sample_size(np.clip(raw, 0.0, None))
        n_source = int(rows.source.sum())
        if self.unclipped_ess_ < TINY_ESS_FRACTION * n_source:
            warnings.warn(
                f"{type(self).__name__}: effective sample size {self.unclipped_ess_:.1f} of "
                f"{n_source} source rows ({self.ess_:.1f} after clipping the weights at "
                f"{self.max_weight}); the domains barely overlap, so the weighted model rests on "
                "few rows; prefer a feature-alignment method or more target labels",
                stacklevel=3,
            )
        weight = np.ones(len(X))
        weight[rows.source] = source_weights
        return X, weight


class KMMReweighted(ReweightedEstimator):
    """Kernel mean matching (Huang et al. 2007) via skada's ``KMMReweightAdapter``.

    Cost: a quadratic programme over m = min(n_source, max_samples) rows, O(m^2) memory;
    above ``max_samples`` the weights of the other source rows are kernel-interpolated.

    Parameters
    ----------
    estimator, max_weight, random_state
        See :class:`ReweightedEstimator`.
    max_samples : int, default=2000
        Source and target rows the QP is solved on.
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        max_weight: float = 10.0,
        max_samples: int = 2000,
        random_state: int | None = None,
    ) -> None:
        super().__init__(estimator, max_weight, random_state)
        self.max_samples = max_samples

    def _source_weights(self, Z, rows):
        rng = np.random.default_rng(self.random_state)
        source = subsample_rows(rows.source, self.max_samples, rng)
        target = subsample_rows(rows.target, self.max_samples, rng)
        if len(source) < rows.source.sum() or len(target) < rows.target.sum():
            warnings.warn(
                f"KMM costs n_source^2 memory; solved on {len(source)} source and {len(target)} "
                f"target rows (max_samples={self.max_samples}), other weights interpolated",
                stacklevel=4,
            )
        fit = np.concatenate([source, target])
        domain = np.where(rows.source[fit], 1, -2)
        from medtransfer.adapt.skada_adapters import KMMReweightAdapter  # skada: when used

        adapter = KMMReweightAdapter(gamma=1.0 / Z.shape[1], B=self.max_weight, max_iter=1000)
        adapter.fit(Z[fit], sample_domain=domain)
        smooth = len(source) < rows.source.sum()
        adapter.set_params(smooth_weights=smooth)
        weights = adapter.compute_weights(Z[rows.source], sample_domain=np.ones(rows.source.sum()))
        return weights


class KLIEPReweighted(ReweightedEstimator):
    """KLIEP (Sugiyama et al. 2008) via skada's ``KLIEPReweightAdapter``.

    The kernel width is chosen by likelihood cross-validation among three scales. Cost:
    O(n * n_centers) memory with at most 100 target centres.
    """

    def _source_weights(self, Z, rows):
        scale = 1.0 / Z.shape[1]
        from medtransfer.adapt.skada_adapters import KLIEPReweightAdapter

        adapter = KLIEPReweightAdapter(
            gamma=[0.1 * scale, scale, 10 * scale], cv=3, random_state=self.random_state
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Maximum iteration reached")
            domain = np.where(rows.source, 1, -2)[rows.source | rows.target]
            adapter.fit(Z[rows.source | rows.target], sample_domain=domain)
        return adapter.compute_weights(Z[rows.source], sample_domain=np.ones(rows.source.sum()))


class DensityRatioReweighted(ReweightedEstimator):
    """Density ratio from a source-vs-target logistic classifier, cross-fitted.

    w(x) = P(target | x) / P(source | x) * n_source / n_target, with each source row scored
    by a classifier that did not see it (3 folds), so that overfitting does not inflate the
    weights. Cost: a few logistic fits, O(n * d) memory.
    """

    def _source_weights(self, Z, rows):
        used = rows.source | rows.target
        is_target = rows.target[used].astype(int)
        Zu = Z[used]
        p_target = np.zeros(len(Zu))
        folds = StratifiedKFold(3, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(Zu, is_target):
            model = LogisticRegression(C=1.0, max_iter=2000).fit(Zu[train], is_target[train])
            p_target[test] = model.predict_proba(Zu[test])[:, 1]
        p_target = np.clip(p_target[is_target == 0], 1e-6, 1 - 1e-6)
        prior_ratio = (is_target == 0).sum() / max(is_target.sum(), 1)
        return p_target / (1 - p_target) * prior_ratio


@register_method("kmm", "kernel mean matching: weight source rows to match the target mean")
def _kmm(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return KMMReweighted(estimator, random_state=random_state)


@register_method("kliep", "KLIEP: importance weights by KL-fitting the target density")
def _kliep(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return KLIEPReweighted(estimator, random_state=random_state)


@register_method(
    "density_ratio", "importance weights from a cross-fitted source-vs-target classifier"
)
def _density_ratio(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return DensityRatioReweighted(estimator, random_state=random_state)
