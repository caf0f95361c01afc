"""The root typer app and the decorator every command module registers with."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import typer

from medtransfer.errors import MedTransferError

app = typer.Typer(
    name="medtransfer",
    help="Transfer learning for medicine: carry a model from a source domain to a target domain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _one_line_warning(message: Warning | str, *args: Any, **kwargs: Any) -> None:
    typer.echo(f"warning: {message}", err=True)


def _engine_scope(engine: str):
    from medtransfer.features.engine import engine_scope  # torch loads only where it is used

    return engine_scope(engine)


def command(name: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register ``func`` as ``medtransfer NAME``; user errors become one line and exit code 2."""

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kw: Any) -> Any:
            try:
                # --engine, where a command has it, holds for everything the command extracts
                engine = _engine_scope(kw["engine"]) if "engine" in kw else nullcontext()
                with warnings.catch_warnings(), engine:
                    warnings.showwarning = _one_line_warning
                    return func(*args, **kw)
            except MedTransferError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
            finally:
                # outputs claimed by the command (never imported just for this: it is heavy)
                if "medtransfer.artifacts" in sys.modules:
                    sys.modules["medtransfer.artifacts"].release_all()

        return app.command(name, **kwargs)(wrapper)

    return decorator
