"""The root typer app and the decorator every command module registers with."""

from __future__ import annotations

import functools
import inspect
import sys
import typing
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import typer
from typer.core import TyperOption
from typer.models import OptionInfo

from medtransfer.cli.options import parameter_message
from medtransfer.errors import MedTransferError
from medtransfer.params import ParameterError

# typer 0.20 (the `fl` extra: Flower pins it) lacks this hook; its help then keeps "<bool>"
_typer_option_type = getattr(TyperOption, "display_type_rich", None)


def _option_type(self: TyperOption, ctx: Any) -> str | None:
    """Help's type column: none for a flag (typer 0.29 prints '<bool>'), and a repeatable
    option's element type with '...' instead of '<list[Path]>'."""
    if self.is_flag:
        return None
    shown = _typer_option_type(self, ctx)
    if shown and shown.startswith("<list[") and shown.endswith("]>"):
        return f"<{shown[6:-2].lower()}>..."
    return shown


# typer offers no setting for this column; one override here covers every command
if _typer_option_type is not None:
    TyperOption.display_type_rich = _option_type

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


def _flags(func: Callable) -> set[str]:
    """Every flag of a command, read from its typer options."""
    hints = typing.get_type_hints(func, include_extras=True)
    infos = [*(getattr(hint, "__metadata__", ()) for hint in hints.values()),
             *((p.default,) for p in inspect.signature(func).parameters.values())]
    # in Annotated[..., typer.Option("--flag")] typer takes the first argument, stored as
    # the default, for a flag name
    return {decl for group in infos for info in group if isinstance(info, OptionInfo)
            for decl in (info.default, *(info.param_decls or ()))
            if isinstance(decl, str) and decl.startswith("--")}


def _message(err: MedTransferError, flags: set[str]) -> str:
    """The one line a user error prints; a parameter error names the command's flag."""
    return parameter_message(err, flags) if isinstance(err, ParameterError) else str(err)


def command(name: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register ``func`` as ``medtransfer NAME``; user errors become one line and exit code 2."""

    def decorator(func: Callable) -> Callable:
        flags = _flags(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kw: Any) -> Any:
            try:
                # --engine, where a command has it, holds for everything the command extracts
                engine = _engine_scope(kw["engine"]) if "engine" in kw else nullcontext()
                with warnings.catch_warnings(), engine:
                    warnings.showwarning = _one_line_warning
                    return func(*args, **kw)
            except MedTransferError as err:
                typer.echo(f"error: {_message(err, flags)}", err=True)
                raise typer.Exit(2) from None
            finally:
                # outputs claimed by the command (never imported just for this: it is heavy)
                if "medtransfer.artifacts" in sys.modules:
                    sys.modules["medtransfer.artifacts"].release_all()

        return app.command(name, **kwargs)(wrapper)

    return decorator


def _print_version(value: bool) -> None:
    if value:
        from medtransfer import __version__

        typer.echo(f"medtransfer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Transfer learning for medicine: carry a model from a source domain to a target domain."""
