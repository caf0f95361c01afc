"""Clinical evaluation: metrics with bootstrap intervals, DeLong, calibration, subgroups, dosing,
policy values."""

from medtransfer.evaluate.bootstrap import bootstrap_indices, evaluate_predictions
from medtransfer.evaluate.calibration import (
    Recalibrator,
    expected_calibration_error,
    reliability_diagram,
)
from medtransfer.evaluate.calibration_study import calibration_study, smoothed_calibration
from medtransfer.evaluate.compare import compare_models
from medtransfer.evaluate.decision_curve import decision_curve, net_benefit, operating_point
from medtransfer.evaluate.delong import delong_ci, delong_test
from medtransfer.evaluate.dosing import dosing_breakdown, dosing_metrics, mae, pw20, r2
from medtransfer.evaluate.metrics import classification_metrics, threshold_for_sensitivity
from medtransfer.evaluate.plan import check_plan, load_plan
from medtransfer.evaluate.policy_value import policy_values, propensity_scores
from medtransfer.evaluate.roc import roc_band
from medtransfer.evaluate.sample_size import sample_size_adequacy
from medtransfer.evaluate.subgroups import age_bands, subgroup_metrics

__all__ = [
    "Recalibrator",
    "age_bands",
    "bootstrap_indices",
    "calibration_study",
    "check_plan",
    "classification_metrics",
    "compare_models",
    "decision_curve",
    "delong_ci",
    "delong_test",
    "dosing_breakdown",
    "dosing_metrics",
    "evaluate_predictions",
    "expected_calibration_error",
    "load_plan",
    "mae",
    "net_benefit",
    "operating_point",
    "policy_values",
    "propensity_scores",
    "pw20",
    "r2",
    "reliability_diagram",
    "roc_band",
    "sample_size_adequacy",
    "smoothed_calibration",
    "subgroup_metrics",
    "threshold_for_sensitivity",
]
