"""Parameter transfer with few target labels: adaptive SVM and logistic regression, TrAdaBoost.

The adaptive linear models (Yang et al. 2007) learn target weights ``w`` that stay close to
the weights ``w_s`` of a model trained on the source::

    min_w  1/2 ||w - w_s||^2 + C * sum_i loss(y_i, w . x_i + b)

With ``C -> 0`` they return the source model; with large ``C`` they approach the model trained
on the target alone. Without ``source_coef`` they are plain linear classifiers.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from medtransfer.data.sample_domain import labelled_rows
from medtransfer.errors import ConfigError, DataError
from medtransfer.models.classifiers import fit_weighted


class _SourceRegularizedLinear(ClassifierMixin, BaseEstimator):
    """Shared fit/predict of the linear models regularised toward source weights."""

    def __init__(
        self,
        C: float = 1.0,
        source_coef: np.ndarray | None = None,
        source_intercept: np.ndarray | None = None,
        classes: np.ndarray | None = None,
        class_weight: dict | str | None = None,
        max_iter: int = 1000,
    ) -> None:
        self.C = C
        self.source_coef = source_coef
        self.source_intercept = source_intercept
        self.classes = classes
        self.class_weight = class_weight
        self.max_iter = max_iter

    def _set_classes(self, y: np.ndarray) -> None:
        check_classification_targets(y)
        self.classes_ = np.unique(y) if self.classes is None else np.unique(self.classes)
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise DataError(
                f"labels {unknown.tolist()} are not among classes {self.classes_.tolist()}; "
                "pass every class of the source model in `classes`"
            )
        if len(self.classes_) < 2:
            raise DataError(
                f"only one class ({self.classes_.tolist()}) is present; a classifier needs at "
                "least two classes, pass `classes` or label samples of another class"
            )

    def _prior(self, n_rows: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        """Source weights (n_rows, n_features) and intercepts (n_rows,), zero when absent."""
        if self.source_coef is None:
            return np.zeros((n_rows, n_features)), np.zeros(n_rows)
        coef = np.atleast_2d(np.asarray(self.source_coef, dtype=float))
        if coef.shape != (n_rows, n_features):
            raise ConfigError(
                f"source_coef has shape {coef.shape}, expected {(n_rows, n_features)} "
                f"({len(self.classes_)} classes, {n_features} features); fit the source "
                "model on the same features and classes"
            )
        intercept = self.source_intercept
        intercept = np.zeros(n_rows) if intercept is None else np.ravel(intercept).astype(float)
        return coef, intercept

    def _weights(self, X, y, sample_weight) -> np.ndarray:
        weight = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
        if weight.shape != (len(X),):
            raise DataError(
                f"sample_weight has shape {weight.shape}, expected ({len(X)},): one weight per row"
            )
        if not weight.any():
            raise DataError(
                "sample_weight is all zero: no row would count; give some rows a positive weight"
            )
        if self.class_weight is not None:
            weight = weight * compute_sample_weight(self.class_weight, y)
        return weight * self.C

    def decision_function(self, X) -> np.ndarray:
        """Signed scores ``X @ coef_.T + intercept_`` (1-D for two classes)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        scores = X @ self.coef_.T + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """The most probable class."""
        check_is_fitted(self, "coef_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class AdaptiveSVC(_SourceRegularizedLinear):
    """Adaptive linear SVM (A-SVM, Yang et al. 2007): hinge loss, weights pulled to ``source_coef``.

    Solved in the dual, a box-constrained QP in one variable per sample, by coordinate descent;
    the intercept is regularised toward the source intercept like liblinear's. Multi-class
    is one-vs-rest. Probabilities are a softmax/sigmoid of the decision values with one
    temperature fitted on the training rows (so ``predict`` is the SVM's own decision).
    Cost: O(n * d) memory per class.

    Parameters
    ----------
    C : float, default=1.0
        Weight of the target hinge loss against ``||w - w_s||^2``.
    source_coef : ndarray of shape (n_classes or 1, n_features), optional
        Source SVM weights (``coef_`` of a source model); zeros when omitted.
    source_intercept : ndarray of shape (n_classes or 1,), optional
        Source intercepts.
    classes : array-like, optional
        All classes (those of the source model) when the target labels miss some.
    class_weight : dict, "balanced" or None
        Per-class weights of the loss.
    max_iter : int, default=1000
        Solver iterations (epochs over the rows for the SVM, L-BFGS steps for logistic).
    """

    def fit(self, X, y, sample_weight=None) -> AdaptiveSVC:
        """Fit the target SVM regularised toward the source weights."""
        X, y = validate_data(self, X, y)
        self._set_classes(y)
        problems = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        coef0, intercept0 = self._prior(len(problems), X.shape[1])
        upper = self._weights(X, y, sample_weight)
        Xb = np.hstack([X, np.ones((len(X), 1))])
        coef = np.empty_like(coef0)
        intercept = np.empty(len(problems))
        self.n_iter_ = 0
        for k, positive in enumerate(problems):
            prior = np.append(coef0[k], intercept0[k])
            w = prior + self._dual_step(Xb, np.where(y == positive, 1.0, -1.0), prior, upper)
            coef[k], intercept[k] = w[:-1], w[-1]
        self.coef_, self.intercept_ = coef, intercept
        self.temperature_ = _fit_temperature(self.decision_function(X), y, self.classes_, upper)
        return self

    def _dual_step(self, Xb, signs, prior, upper) -> np.ndarray:
        """Dual coordinate descent (liblinear's, started at the source weights): the change v."""
        G = signs[:, None] * Xb
        diagonal = np.einsum("ij,ij->i", G, G)
        alpha = np.zeros(len(G))
        w = prior.copy()
        order = np.random.default_rng(0)  # fixed: the solution does not depend on the order
        epochs = 0
        while epochs < self.max_iter:
            epochs += 1
            largest = 0.0
            for i in order.permutation(len(G)):
                gradient = G[i] @ w - 1.0
                new = min(max(alpha[i] - gradient / max(diagonal[i], 1e-12), 0.0), upper[i])
                step = new - alpha[i]
                if step != 0.0:
                    largest = max(largest, abs(step) * diagonal[i])
                    w += step * G[i]
                    alpha[i] = new
            if largest < 1e-8:
                break
        self.n_iter_ = max(self.n_iter_, epochs)
        return w - prior

    def predict_proba(self, X) -> np.ndarray:
        """Temperature-scaled probabilities; their argmax is the SVM decision."""
        return _scores_to_proba(self.decision_function(X) * self.temperature_)


class AdaptiveLogisticRegression(_SourceRegularizedLinear):
    """Logistic regression whose weights are pulled toward ``source_coef`` (not the intercept).

    Binary: one sigmoid; multi-class: multinomial softmax. Solved in the primal with L-BFGS.
    Without ``source_coef`` it is sklearn's L2 ``LogisticRegression``. Cost: O(n * d).

    Parameters
    ----------
    C, source_coef, source_intercept, classes, class_weight, max_iter
        As in :class:`AdaptiveSVC` (logistic instead of hinge loss; the source intercept
        only initialises the solver).
    """

    def fit(self, X, y, sample_weight=None) -> AdaptiveLogisticRegression:
        """Fit the target model regularised toward the source weights."""
        X, y = validate_data(self, X, y)
        self._set_classes(y)
        n_rows = 1 if len(self.classes_) == 2 else len(self.classes_)
        coef0, intercept0 = self._prior(n_rows, X.shape[1])
        onehot = (y[:, None] == self.classes_[None, :]).astype(float)
        targets = onehot[:, 1:] if n_rows == 1 else onehot
        weight = self._weights(X, y, sample_weight)
        start = np.concatenate([coef0.ravel(), intercept0])
        result = minimize(
            _logistic_objective, start, args=(X, targets, weight, coef0), jac=True,
            method="L-BFGS-B", options={"maxiter": self.max_iter, "gtol": 1e-8},
        )
        d = X.shape[1]
        self.n_iter_ = int(result.nit)
        self.coef_ = result.x[: n_rows * d].reshape(n_rows, d)
        self.intercept_ = result.x[n_rows * d :]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities."""
        return _scores_to_proba(self.decision_function(X))


def _logistic_objective(params, X, targets, weight, coef0) -> tuple[float, np.ndarray]:
    n_rows, d = coef0.shape
    W = params[: n_rows * d].reshape(n_rows, d)
    b = params[n_rows * d :]
    Z = X @ W.T + b
    if n_rows == 1:
        loss = np.logaddexp(0.0, Z) - targets * Z
        grad_z = expit(Z) - targets
    else:
        loss = -(targets * log_softmax(Z, axis=1)).sum(axis=1, keepdims=True)
        grad_z = softmax(Z, axis=1) - targets
    grad_z = grad_z * weight[:, None]
    diff = W - coef0
    value = float(weight @ loss.sum(axis=1)) + 0.5 * float(np.sum(diff**2))
    grad = np.concatenate([(grad_z.T @ X + diff).ravel(), grad_z.sum(axis=0)])
    return value, grad


def _scores_to_proba(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 1:
        positive = expit(scores)
        return np.column_stack([1.0 - positive, positive])
    return softmax(scores, axis=1)


def _fit_temperature(scores, y, classes, weight) -> float:
    """The positive scale of the scores that minimises the weighted log-loss on (scores, y)."""
    codes = np.searchsorted(classes, y)

    def log_loss(log_t: float) -> float:
        proba = _scores_to_proba(scores * np.exp(log_t))
        picked = np.clip(proba[np.arange(len(y)), codes], 1e-12, 1.0)
        return -float(np.average(np.log(picked), weights=weight))

    return float(np.exp(minimize_scalar(log_loss, bounds=(-5, 5), method="bounded").x))


class TrAdaBoostClassifier(ClassifierMixin, BaseEstimator):
    """TrAdaBoost (Dai et al. 2007): boosting that fades out misleading source rows.

    Each round fits ``estimator`` on source + labelled target rows; misclassified source rows
    lose weight, misclassified target rows gain weight as in AdaBoost (0/1 loss, so it also
    runs multi-class). The second half of the rounds vote with weights log(1/beta_t).
    Cost: ``n_estimators`` fits of the base learner.

    Parameters
    ----------
    estimator : estimator, optional
        Base learner accepting sample weights; a depth-3 decision tree when omitted.
    n_estimators : int, default=10
        Boosting rounds.
    random_state : int or None
        Seed of the default base learner.

    Attributes
    ----------
    estimators_, estimator_weights_ : list, ndarray
        Voting learners and their weights.
    """

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        n_estimators: int = 10,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X, y, *, sample_domain=None) -> TrAdaBoostClassifier:
        """Fit on stacked rows; ``sample_domain > 0`` source, else target (-1 = unlabelled)."""
        X, y = validate_data(self, X, y)
        domain = -np.ones(len(y)) if sample_domain is None else np.asarray(sample_domain)
        labelled = labelled_rows(y, "classification")
        X, y, source = X[labelled], y[labelled], domain[labelled] > 0
        if source.all():
            raise ConfigError(
                "method 'tradaboost' needs labelled target rows (sample_domain < 0, y != -1); "
                "pass --target-labels K with K > 0"
            )
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        weight = np.ones(len(y))
        beta = 1.0 / (1.0 + np.sqrt(2.0 * np.log(max(source.sum(), 2)) / self.n_estimators))
        learners, betas = [], []
        for _ in range(self.n_estimators):
            learner = self._fit_learner(X, y, weight / weight.sum())
            wrong = learner.predict(X) != y
            error = np.clip(weight[~source] @ wrong[~source] / weight[~source].sum(), 1e-10, 0.499)
            beta_t = error / (1.0 - error)
            penalty = np.where(source, beta**wrong, beta_t ** -wrong.astype(float))
            weight = weight * penalty
            learners.append(learner)
            betas.append(beta_t)
        half = self.n_estimators // 2
        self.estimators_ = learners[half:]
        self.estimator_weights_ = np.log(1.0 / np.asarray(betas[half:]))
        return self

    def _fit_learner(self, X, y, weight) -> BaseEstimator:
        base = self.estimator or DecisionTreeClassifier(max_depth=3, random_state=self.random_state)
        # Weights sum to 1; scale to n so learners with weight-dependent defaults behave.
        return fit_weighted(clone(base), X, y, weight * len(y))

    def predict_proba(self, X) -> np.ndarray:
        """Vote-weighted average of the learners' class probabilities."""
        check_is_fitted(self, "estimators_")
        X = validate_data(self, X, reset=False)
        total = np.zeros((len(X), len(self.classes_)))
        for learner, w in zip(self.estimators_, self.estimator_weights_, strict=True):
            columns = np.searchsorted(self.classes_, learner.classes_)
            total[:, columns] += w * learner.predict_proba(X)
        return total / total.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The class with the largest weighted vote."""
        proba = self.predict_proba(X)  # checks the fit before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]
