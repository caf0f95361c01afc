"""Parameter and instance transfer for regression: TransferRidge and two-stage TrAdaBoost.R2.

Both follow skada's domain convention: ``fit(X, y, *, sample_domain)`` on one stacked ``X``
with ``sample_domain > 0`` for source rows, ``< 0`` for target rows, and ``y = NaN`` for
unlabelled target rows (ignored here: both methods learn from labelled rows only).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.validation import check_array, check_is_fitted

from medtransfer.data.sample_domain import domain_masks
from medtransfer.errors import ConfigError, DataError
from medtransfer.models.classifiers import fit_weighted
from medtransfer.params import Constraints, Interval, check_params


def regression_rows(X, y, sample_domain, method: str, min_target: int = 1):
    """Validated ``(X, y, source_mask, target_mask)`` of the labelled rows.

    Raises DataError for a non-numeric target or mismatched lengths and ConfigError when
    there are no labelled source rows or fewer than ``min_target`` labelled target rows.
    """
    X = check_array(X, dtype=float, ensure_all_finite="allow-nan")
    try:
        y = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError):
        raise DataError(
            f"{method}: the regression target y holds non-numeric values; expected numbers "
            "(NaN for unlabelled target rows): convert it with pandas.to_numeric"
        ) from None
    sample_domain = np.asarray(sample_domain).ravel()
    if not len(X) == len(y) == len(sample_domain):
        raise DataError(
            f"{method}: X has {len(X)} rows, y {len(y)} and sample_domain {len(sample_domain)};"
            " pass one y and one sample_domain entry per row"
        )
    source, target = domain_masks(y, sample_domain)
    if not source.any() or target.sum() < min_target:
        raise ConfigError(
            f"{method} needs labelled source rows (sample_domain > 0) and at least "
            f"{min_target} labelled target row(s) (sample_domain < 0, y not NaN); got "
            f"{int(source.sum())} and {int(target.sum())}: pass --target-labels K ≥ {min_target}"
        )
    return X, y, source, target


class TransferRidge(RegressorMixin, BaseEstimator):
    """Ridge regression pulled toward the source model's coefficients.

    Solves ``min_w,b ‖y_t - X_t w - b‖² + λ‖w - w_s‖²`` on the labelled target rows, where
    ``w_s`` comes from a ridge fitted on the source and the intercept ``b`` is free (so a
    shift of the mean dose is learnt from the target alone). The closed form equals a ridge
    fitted to the source model's target residuals, which is how it is computed (sklearn's
    Ridge, exact). Features are standardised with the source rows' mean and scale.

    Parameters
    ----------
    lam : float or None, default=None
        The pull λ toward the source; None chooses it from ``lambdas`` by leave-one-out
        cross-validation on the labelled target rows (with fewer than 3 rows: the largest).
    lambdas : tuple of float
        Candidate values of λ.
    source_alpha : float, default=1.0
        Ridge penalty of the source model.
    """

    def __init__(
        self,
        lam: float | None = None,
        lambdas: tuple[float, ...] = (0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 1e4),
        source_alpha: float = 1.0,
    ) -> None:
        self.lam = lam
        self.lambdas = lambdas
        self.source_alpha = source_alpha

    def fit(self, X, y, *, sample_domain) -> TransferRidge:
        """Fit the source ridge, then the target ridge pulled toward it."""
        X, y, source, target = regression_rows(X, y, sample_domain, "transfer_ridge")
        self.scaler_ = StandardScaler().fit(X[source])
        Xs, Xt = self.scaler_.transform(X[source]), self.scaler_.transform(X[target])
        self.source_model_ = Ridge(alpha=self.source_alpha).fit(Xs, y[source])
        residual = y[target] - self.source_model_.predict(Xt)
        self.lambda_ = self._choose_lambda(Xt, residual)
        correction = Ridge(alpha=self.lambda_).fit(Xt, residual)
        self.coef_ = self.source_model_.coef_ + correction.coef_
        self.intercept_ = float(self.source_model_.intercept_ + correction.intercept_)
        self.n_features_in_ = X.shape[1]
        return self

    def _choose_lambda(self, Xt: np.ndarray, residual: np.ndarray) -> float:
        if self.lam is not None:
            return float(self.lam)
        if len(residual) < 3:  # too few rows to cross-validate: trust the source
            return float(max(self.lambdas))
        return float(RidgeCV(alphas=np.asarray(self.lambdas, dtype=float)).fit(
            Xt, residual).alpha_)

    def predict(self, X) -> np.ndarray:
        """Predict with the transferred coefficients."""
        check_is_fitted(self, "coef_")
        X = check_array(X, dtype=float)
        return self.scaler_.transform(X) @ self.coef_ + self.intercept_


def weighted_median(predictions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per column of ``predictions`` (n_models, n_samples), the weight-weighted median."""
    order = np.argsort(predictions, axis=0)
    cumulative = np.cumsum(weights[order], axis=0)
    first = np.argmax(cumulative >= 0.5 * cumulative[-1], axis=0)
    chosen = order[first, np.arange(predictions.shape[1])]
    return predictions[chosen, np.arange(predictions.shape[1])]


class TrAdaBoostR2(RegressorMixin, BaseEstimator):
    """Two-stage TrAdaBoost.R2 (Pardoe & Stone, ICML 2010): boosting for regression transfer.

    Stage 1 lowers the weight of source rows the current model fits badly, step by step,
    until the labelled target rows carry all the weight (``n_steps`` steps, the target's
    share rising linearly from its size share to 1). At each step, stage 2 scores
    AdaBoost.R2' — AdaBoost.R2 (Drucker 1997) that reweights only target rows, source
    weights frozen — by K-fold cross-validation over the labelled target rows. The
    AdaBoost.R2' ensemble of the best step is the final model (weighted median).

    Parameters
    ----------
    estimator : regressor or None, default=None
        Base learner, fitted with ``sample_weight`` (a Pipeline gets it on its last step);
        None means a depth-4 regression tree.
    n_steps : int, default=10
        Stage-1 steps S.
    n_estimators : int, default=10
        Boosting iterations N of AdaBoost.R2'.
    n_folds : int, default=5
        Cross-validation folds F over the labelled target rows (fewer if fewer rows).
    random_state : int or None, default=None
        Seed of the fold assignment and of the default tree.

    Attributes
    ----------
    step_errors_ : ndarray of shape (n_steps,)
        Cross-validated mean squared error of each stage-1 step.
    best_step_ : int
        The step whose ensemble is kept.
    sample_weight_ : ndarray
        Weights (summing to 1) of the labelled rows, in their order in ``X``, at that step.
    source_weight_ : float
        Total weight of the source rows at that step.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "n_steps": Interval(int, 2, None),
        "n_estimators": Interval(int, 1, None),
        "n_folds": Interval(int, 2, None),
    }

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        n_steps: int = 10,
        n_estimators: int = 10,
        n_folds: int = 5,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_steps = n_steps
        self.n_estimators = n_estimators
        self.n_folds = n_folds
        self.random_state = random_state

    def fit(self, X, y, *, sample_domain) -> TrAdaBoostR2:
        """Run both stages on the labelled rows and keep the best step's ensemble."""
        check_params(self)
        X, y, source, target = regression_rows(X, y, sample_domain, "tradaboost_r2", 2)
        rows = source | target
        X, y, is_source = X[rows], y[rows], source[rows]
        weights = np.full(len(y), 1.0 / len(y))
        history, errors = [], []
        for step in range(self.n_steps):
            history.append(weights)
            errors.append(self._cv_error(X, y, is_source, weights))
            share = (~is_source).mean()
            share += (step + 1) / (self.n_steps - 1) * (1 - share)
            weights = self._reweight_source(X, y, is_source, weights, share)
        self.step_errors_ = np.asarray(errors)
        self.best_step_ = int(np.argmin(self.step_errors_))
        self.sample_weight_ = history[self.best_step_]
        self.source_weight_ = float(self.sample_weight_[is_source].sum())
        self.estimators_, self.estimator_weights_ = self._boost(
            X, y, is_source, history[self.best_step_])
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Weighted median of the best step's AdaBoost.R2' ensemble."""
        check_is_fitted(self, "estimators_")
        X = check_array(X, dtype=float, ensure_all_finite="allow-nan")
        return _ensemble_predict(self.estimators_, self.estimator_weights_, X)

    def _fit_one(self, X, y, weights) -> BaseEstimator:
        base = self.estimator if self.estimator is not None else DecisionTreeRegressor(
            max_depth=4, random_state=self.random_state)
        # Mean-one weights keep a ridge's penalty on the scale it was chosen for.
        return fit_weighted(clone(base), X, y, weights * len(weights) / weights.sum())

    def _boost(self, X, y, is_source, weights) -> tuple[list, np.ndarray]:
        """AdaBoost.R2' (target weights updated, source weights frozen)."""
        w, target = weights.copy(), ~is_source
        mass = w[target].sum()
        models, alphas = [], []
        for _ in range(self.n_estimators):
            model = self._fit_one(X, y, w)
            loss = _adjusted_loss(y, model.predict(X))
            eps = float(np.sum(w[target] * loss[target]) / mass)
            if eps >= 0.5 and models:
                break
            models.append(model)
            if eps <= 0 or eps >= 0.5:  # perfect, or a first model no better than chance
                alphas.append(1.0)
                break
            beta = eps / (1 - eps)
            alphas.append(np.log(1 / beta))
            w[target] *= beta ** (1 - loss[target])
            w[target] *= mass / w[target].sum()
        return models, np.asarray(alphas)

    def _cv_error(self, X, y, is_source, weights) -> float:
        """Mean squared error of AdaBoost.R2' on held-out target rows."""
        target_rows = np.flatnonzero(~is_source)
        folds = KFold(min(self.n_folds, len(target_rows)), shuffle=True,
                      random_state=self.random_state)
        squared = []
        for _, held in folds.split(target_rows):
            train = np.ones(len(y), dtype=bool)
            train[target_rows[held]] = False
            models, alphas = self._boost(X[train], y[train], is_source[train], weights[train])
            prediction = _ensemble_predict(models, alphas, X[target_rows[held]])
            squared.append((prediction - y[target_rows[held]]) ** 2)
        return float(np.mean(np.concatenate(squared)))

    def _reweight_source(self, X, y, is_source, weights, share: float) -> np.ndarray:
        """Shrink source weights by β^loss so that the target holds ``share`` of the total."""
        if share >= 1:
            return np.where(is_source, 0.0, weights) / weights[~is_source].sum()
        loss = _adjusted_loss(y, self._fit_one(X, y, weights).predict(X))[is_source]
        wanted = weights[~is_source].sum() * (1 - share) / share
        low, high = 0.0, 1.0
        for _ in range(60):  # bisection: the source mass grows monotonically with β
            beta = (low + high) / 2
            low, high = (beta, high) if np.sum(weights[is_source] * beta**loss) < wanted else (
                low, beta)
        new = weights.copy()
        new[is_source] *= ((low + high) / 2) ** loss
        return new / new.sum()


def _adjusted_loss(y: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Drucker's linear loss: absolute error over the largest absolute error."""
    error = np.abs(y - prediction)
    top = error.max()
    return error / top if top > 0 else np.zeros_like(error)


def _ensemble_predict(models: list, alphas: np.ndarray, X: np.ndarray) -> np.ndarray:
    return weighted_median(np.stack([m.predict(X) for m in models]), alphas)
