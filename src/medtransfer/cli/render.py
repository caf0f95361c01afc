"""Terminal rendering of results (rich tables)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

HEADLINE = {
    "auroc": "AUROC",
    "balanced_accuracy": "bal. accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "mae": "MAE",
    "pw20": "PW20",
    "r2": "R²",
}


DEGENERATE_NOTE = (
    "* an interval of zero width: every bootstrap resample gave the same value, which means "
    "too few held-out cases (e.g. a class with 1 or 2), not certainty"
)


def few_cases_note(labels: Iterable[str], limit: int = 2) -> str | None:
    """A note naming the held-out classes with at most ``limit`` cases (None if none): their
    recall, and the balanced accuracy and AUROC averaged over classes, rest on those cases."""
    counts = Counter(label for label in labels if label != "")
    few = sorted((n, c) for c, n in counts.items() if n <= limit)
    if not few:
        return None
    named = ", ".join(f"{c!r} ({n} case{'s' if n > 1 else ''})" for n, c in few)
    return (f"note: few held-out cases of {named}: per-class recall, balanced accuracy and "
            "macro AUROC rest on them; read their intervals with care")


def format_interval(entry: dict) -> str:
    """'0.812 [0.77, 0.85]' from a {value, low, high} dict ('n/a' when undefined, '*' when
    the interval has zero width)."""
    if any(entry.get(k) is None or entry[k] != entry[k] for k in ("value", "low", "high")):
        return "n/a"
    mark = "*" if entry["low"] == entry["high"] else ""
    return f"{entry['value']:.3f} [{entry['low']:.2f}, {entry['high']:.2f}]{mark}"


def print_metrics(metrics: dict[str, dict], title: str, console: Console | None = None) -> None:
    """One row per model, the headline metrics as columns, each with its 95% interval."""
    console = console or Console(width=max(Console().width, 100))
    if not metrics:
        console.print(f"{title}: no labelled held-out samples, so no metrics")
        return
    shown = [m for m in HEADLINE if any(m in row for row in metrics.values())]
    table = Table(title=f"{title} — 95% bootstrap intervals")
    table.add_column("model", no_wrap=True)
    for name in shown:
        table.add_column(HEADLINE[name], no_wrap=True)
    for model, row in metrics.items():
        table.add_row(model, *(format_interval(row[m]) if m in row else "" for m in shown))
    console.print(table)
    cells = [format_interval(row[m]) for row in metrics.values() for m in shown if m in row]
    if any(c.endswith("*") for c in cells):
        console.print(DEGENERATE_NOTE)
