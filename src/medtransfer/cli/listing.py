"""``medtransfer methods | backbones | corruptions``: what the registries hold."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from medtransfer.cli.app import command


def _print_table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@command("methods", epilog="Example:\n\n  medtransfer methods")
def methods() -> None:
    """List every transfer method with what it needs, and the final classifiers."""
    from medtransfer.adapt import METHODS
    from medtransfer.finetune import TRANSFER_LOSSES
    from medtransfer.models import CLASSIFIERS
    from medtransfer.registry import describe

    rows = [
        (name, m.description, "yes" if m.needs_target_labels else "no", ", ".join(m.tasks))
        for name, m in METHODS.items()
    ]
    _print_table(
        "transfer methods (--method)", ("name", "description", "needs target labels", "tasks"), rows
    )
    rows = [(name, describe(factory)) for name, factory in CLASSIFIERS.items()]
    _print_table("final predictors (--classifier)", ("name", "description"), rows)
    rows = [(name, describe(factory)) for name, factory in TRANSFER_LOSSES.items()]
    _print_table(
        "fine-tuning transfer losses (--finetune LOSS, or auto to choose)",
        ("name", "description"), rows,
    )


@command("backbones", epilog="Example:\n\n  medtransfer backbones")
def backbones() -> None:
    """List the registered image backbones (any timm model is reachable as timm:<name>)."""
    from medtransfer.features import BACKBONES

    rows = [
        (name, str(c.input_size), str(c.feature_dim), c.licence, c.weights_source)
        for name, c in BACKBONES.items()
    ]
    _print_table(
        "backbones (--backbone; also timm:<name> with --weights FILE.safetensors)",
        ("name", "input size", "features", "licence", "weights"),
        rows,
    )


@command("corruptions", epilog="Example:\n\n  medtransfer corruptions")
def corruptions() -> None:
    """List the acquisition shifts that make a shifted image target (severities 1-5)."""
    from medtransfer.data import CORRUPTIONS, SEVERITIES
    from medtransfer.registry import describe

    rows = [
        (name, describe(entry), ", ".join(str(v) for v in SEVERITIES[name]))
        for name, entry in CORRUPTIONS.items()
    ]
    _print_table("acquisition shifts", ("name", "what it does", "severity 1-5"), rows)


@command("harmonizers", epilog="Example:\n\n  medtransfer harmonizers")
def harmonizers() -> None:
    """List the pixel harmonisers (--harmonize NAME, chained with +, or auto)."""
    from medtransfer.harmonize import HARMONIZERS
    from medtransfer.registry import describe

    rows = [
        (name, describe(cls), "colour" if cls.colour_only else "grey or colour")
        for name, cls in HARMONIZERS.items()
    ]
    _print_table(
        "pixel harmonisers (--harmonize NAME | a+b | auto | none)",
        ("name", "what it does", "images"), rows,
    )
