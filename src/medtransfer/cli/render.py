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


POLICY_ROWS = {"policy": "as recommended", "treat_all": "treat all", "treat_none": "treat none",
               "policy - treat_all": "recommended - treat all",
               "policy - treat_none": "recommended - treat none"}


def print_effect_calibration(calibration: dict, console: Console) -> None:
    """Observed against mean predicted effect per quantile bin of the predicted effect."""
    table = Table(title=f"calibration of effects by quantile ({calibration['n']} rows; "
                        f"observed: {calibration['estimator']}) — 95% bootstrap intervals")
    for column in ("bin", "predicted effects", "rows", "treated", "mean predicted",
                   "observed"):
        table.add_column(column, no_wrap=True)
    for i, b in enumerate(calibration["bins"]):
        table.add_row(str(i + 1), f"{b['low']:.3g} to {b['high']:.3g}", str(b["n"]),
                      str(b["n_treated"]), f"{b['predicted']:.3f}",
                      format_interval(b["observed"]))
    console.print(table)


def print_effect_metrics(metrics: dict, treatment: str, title: str,
                         console: Console | None = None) -> None:
    """An effect run's scores: the factual outcome's metrics, the mean effect and, when
    estimated, the value of treating as recommended against treat-all and treat-none."""
    console = console or Console(width=max(Console().width, 100))
    if "factual" in metrics:
        print_metrics({"factual outcome": metrics["factual"]}, title=title, console=console)
    if "factual_threshold" in metrics:
        console.print(f"predicted event where the risk is above "
                      f"{metrics['factual_threshold']['value']:.3f}, "
                      f"{metrics['factual_threshold']['rule']}", highlight=False)
    mean = metrics["mean_effect"]
    console.print(f"mean effect of {treatment} = 1 vs 0 on {mean['n']} rows: "
                  f"{format_interval(mean)}", highlight=False)
    if "calibration_by_quantile" in metrics:
        print_effect_calibration(metrics["calibration_by_quantile"], console)
    policy = metrics.get("policy_value")
    if policy is None:
        return
    if "not_estimated" in policy:
        console.print(f"policy value not estimated: {policy['not_estimated']}")
        return
    table = Table(title=f"mean outcome by policy ({policy['better']} is better; "
                        f"{policy['n']} rows, propensity {policy['propensity']['kind']}) "
                        "— 95% bootstrap intervals")
    for column in ("policy", "IPW", "doubly robust"):
        table.add_column(column, no_wrap=True)
    for key, per in {**policy["values"], **policy["differences"]}.items():
        table.add_row(POLICY_ROWS[key], format_interval(per["ipw"]), format_interval(per["dr"]))
    console.print(table)
    same = {0.0: " (the same as treat none: their difference is 0 by construction)",
            1.0: " (the same as treat all: their difference is 0 by construction)"}
    console.print(f"as recommended treats {policy['share_treated']:.0%} of the rows"
                  + same.get(policy["share_treated"], "")
                  + (f"; {policy['n_clipped']} extreme propensities trimmed (poor overlap)"
                     if policy["n_clipped"] else ""), highlight=False)
