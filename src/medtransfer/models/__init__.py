"""Final predictors: classifiers and regressors, parameter-transfer models, dosing formulas."""

from medtransfer.models.adaptive import (
    AdaptiveLogisticRegression,
    AdaptiveSVC,
    TrAdaBoostClassifier,
)
from medtransfer.models.classifiers import CLASSIFIERS, fit_weighted, make_classifier
from medtransfer.models.dosing import (
    IWPCClinical,
    IWPCPharmacogenetic,
    SqrtDoseRegressor,
    sqrt_dose,
)
from medtransfer.models.svm import PlattSVC
from medtransfer.models.transfer_regression import TrAdaBoostR2, TransferRidge

__all__ = [
    "CLASSIFIERS",
    "AdaptiveLogisticRegression",
    "AdaptiveSVC",
    "IWPCClinical",
    "IWPCPharmacogenetic",
    "PlattSVC",
    "SqrtDoseRegressor",
    "TrAdaBoostClassifier",
    "TrAdaBoostR2",
    "TransferRidge",
    "fit_weighted",
    "make_classifier",
    "sqrt_dose",
]
