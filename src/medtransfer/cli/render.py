"""Terminal rendering of results (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

HEADLINE = (
    "auroc",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "brier",
    "mae",
    "pw20",
    "r2",
)


def format_interval(entry: dict) -> str:
    """'0.812 [0.771, 0.850]' from a {value, low, high} dict."""
    return f"{entry['value']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def print_metrics(metrics: dict[str, dict], title: str, console: Console | None = None) -> None:
    """One row per model, the headline metrics as columns, each with its 95% interval."""
    console = console or Console()
    if not metrics:
        console.print(f"{title}: no labelled held-out samples, so no metrics")
        return
    shown = [m for m in HEADLINE if any(m in row for row in metrics.values())]
    table = Table(title=f"{title} — 95% bootstrap intervals")
    table.add_column("model")
    for name in shown:
        table.add_column(name)
    for model, row in metrics.items():
        table.add_row(model, *(format_interval(row[m]) if m in row else "" for m in shown))
    console.print(table)
