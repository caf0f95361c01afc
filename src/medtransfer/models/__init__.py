"""Final predictors: classifiers and regressors, parameter-transfer models, dosing formulas,
PW20-optimal dose decisions, and T-learner treatment-effect models."""

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
from medtransfer.models.effects import TLearner
from medtransfer.models.svm import PlattSVC
from medtransfer.models.tolerance import PW20Decision, PW20Regressor
from medtransfer.models.transfer_regression import TrAdaBoostR2, TransferRidge

__all__ = [
    "CLASSIFIERS",
    "AdaptiveLogisticRegression",
    "AdaptiveSVC",
    "IWPCClinical",
    "IWPCPharmacogenetic",
    "PW20Decision",
    "PW20Regressor",
    "PlattSVC",
    "SqrtDoseRegressor",
    "TLearner",
    "TrAdaBoostClassifier",
    "TrAdaBoostR2",
    "TransferRidge",
    "fit_weighted",
    "make_classifier",
    "sqrt_dose",
]
