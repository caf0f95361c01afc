"""Final predictors: classifiers and regressors, including parameter-transfer models."""

from medtransfer.models.classifiers import CLASSIFIERS, fit_weighted, make_classifier

__all__ = ["CLASSIFIERS", "fit_weighted", "make_classifier"]
