"""``medtransfer methods``: list transfer methods, classifiers and backbones."""

from __future__ import annotations

import typer

from medtransfer.cli.app import command


@command("methods", epilog="Example:\n\n  medtransfer methods")
def methods() -> None:
    """List every transfer method with what it needs, then classifiers and backbones."""
    from rich.console import Console
    from rich.table import Table

    from medtransfer.adapt import METHODS
    from medtransfer.features import BACKBONES
    from medtransfer.models import CLASSIFIERS
    from medtransfer.registry import describe

    table = Table(title="transfer methods (--method)")
    for column in ("name", "description", "needs target labels", "tasks"):
        table.add_column(column)
    for name, method in METHODS.items():
        needs = "yes" if method.needs_target_labels else "no"
        table.add_row(name, method.description, needs, ", ".join(method.tasks))
    console = Console()
    console.print(table)
    for title, registry in (("classifiers (--classifier)", CLASSIFIERS), ("backbones", BACKBONES)):
        typer.echo(f"\n{title}:")
        for name, entry in registry.items():
            typer.echo(f"  {name:<22} {describe(entry)}")
