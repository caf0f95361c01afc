"""Markdown tables of benchmark records: means with intervals, and ``auto`` paired against all.

Intervals are 95% percentile bootstrap intervals of the mean over units (pairs x seeds),
seeded, so the same records always print the same table.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from medtransfer.evaluate.resampling import bootstrap_resamples, percentile_interval

N_RESAMPLES = 2000
# Differences within these are ties (per metric; 0.005 for the 0-1 scores).
TIES = {"mae": 0.05}


def mean_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% bootstrap interval of the mean."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        mean = float(values.mean()) if len(values) else float("nan")
        return mean, mean, mean
    resamples = bootstrap_resamples(len(values), n_resamples=N_RESAMPLES, random_state=seed)
    lo, hi = percentile_interval(resamples.apply(lambda idx: values[idx].mean(axis=1)))
    return float(values.mean()), lo, hi


def _cell(values: np.ndarray, digits: int) -> str:
    if len(values) == 0:
        return "—"
    mean, lo, hi = mean_interval(values)
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _digits(metric: str) -> int:
    return 2 if metric in TIES else 3


def metric_table(frame: pd.DataFrame, metric: str) -> list[str]:
    """Methods by k: mean [95% interval] over units, and failed units if any."""
    rows = frame[frame["metric"] == metric]
    ks = sorted(rows["k"].unique())
    lines = [f"### {metric}", "", "| method | " + " | ".join(f"k={k}" for k in ks) + " |",
             "|---" * (len(ks) + 1) + "|"]
    order = rows.dropna(subset=["value"]).groupby("method")["value"].mean()
    order = order.sort_values(ascending=metric in TIES)
    for method in [*order.index, *sorted(set(rows["method"]) - set(order.index))]:
        cells = []
        for k in ks:
            cell = rows[(rows["method"] == method) & (rows["k"] == k)]
            text = _cell(cell["value"].dropna().to_numpy(), _digits(metric))
            failed = int(cell["value"].isna().sum())
            cells.append(text + (f" ({failed} failed)" if failed else ""))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def paired_table(frame: pd.DataFrame, metric: str, lower_is_better: bool) -> list[str]:
    """``auto`` minus each competitor per k, paired by unit: mean [interval] and W/T/L."""
    rows = frame[frame["metric"] == metric].dropna(subset=["value"])
    wide = rows.pivot_table(index=["source", "target", "k", "seed"], columns="method",
                            values="value")
    if "auto" not in wide:
        return []
    sign = -1.0 if lower_is_better else 1.0
    tie = TIES.get(metric, 0.005)
    ks = sorted(rows["k"].unique())
    lines = [f"### auto vs each competitor ({metric}, paired by unit; "
             f"{'lower' if lower_is_better else 'higher'} is better)", "",
             "| competitor | " + " | ".join(f"k={k}: auto - it, W/T/L" for k in ks) + " |",
             "|---" * (len(ks) + 1) + "|"]
    for method in [m for m in wide.columns if m != "auto"]:
        cells = []
        for k in ks:
            at_k = wide.xs(k, level="k")
            diff = (at_k["auto"] - at_k[method]).dropna().to_numpy()
            if len(diff) == 0:
                cells.append("—")
                continue
            better = sign * diff
            wtl = f"{(better > tie).sum()}/{(np.abs(diff) <= tie).sum()}/{(better < -tie).sum()}"
            cells.append(f"{_cell(diff, _digits(metric))}, {wtl}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def auto_summary(frame: pd.DataFrame, metric: str, lower_is_better: bool,
                 baselines: Sequence[str]) -> list[str]:
    """Per k: auto against the best baseline on average, and what auto chose."""
    rows = frame[frame["metric"] == metric].dropna(subset=["value"])
    means = rows.pivot_table(index="method", columns="k", values="value", aggfunc="mean")
    if "auto" not in means.index:
        return []
    lines = []
    for k in means.columns:
        base = means.loc[[b for b in baselines if b in means.index], k].dropna()
        if base.empty:
            continue
        best = base.idxmin() if lower_is_better else base.idxmax()
        gap = means.loc["auto", k] - base[best]
        lines.append(f"- k={k}: auto {means.loc['auto', k]:.3f} vs best baseline {best} "
                     f"{base[best]:.3f} ({gap:+.3f})")
        if "choice" in rows:
            choices = rows[(rows["method"] == "auto") & (rows["k"] == k)]["choice"]
            counts = choices.value_counts()
            lines.append("  - auto chose: " + ", ".join(f"{c} x{n}" for c, n in counts.items()))
    return lines + _worse_than_source(rows, lower_is_better)


def _worse_than_source(rows: pd.DataFrame, lower_is_better: bool) -> list[str]:
    """Pairs (at a k) where auto averages more than the tie margin worse than source_only
    (and than ``source_only_tuned``, when the suite has it)."""
    wide = rows.pivot_table(index=["source", "target", "k", "seed"], columns="method",
                            values="value")
    tolerance = TIES.get(rows["metric"].iloc[0], 0.01)  # the heart issue's 0.01 AUROC
    lines = []
    for reference in ("source_only", "source_only_tuned"):
        if reference not in wide:
            continue
        gap = (wide["auto"] - wide[reference]).groupby(level=["source", "target", "k"]).mean()
        worse = gap[(-gap if lower_is_better else gap) < -tolerance]
        lines += [f"- pairs where auto averages worse than {reference} by more than "
                  f"{tolerance}: {len(worse)}",
                  *(f"  - {s} -> {t} k={k}: {v:+.3f}" for (s, t, k), v in worse.items())]
    return lines


def _setting(frame: pd.DataFrame) -> str:
    """`` --harmonize NAME`` for records of an image suite run with one, else nothing."""
    if "harmonize" not in frame:
        return ""
    names = sorted(set(frame["harmonize"].fillna("none")))
    return "" if names == ["none"] else f" --harmonize {', '.join(names)}"


def _harmonizers(frame: pd.DataFrame) -> list[str]:
    """Which fitted chains the units' features went through (``auto`` picks per unit)."""
    if _setting(frame) == "" or "harmonizer" not in frame:
        return []
    units = frame.drop_duplicates(["source", "target", "k", "seed"])
    counts = units["harmonizer"].fillna("none").value_counts()
    return ["Harmonisation applied (units): "
            + ", ".join(f"{name} x{n}" for name, n in counts.items()), ""]


def markdown(records: list[dict], metrics: Sequence[str], lower_is_better: Collection[str],
             baselines: Sequence[str]) -> str:
    """Every metric's table, then the paired comparison and summary on the headline metric."""
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return "(no records)"
    suite = frame["suite"].iloc[0]
    units = frame.groupby(["source", "target", "k", "seed"]).ngroups
    pairs = frame.groupby(["source", "target"]).ngroups
    seeds = frame["seed"].nunique()
    lines = [f"## {suite}{_setting(frame)}: {units} units ({pairs} pair(s) x k x {seeds} "
             "seed(s)); mean [95% bootstrap interval over units]", "", *_harmonizers(frame)]
    for metric in metrics:
        lines += [*metric_table(frame, metric), ""]
    head = metrics[0]
    paired = paired_table(frame, head, head in lower_is_better)
    if paired:
        lines += [*paired, "", *auto_summary(frame, head, head in lower_is_better, baselines)]
    errors = frame.dropna(subset=["error"]) if "error" in frame else frame.iloc[:0]
    if len(errors):
        lines += ["", "Failures (first per method):"]
        for method, group in errors.groupby("method"):
            lines.append(f"- {method}: {group['error'].iloc[0]}")
    return "\n".join(lines)
