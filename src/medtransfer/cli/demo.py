"""``medtransfer demo``: end to end on the bundled real data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command
from medtransfer.cli.render import print_metrics


@command("demo", epilog="Example:\n\n  medtransfer demo --out ./medtransfer-demo")
def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the demo's runs and reports.")
    ] = Path("medtransfer-demo"),
    seed: opt.Seed = 0,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
) -> None:
    """Transfer heart-disease, pneumonia and warfarin-dosing models to a new site, and report."""
    from medtransfer.report import write_report
    from medtransfer.runs.demo import run_demo

    opt.check_seed(seed)
    start = time.perf_counter()
    for scenario, result in run_demo(out, force=force, seed=seed, progress=not quiet):
        typer.echo(f"\n{scenario.question}")
        print_metrics(result.manifest["metrics"], title=f"{scenario.name}: held-out target")
        typer.echo(f"auto chose: {result.model.chosen_method}")
        report = write_report(result.path)
        typer.echo(f"run: {result.path}   report: {report}")
    typer.echo(f"\ndemo finished in {time.perf_counter() - start:.0f} s; everything is in {out}/")
