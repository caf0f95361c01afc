"""Federated transfer: sites share aggregates and model updates, never rows.

The statistics protocol (:func:`table_schema`, :func:`compute_site_statistics`, the
``*_from_statistics`` adapters, label-shift correction from confusion counts and Platt
recalibration by federated Newton) needs only numpy and scikit-learn. Training and
validation across sites run on Flower (``pip install medtransfer[fl]``), imported only by
``medtransfer.federated.flower``.
"""

from medtransfer.federated.adapters import (
    combat_from_statistics,
    coral_from_statistics,
    ledoit_wolf_covariance,
    shared_features,
    site_standardized_from_statistics,
    with_head,
)
from medtransfer.federated.label_shift import (
    confusion_release,
    em_release,
    label_shift_corrector,
    prediction_release,
    target_prior_from_statistics,
)
from medtransfer.federated.moments import Moments, combine, moments_of
from medtransfer.federated.recalibration import fit_platt, platt_recalibrator, platt_release
from medtransfer.federated.schema import encoder_digest, encoder_from_schemas, table_schema
from medtransfer.federated.site_stats import SiteStatistics, compute_site_statistics

__all__ = [
    "Moments",
    "SiteStatistics",
    "combat_from_statistics",
    "combine",
    "compute_site_statistics",
    "confusion_release",
    "coral_from_statistics",
    "em_release",
    "encoder_digest",
    "encoder_from_schemas",
    "fit_platt",
    "label_shift_corrector",
    "ledoit_wolf_covariance",
    "moments_of",
    "platt_recalibrator",
    "platt_release",
    "prediction_release",
    "shared_features",
    "site_standardized_from_statistics",
    "table_schema",
    "target_prior_from_statistics",
    "with_head",
]
