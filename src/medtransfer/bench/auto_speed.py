"""Fit time of ``auto`` before and after its two speed-ups, on the same unit and seed.

``auto`` cross-validates every candidate on the k labelled target rows. Since
:class:`~medtransfer.adapt.fold_invariant.AdaptationCache`, a method whose adaptation reads
no target label (CORAL, KMM, the density ratio, ...) adapts once per selection instead of
once per fold; and a small training matrix (at most
:data:`~medtransfer.select.auto.SERIAL_BLAS_SIZE` elements, the heart tables) is selected on
one BLAS thread. "before" is the same ``auto`` (same suite, unit, candidates and seed) with
both switched off, as every fit ran before them. Both must choose the same method; the
record says whether they did. Image features are extracted (and cached) before the clock
starts, so the times are the selection's alone.
"""

from __future__ import annotations

import time
import warnings
from unittest import mock

from medtransfer.adapt.fold_invariant import AdaptationCache
from medtransfer.bench.core import Suite, Unit
from medtransfer.select.auto import SERIAL_BLAS_SIZE


class _NoReuse(AdaptationCache):
    """The cache with every fit a plain ``method.fit``: ``auto`` as before the cache."""

    def _reusable(self, method, X, y, sample_domain) -> bool:
        return False


def time_auto(suite: Suite, unit: Unit) -> dict:
    """Seconds of ``auto.fit`` on ``unit`` of ``suite`` before and after the speed-ups.

    Returns
    -------
    dict
        ``before_s``, ``after_s``, ``speedup`` (before / after), ``choice`` (the method the
        "after" run chose), ``same_choice`` and ``rows`` (the training rows).
    """
    split = suite.split(unit)  # extracts and caches image features outside the timings
    seconds, choices = {}, {}
    for mode, cache, serial_size in (("before", _NoReuse, -1),
                                     ("after", AdaptationCache, SERIAL_BLAS_SIZE)):
        auto = suite.competitors(unit, split)["auto"]
        with (mock.patch("medtransfer.select.auto.AdaptationCache", cache),
              mock.patch("medtransfer.select.auto.SERIAL_BLAS_SIZE", serial_size),
              warnings.catch_warnings()):
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            auto.fit(split.X, split.y, sample_domain=split.sample_domain)
            seconds[mode] = time.perf_counter() - start
        choices[mode] = auto.choice_
    return {"before_s": seconds["before"], "after_s": seconds["after"],
            "speedup": seconds["before"] / seconds["after"], "choice": choices["after"],
            "same_choice": choices["before"] == choices["after"], "rows": len(split.y)}


def auto_lines(records: list[dict]) -> list[str]:
    """Markdown table: one row per unit, before / after seconds, speed-up, choice."""
    lines = ["#### `auto` fit time before / after: fold-invariant adaptations refitted in "
             "every fold, BLAS threads on every input (before); adapted once per selection, "
             "small inputs on one BLAS thread (after)", "",
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
