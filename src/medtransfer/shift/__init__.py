"""Shift diagnosis: two-sample tests, label-prior shift, missingness and per-feature drift."""

from medtransfer.shift.attribution import attribute_shift
from medtransfer.shift.conditional import per_class_shift
from medtransfer.shift.embedding import embed_domains, plot_domains
from medtransfer.shift.label_shift import bbse_weights, label_shift_estimate
from medtransfer.shift.leakage import LeakageCheck, check_leakage
from medtransfer.shift.report import ShiftReport, measure_shift
from medtransfer.shift.tabular import adjust_p_values, feature_drift, missingness_shift
from medtransfer.shift.two_sample import classifier_test, mmd_test

__all__ = [
    "LeakageCheck",
    "ShiftReport",
    "adjust_p_values",
    "attribute_shift",
    "bbse_weights",
    "check_leakage",
    "classifier_test",
    "embed_domains",
    "feature_drift",
    "label_shift_estimate",
    "measure_shift",
    "missingness_shift",
    "mmd_test",
    "per_class_shift",
    "plot_domains",
]
