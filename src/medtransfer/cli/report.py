"""``medtransfer report``: one self-contained HTML report of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command


@command(
    "report", epilog="Example:\n\n  medtransfer report runs/hungary   # runs/hungary/report.html"
)
def report(
    run: Annotated[Path, typer.Argument(help="Run folder written by `medtransfer fit`.")],
    verify_key: opt.VerifyKey = None,
    force: opt.Force = False,
) -> None:
    """Write RUN/report.html: data, shift, method and why, metrics with intervals, model card."""
    from medtransfer.report import write_report

    opt.verified(run, verify_key)
    typer.echo(f"report written to {write_report(run, force=force)}")
