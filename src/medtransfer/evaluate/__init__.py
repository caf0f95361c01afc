"""Clinical evaluation: metrics with bootstrap intervals, DeLong, calibration, subgroups, dosing."""

from medtransfer.evaluate.bootstrap import bootstrap_indices, evaluate_predictions
from medtransfer.evaluate.calibration import (
    Recalibrator,
    expected_calibration_error,
    reliability_diagram,
)
from medtransfer.evaluate.compare import compare_models
from medtransfer.evaluate.delong import delong_ci, delong_test
from medtransfer.evaluate.dosing import dosing_breakdown, dosing_metrics, mae, pw20, r2
from medtransfer.evaluate.metrics import classification_metrics, threshold_for_sensitivity
from medtransfer.evaluate.roc import roc_band
from medtransfer.evaluate.subgroups import age_bands, subgroup_metrics

__all__ = [
    "Recalibrator",
    "age_bands",
    "bootstrap_indices",
    "classification_metrics",
    "compare_models",
    "delong_ci",
    "delong_test",
    "dosing_breakdown",
    "dosing_metrics",
    "evaluate_predictions",
    "expected_calibration_error",
    "mae",
    "pw20",
    "r2",
    "reliability_diagram",
    "roc_band",
    "subgroup_metrics",
    "threshold_for_sensitivity",
]
