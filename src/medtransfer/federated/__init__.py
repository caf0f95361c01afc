"""Federated transfer: sites share aggregates and model updates, never rows.

The statistics protocol (:func:`table_schema`, :func:`compute_site_statistics`, the
``*_from_statistics`` adapters) needs only numpy. Training and validation across sites run
on Flower (``pip install medtransfer[fl]``), imported only by
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
from medtransfer.federated.moments import Moments, combine, moments_of
from medtransfer.federated.schema import encoder_digest, encoder_from_schemas, table_schema
from medtransfer.federated.site_stats import SiteStatistics, compute_site_statistics

__all__ = [
    "Moments",
    "SiteStatistics",
    "combat_from_statistics",
    "combine",
    "compute_site_statistics",
    "coral_from_statistics",
    "encoder_digest",
    "encoder_from_schemas",
    "ledoit_wolf_covariance",
    "moments_of",
    "shared_features",
    "site_standardized_from_statistics",
    "table_schema",
    "with_head",
]
