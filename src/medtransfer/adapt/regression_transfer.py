"""Register the regression transfer methods: transfer_ridge and tradaboost_r2."""

from __future__ import annotations

from sklearn.base import BaseEstimator

from medtransfer.adapt.base import register_method
from medtransfer.models.transfer_regression import TrAdaBoostR2, TransferRidge


@register_method(
    "transfer_ridge",
    "ridge on the k target labels pulled toward the source ridge's coefficients, λ by "
    "leave-one-out CV (linear; ignores the chosen final predictor)",
    needs_target_labels=True,
    tasks=("regression",),
)
def _transfer_ridge(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return TransferRidge()


@register_method(
    "tradaboost_r2",
    "two-stage TrAdaBoost.R2: boosting that fades out source rows unlike the target, "
    "steps chosen by CV on the k target labels (final predictor as base learner)",
    needs_target_labels=True,
    tasks=("regression",),
)
def _tradaboost_r2(estimator: BaseEstimator, random_state: int | None = None) -> BaseEstimator:
    return TrAdaBoostR2(estimator, random_state=random_state)
