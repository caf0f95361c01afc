"""Treatment effects that transfer: a T-learner whose two outcome models are transfer methods.

A T-learner (Künzel et al., PNAS 2019) fits one outcome model per treatment arm and predicts
the conditional average treatment effect CATE(x) = mu1(x) - mu0(x). Here each arm's model is
any transfer method in skada's convention (``fit(X, y, *, sample_domain)``), so an effect
model built on one population is carried to another exactly as a dosing or diagnosis model
is: source rows of the arm, the arm's labelled target rows, and every unlabelled target row
(their features are what the adaptation aligns to; their treatment need not be known).
The same model on Domains, with encoders and a saved artifact, is
:class:`medtransfer.runs.effect.EffectPipeline`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from medtransfer.data.sample_domain import labelled_rows
from medtransfer.errors import ConfigError, DataError
from medtransfer.params import Constraints, Options, check_params


class TLearner(RegressorMixin, BaseEstimator):
    """CATE = mu1(x) - mu0(x), one (transfer) outcome model per treatment arm.

    Parameters
    ----------
    estimator : estimator
        Outcome model cloned for each arm: a transfer method (fitted with
        ``sample_domain``) or a plain regressor/classifier (fitted on labelled rows).
    response : {"auto", "predict", "proba"}, default="auto"
        How an arm's outcome is read: "proba" takes ``predict_proba[:, 1]`` (a binary
        outcome: the effect is a risk difference), "predict" the prediction; "auto" uses
        "proba" when the fitted arm models are classifiers (have ``classes_``).

    Attributes
    ----------
    control_model_, treated_model_ : estimator
        The fitted outcome models of arm 0 and arm 1.
    n_rows_ : dict
        Labelled rows per arm and domain that each model learnt from.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "response": Options("auto", "predict", "proba"),
    }

    def __init__(self, estimator: BaseEstimator, response: str = "auto") -> None:
        self.estimator = estimator
        self.response = response

    def fit(self, X, y, *, treatment, sample_domain=None) -> TLearner:
        """Fit one outcome model per arm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked rows (source and target when ``sample_domain`` is given).
        y : array-like of shape (n_samples,)
            Outcomes; NaN (regression) or -1 (classification) for unlabelled target rows.
        treatment : array-like of shape (n_samples,)
            1 treated, 0 control; NaN allowed only on unlabelled rows (they then join both
            arms' fits as unlabelled target rows).
        sample_domain : array-like of shape (n_samples,), optional
            Positive for source rows, negative for target rows (skada's convention).
        """
        check_params(self)
        X, y = np.asarray(X), np.asarray(y)
        arm = self._check_treatment(treatment, y)
        labelled = labelled_rows(y)
        domain = None if sample_domain is None else np.asarray(sample_domain).ravel()
        if domain is not None and len(domain) != len(y):
            raise DataError(f"sample_domain has {len(domain)} entries for {len(y)} rows")
        self.n_rows_ = {}
        models = []
        for value in (0, 1):
            rows = (arm == value) | (~labelled & np.isnan(arm))
            if domain is None:
                rows &= labelled
            name = "treated" if value else "control"
            if not (rows & labelled).any():
                raise ConfigError(f"the {name} arm has no labelled rows; a T-learner needs "
                                  "outcomes in both arms")
            self.n_rows_[name] = self._counts(rows & labelled, domain)
            model = clone(self.estimator)
            if domain is None:
                models.append(model.fit(X[rows], y[rows]))
            else:
                models.append(model.fit(X[rows], y[rows], sample_domain=domain[rows]))
        self.control_model_, self.treated_model_ = models
        self.n_features_in_ = X.shape[1]
        return self

    @staticmethod
    def _check_treatment(treatment, y: np.ndarray) -> np.ndarray:
        try:
            arm = np.asarray(treatment, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DataError("treatment must be numeric: 1 treated, 0 control, NaN "
                            "unknown (unlabelled rows only)") from None
        if len(arm) != len(y):
            raise DataError(f"treatment has {len(arm)} entries for {len(y)} rows")
        known = arm[~np.isnan(arm)]
        if not np.isin(known, (0, 1)).all():
            raise DataError(f"treatment values {sorted(set(known) - {0.0, 1.0})[:5]} are not "
                            "0 (control) or 1 (treated)")
        labelled = labelled_rows(y)
        if np.isnan(arm[labelled]).any():
            raise DataError(f"{int(np.isnan(arm[labelled]).sum())} labelled row(s) have no "
                            "treatment; an outcome is only usable with its arm")
        return arm

    @staticmethod
    def _counts(rows: np.ndarray, domain) -> dict[str, int]:
        if domain is None:
            return {"all": int(rows.sum())}
        return {"source": int((rows & (domain > 0)).sum()),
                "target": int((rows & (domain < 0)).sum())}

    def _outcome(self, model: BaseEstimator, X) -> np.ndarray:
        use_proba = self.response == "proba" or (
            self.response == "auto" and hasattr(model, "classes_"))
        if use_proba:
            proba = np.asarray(model.predict_proba(X))
            if proba.shape[1] != 2:
                raise ConfigError("response='proba' needs a binary outcome; use 'predict'")
            return proba[:, 1]
        return np.asarray(model.predict(X), dtype=float).ravel()

    def predict_outcomes(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Predicted outcomes (mu0, mu1) under control and under treatment."""
        check_is_fitted(self, "treated_model_")
        X = np.asarray(X)
        return self._outcome(self.control_model_, X), self._outcome(self.treated_model_, X)

    def predict(self, X) -> np.ndarray:
        """Conditional average treatment effect mu1(x) - mu0(x)."""
        mu0, mu1 = self.predict_outcomes(X)
        return mu1 - mu0
