"""The ``medtransfer`` command line: one module per command, registered on one app.

Command modules import the library lazily inside each command, so ``--help`` stays instant.
"""

from medtransfer.cli import (  # noqa: I001
    bench, demo, evaluate, federated, fit, listing, predict, rank, report, shift, site_stats,
)
from medtransfer.cli.app import app

__all__ = [
    "app", "bench", "demo", "evaluate", "federated", "fit", "listing", "predict", "rank",
    "report", "shift", "site_stats",
]
