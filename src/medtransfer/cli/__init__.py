"""The ``medtransfer`` command line: one module per command, registered on one app."""

from medtransfer.cli.app import app

__all__ = ["app"]
