"""Fit time of ``auto`` with and without adapting fold-invariant methods once per selection.

``auto`` cross-validates every candidate on the k labelled target rows; since
:class:`~medtransfer.adapt.fold_invariant.AdaptationCache`, a method whose adaptation reads
no target label (CORAL, KMM, the density ratio, ...) adapts once per selection instead of
once per fold. "before" is the same ``auto`` (same suite, unit, candidates and seed) with
that reuse switched off, the way every fit ran before the cache: each fit adapts anew.
Both must choose the same method; the record says whether they did. Image features are
extracted (and cached) before the clock starts, so the times are the selection's alone.
"""

from __future__ import annotations

import time
from unittest import mock

from medtransfer.adapt.fold_invariant import AdaptationCache
from medtransfer.bench.core import Suite, Unit


class _NoReuse(AdaptationCache):
    """The cache with every fit a plain ``method.fit``: ``auto`` as before the cache."""

    def _reusable(self, method, X, y, sample_domain) -> bool:
        return False


def time_auto(suite: Suite, unit: Unit) -> dict:
    """Seconds of ``auto.fit`` on ``unit`` of ``suite`` with reuse off ("before") and on.

    Returns
    -------
    dict
        ``before_s``, ``after_s``, ``speedup`` (before / after), ``choice`` (the method the
        reuse run chose), ``same_choice`` and ``rows`` (the training rows).
    """
    split = suite.split(unit)  # extracts and caches image features outside the timings
    seconds, choices = {}, {}
    for mode, cache in (("before", _NoReuse), ("after", AdaptationCache)):
        auto = suite.competitors(unit, split)["auto"]
        with mock.patch("medtransfer.select.auto.AdaptationCache", cache):
            start = time.perf_counter()
            auto.fit(split.X, split.y, sample_domain=split.sample_domain)
            seconds[mode] = time.perf_counter() - start
        choices[mode] = auto.choice_
    return {"before_s": seconds["before"], "after_s": seconds["after"],
            "speedup": seconds["before"] / seconds["after"], "choice": choices["after"],
            "same_choice": choices["before"] == choices["after"], "rows": len(split.y)}


def auto_lines(records: list[dict]) -> list[str]:
    """Markdown table: one row per unit, before / after seconds, speed-up, choice."""
    lines = ["#### `auto` fit time, fold-invariant adaptations reused once per selection "
             "(after) or refitted in every fold (before)", "",
             "| suite: source -> target, k | rows | before s | after s | speed-up | "
             "chose (same before) |", "| --- | --- | --- | --- | --- | --- |"]
    for r in records:
        if r["value"] is None:
            lines.append(f"| {r['source']} | | | | | {r['error']} |")
            continue
        lines.append(f"| {r['source']} -> {r['target']}, k={r['k']} | {r['rows']:,} | "
                     f"{r['before_s']:.1f} | {r['after_s']:.1f} | {r['value']:.2f}x | "
                     f"{r['choice']} ({'yes' if r['same_choice'] else 'no'}) |")
    return [*lines, ""]
