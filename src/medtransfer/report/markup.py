"""Small HTML building blocks; every piece of text goes through ``html.escape``."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from html import escape

from medtransfer.report.run import IDENTIFYING

MAX_ROWS = 40


def fmt(value, digits: int = 3) -> str:
    """A number for a table cell: 3 significant decimals, "—" when missing or undefined."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def pvalue(p: float | None) -> str:
    """A p-value: three decimals, "<0.001" below that."""
    if p is not None and math.isfinite(p) and p < 0.001:
        return "&lt;0.001"
    return fmt(p)


def interval(ci: dict | None) -> str:
    """Value with its interval in brackets, for a {value, low, high} dict."""
    if not ci:
        return "—"
    return (f"{fmt(ci.get('value'))} <span class=ci>({fmt(ci.get('low'))}, "
            f"{fmt(ci.get('high'))})</span>")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """An HTML table; headers are escaped, cells are given as ready HTML."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(uri: str, caption: str) -> str:
    """An embedded PNG with its caption."""
    return (f"<figure><img alt='{escape(caption)}' src='{uri}'>"
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def section(anchor: str, title: str, body: str) -> str:
    """A report section with an anchor for the table of contents."""
    return f"<section id='{anchor}'><h2>{escape(title)}</h2>{body}</section>"


def safe_items(mapping: dict) -> list[tuple[str, object]]:
    """Items of a free-form dict without keys that may hold patient identifiers."""
    return [(str(k), v) for k, v in mapping.items() if not IDENTIFYING.search(str(k))]


def render_data(value, depth: int = 0) -> str:
    """Free-form JSON (shift summary, selection evidence) as nested tables, identifiers dropped."""
    if isinstance(value, dict):
        rows = [(f"<th>{escape(k.replace('_', ' '))}</th>", render_data(v, depth + 1))
                for k, v in safe_items(value)[:MAX_ROWS]]
        body = "".join(f"<tr>{k}<td>{v}</td></tr>" for k, v in rows)
        return f"<table class='kv'>{body}</table>" if depth < 4 else escape(str(len(rows)))
    if isinstance(value, list):
        return render_list(value, depth)
    return fmt(value)


def render_list(items: list, depth: int) -> str:
    """A list of records as one table; a list of scalars as a short comma-separated line."""
    if items and all(isinstance(i, dict) for i in items):
        keys = list(dict.fromkeys(k for i in items for k, _ in safe_items(i)))
        rows = [[render_data(i.get(k), depth + 1) for k in keys] for i in items[:MAX_ROWS]]
        more = f"<p class=note>{len(items) - MAX_ROWS} more rows not shown</p>" if len(
            items) > MAX_ROWS else ""
        return table([k.replace("_", " ") for k in keys], rows, "records") + more
    shown = ", ".join(render_data(i, depth + 1) for i in items[:12])
    return shown + (f", … ({len(items)} in all)" if len(items) > 12 else "")


def table_of_contents(body: str) -> str:
    """Links to every section present in ``body``."""
    found = re.findall(r"<section id='([a-z]+)'><h2>(.*?)</h2>", body)
    return "".join(f"<a href='#{anchor}'>{title}</a>" for anchor, title in found)
