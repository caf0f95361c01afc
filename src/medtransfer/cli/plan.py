"""``medtransfer plan init``: write a site-adaptation plan for ``fit --plan``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import app
from medtransfer.errors import MedTransferError

plan_app = typer.Typer(
    help="Site-adaptation plans: allowed changes and acceptance bounds, checked by fit --plan.",
    no_args_is_help=True,
)
app.add_typer(plan_app, name="plan")


@plan_app.command(
    "init",
    epilog="Example:\n\n  medtransfer plan init -o PLAN.json\n\n"
    "  medtransfer fit heart.csv heart.csv ... --plan PLAN.json --strict -o runs/hungary",
)
def init(
    out: Annotated[Path, typer.Option("--out", "-o", help="Plan file to write (JSON).")],
    force: opt.Force = False,
) -> None:
    """Write a plan with the allowed methods, acceptance bounds and sequestered test set."""
    from medtransfer import artifacts
    from medtransfer.evaluate.plan import DEFAULT_PLAN

    try:
        if out.exists() and not force:
            raise MedTransferError(f"{out} exists; pass --force to replace it")
        artifacts.write_json(out, DEFAULT_PLAN)
    except MedTransferError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"plan written to {out}; edit its bounds, then fit with --plan {out}")
