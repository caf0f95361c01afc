"""The ``medtransfer`` command line: one module per command, registered on one app.

Command modules import the library lazily inside each command, so ``--help`` stays instant.
"""

from medtransfer.cli import (
    bench,
    demo,
    evaluate,
    extract,
    federated,
    fit,
    listing,
    plan,
    predict,
    rank,
    report,
    shift,
    site_stats,
    verify,
)
from medtransfer.cli.app import app

__all__ = [
    "app", "bench", "demo", "evaluate", "extract", "federated", "fit", "listing", "plan",
    "predict", "rank", "report", "shift", "site_stats", "verify",
]
