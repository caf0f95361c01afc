"""The self-contained HTML report of a run (figures embedded, model card included)."""

from medtransfer.report.html import write_report
from medtransfer.report.run import RunData, load_run

__all__ = ["RunData", "load_run", "write_report"]
