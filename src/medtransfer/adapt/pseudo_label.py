"""Learning from the unlabelled target: class-balanced self-training and label spreading.

Both start from the same place: every feature standardised within its own domain (the
target with the target's statistics, :class:`~medtransfer.adapt.harmonize.SiteStandardized`;
on frozen image features this is the feature-level analogue of AdaBN), and the final
predictor fitted on the labelled rows there. They differ in how they label target rows:

- :class:`SelfTraining` (class-balanced self-training, Zou et al. 2018, CBST) takes, in each
  class the model predicts, the most confident share of the target rows as pseudo-labels,
  refits on source + labelled target + pseudo-labelled target, and repeats with a growing
  share until the pseudo-label set stops changing. Taking a share *per predicted class*
  keeps a rare class from being drowned by a confident majority class.
- :class:`TargetLabelSpreading` builds a k-nearest-neighbour graph of the target rows alone
  and spreads labels over it (scikit-learn's ``LabelSpreading``, Zhou et al. 2004) from the
  labelled target rows and the most confident, class-balanced predictions of the source
  model; the final predictor then learns from the spread labels. It uses the target's own
  cluster structure, which a classifier trained on the source does not see.

Pseudo-labelled rows share the training weight with the source: together they weigh
``target_share`` of the total, as the labelled target rows do in ``pooled``.
Classification only; deterministic given the final predictor's seed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.decomposition import PCA
from sklearn.semi_supervised import LabelSpreading
from sklearn.utils.validation import check_is_fitted

from medtransfer.adapt.base import register_method
from medtransfer.adapt.domain_estimator import check_domain_inputs
from medtransfer.adapt.harmonize import SiteStandardized
from medtransfer.data.sample_domain import target_type
from medtransfer.errors import ConfigError
from medtransfer.models.classifiers import fit_weighted
from medtransfer.params import Constraints, Interval, check_params


def confident_per_class(proba: np.ndarray, classes: np.ndarray, share: float) -> np.ndarray:
    """Indices of the most confident ``share`` of the rows predicted as each class.

    Parameters
    ----------
    proba : ndarray of shape (n_rows, n_classes)
        Class probabilities, columns in the order of ``classes``.
    classes : ndarray of shape (n_classes,)
        Class labels of the columns.
    share : float
        Share (0-1] of each predicted class kept (at least one row of a class predicted at all).

    Returns
    -------
    ndarray of int
        Sorted row indices.
    """
    predicted = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    chosen = []
    for c in range(len(classes)):
        rows = np.flatnonzero(predicted == c)
        if len(rows):
            n = max(1, int(np.ceil(share * len(rows))))
            chosen.append(rows[np.argsort(-confidence[rows], kind="stable")[:n]])
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


class _PseudoLabelTransfer(ClassifierMixin, BaseEstimator):
    """Shared steps: domain standardisation, the initial model, and the weighted final fit."""

    _parameter_constraints: ClassVar[Constraints] = {
        "target_share": Interval(float, 0, 1, closed="neither",
                                 hint="the share of the training weight of the target rows"),
    }

    def __init__(self, estimator: BaseEstimator, target_share: float = 0.5) -> None:
        self.estimator = estimator
        self.target_share = target_share

    def _start(self, X, y, sample_domain):
        check_params(self)
        X, y, rows = check_domain_inputs(X, y, sample_domain)
        if target_type(y) == "regression":
            raise ConfigError(
                f"method {type(self).__name__} is for classification (pseudo-labels are "
                "classes); choose a regression method from `medtransfer methods`"
            )
        self.standardizer_ = SiteStandardized(self.estimator).fit(X, y, sample_domain=rows.codes)
        Z = self.standardizer_.transform_domains(X, rows.codes)
        self.classes_ = self.standardizer_.classes_
        return Z, y, rows

    def _fit_with(self, Z, y, rows, pseudo: np.ndarray, pseudo_y: np.ndarray) -> BaseEstimator:
        """The final predictor on the labelled rows plus ``pseudo`` rows labelled ``pseudo_y``."""
        labelled = np.flatnonzero(rows.labelled)
        train = np.r_[labelled, pseudo]
        labels = np.r_[y[labelled], pseudo_y]
        weight = None
        if len(pseudo):
            n_l, n_p = len(labelled), len(pseudo)
            weight = np.r_[np.full(n_l, (1 - self.target_share) * (n_l + n_p) / n_l),
                           np.full(n_p, self.target_share * (n_l + n_p) / n_p)]
        return fit_weighted(clone(self.estimator), Z[train], labels, weight)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of target rows."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(self.standardizer_.transform_target(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of target rows."""
        proba = self.predict_proba(X)  # checks the fit before classes_ is read
        return self.classes_[proba.argmax(axis=1)]


class SelfTraining(_PseudoLabelTransfer):
    """Class-balanced self-training on domain-standardised features (CBST).

    Round ``t`` keeps, in each class the current model predicts, the most confident
    ``min(max_share, start_share + (t - 1) * step_share)`` of the unlabelled target rows, and
    refits the final predictor on them plus the labelled rows. It stops when a round keeps
    the same rows with the same labels as the round before (once the share stops growing),
    or after ``max_iter`` rounds. Cost: ``max_iter + 1`` fits of the final predictor.

    Parameters
    ----------
    estimator : estimator
        Final predictor with ``predict_proba``.
    start_share, step_share, max_share : float, default=0.2, 0.2, 0.8
        Share of each predicted class pseudo-labelled in the first round, its growth per
        round, and its ceiling.
    max_iter : int, default=6
        Most rounds.
    target_share : float, default=0.5
        Share of the total training weight given to the pseudo-labelled rows.

    Attributes
    ----------
    history_ : list of dict
        Per round: share, pseudo-labelled rows, their mean confidence, and how many of them
        changed (entered, left or changed label) since the round before.
    n_iter_ : int
        Rounds run.
    """

    def __init__(self, estimator: BaseEstimator, *, start_share: float = 0.2,
                 step_share: float = 0.2, max_share: float = 0.8, max_iter: int = 6,
                 target_share: float = 0.5) -> None:
        super().__init__(estimator, target_share)
        self.start_share = start_share
        self.step_share = step_share
        self.max_share = max_share
        self.max_iter = max_iter

    def fit(self, X, y, *, sample_domain) -> SelfTraining:
        """Standardise each domain, then pseudo-label and refit until the labels settle."""
        Z, y, rows = self._start(X, y, sample_domain)
        unlabelled = np.flatnonzero(rows.unlabelled_target)
        model, previous, self.history_ = self.standardizer_.estimator_, {}, []
        for t in range(1, max(1, self.max_iter) + 1):
            share = min(self.max_share, self.start_share + (t - 1) * self.step_share)
            proba = model.predict_proba(Z[unlabelled])
            chosen = confident_per_class(proba, self.classes_, share)
            labels = self.classes_[proba[chosen].argmax(axis=1)]
            current = dict(zip(unlabelled[chosen].tolist(), labels.tolist(), strict=True))
            changed = len(set(current.items()) ^ set(previous.items()))
            self.history_.append({"share": share, "n_pseudo": len(chosen), "changed": changed,
                                  "confidence": float(proba[chosen].max(axis=1).mean())
                                  if len(chosen) else float("nan")})
            if t > 1 and changed == 0:
                break
            model = self._fit_with(Z, y, rows, unlabelled[chosen], labels)
            previous = current
        self.estimator_, self.n_iter_ = model, len(self.history_)
        return self


class TargetLabelSpreading(_PseudoLabelTransfer):
    """Label spreading over the target's own k-nearest-neighbour graph, then a refit.

    Seeds: the labelled target rows and, in each class the source model predicts, its most
    confident ``seed_share`` of the unlabelled target rows (labelled with that prediction).
    ``LabelSpreading`` (k-NN kernel, clamping ``alpha``) spreads them over the graph of all
    target rows (principal components of the standardised target, at most ``n_components``);
    the final predictor then learns from every target row under its spread label. Cost: one
    PCA and one sparse propagation on the target rows, two fits of the final predictor.

    Parameters
    ----------
    estimator : estimator
        Final predictor with ``predict_proba``.
    n_neighbors : int, default=10
        Neighbours per target row in the graph.
    alpha : float, default=0.5
        How far the seeds' labels may move (0: clamped; towards 1: the graph decides).
    seed_share : float, default=0.5
        Share of each predicted class used as seeds.
    n_components : int, default=50
        Principal components the graph is built on.
    target_share : float, default=0.5
        Share of the total training weight given to the target rows with spread labels.

    Attributes
    ----------
    spreading_ : LabelSpreading
        The fitted propagation (``label_distributions_`` per target row).
    agreement_ : float
        Share of the seeds whose label the spreading kept.
    """

    def __init__(self, estimator: BaseEstimator, *, n_neighbors: int = 10, alpha: float = 0.5,
                 seed_share: float = 0.5, n_components: int = 50,
                 target_share: float = 0.5) -> None:
        super().__init__(estimator, target_share)
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.seed_share = seed_share
        self.n_components = n_components

    def fit(self, X, y, *, sample_domain) -> TargetLabelSpreading:
        """Seed the target graph, spread the labels, refit on them."""
        Z, y, rows = self._start(X, y, sample_domain)
        target = np.flatnonzero(rows.target)
        seeds = np.full(len(target), -1)
        codes = np.searchsorted(self.classes_, y[target])
        known = rows.labelled_target[target]
        seeds[known] = codes[known]
        unlabelled = np.flatnonzero(~known)
        proba = self.standardizer_.estimator_.predict_proba(Z[target[unlabelled]])
        chosen = unlabelled[confident_per_class(proba, self.classes_, self.seed_share)]
        seeds[chosen] = proba[np.searchsorted(unlabelled, chosen)].argmax(axis=1)
        n_neighbors = min(self.n_neighbors, len(target) - 1)
        width = min(self.n_components, len(target) - 1, Z.shape[1])
        graph = PCA(width, random_state=0).fit_transform(Z[target]) if width > 0 else Z[target]
        self.spreading_ = LabelSpreading(kernel="knn", n_neighbors=max(1, n_neighbors),
                                         alpha=self.alpha, max_iter=100).fit(graph, seeds)
        spread = self.spreading_.transduction_
        self.agreement_ = float(np.mean(spread[seeds >= 0] == seeds[seeds >= 0]))
        free = ~known
        self.estimator_ = self._fit_with(Z, y, rows, target[free], self.classes_[spread[free]])
        return self


@register_method(
    "self_training",
    "class-balanced self-training: confident pseudo-labels per class, refit until they settle",
    tasks=("classification",),
)
def _self_training(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return SelfTraining(estimator)


@register_method(
    "label_spreading",
    "spread labels over the target's own k-NN graph from confident source predictions",
    tasks=("classification",),
)
def _label_spreading(estimator: BaseEstimator, random_state: int | None = None):
    return TargetLabelSpreading(estimator)
