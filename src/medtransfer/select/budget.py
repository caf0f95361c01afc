"""How much work ``auto`` may do: counted in fits and decided by data size, never by the clock.

The same data, options and seed must choose the same method on any machine, so the work
``auto`` spends is planned before it starts: the declared candidates in order, minus those a
size rule knows to be too expensive for this many rows, minus those past a budget of fits
(one fit per candidate and fold). A budget in seconds exists (``time_budget``) but only on
request, since it makes the choice depend on the machine's load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SizeRule:
    """A candidate known to be too expensive above ``max_rows`` rows (source + target).

    Attributes
    ----------
    max_rows : int
        Largest number of stacked rows the candidate is tried on.
    why : str
        What makes it expensive, quoted in the skip reason.
    """

    max_rows: int
    why: str


# CPU seconds of one fit, measured on the heart sites (Cleveland + Hungary, 597 rows, 24
# features, 2-core machine): jda 4.5, mapping_network 1.6, tca 1.5, every other method < 1.
# auto fits each candidate once per fold (15 folds by default).
SIZE_RULES: Mapping[str, SizeRule] = {
    "jda": SizeRule(500, "an n x n kernel eigen-problem re-solved at every pseudo-label "
                    "iteration (4.5 s per fit at 597 rows)"),
    "tca": SizeRule(5000, "an n x 2000-landmark kernel per fit"),
    "mapping_network": SizeRule(5000, "a torch network trained per fit, time linear in n "
                                "(1.6 s per fit at 597 rows)"),
}


@dataclass(frozen=True)
class Plan:
    """The candidates ``auto`` will validate, in order, and those it skips with why."""

    run: list[str]
    skipped: list[dict[str, str]]


def plan_candidates(
    names: list[str],
    *,
    n_rows: int,
    n_folds: int,
    size_rules: Mapping[str, SizeRule] | None = None,
    max_fits: int | None = None,
) -> Plan:
    """Which candidates to validate, decided from the data size and the fit budget alone.

    Parameters
    ----------
    names : list of str
        The declared candidates in the order they are tried.
    n_rows : int
        Stacked source and target rows.
    n_folds : int
        Fits per candidate (folds times repeats; 1 per scorer repeat without labels).
    size_rules : mapping of str to SizeRule, optional
        None uses :data:`SIZE_RULES`; an empty mapping tries every candidate at any size.
    max_fits : int, optional
        Fits allowed over all candidates; candidates past it are skipped. None: no limit.

    Returns
    -------
    Plan
        ``run``: the names to validate; ``skipped``: ``{"name", "reason"}`` for the others.
    """
    rules = SIZE_RULES if size_rules is None else size_rules
    run, skipped = [], []
    for name in names:
        rule = rules.get(name)
        if rule is not None and n_rows > rule.max_rows:
            skipped.append(skip(name, f"{n_rows} rows > {rule.max_rows}, the most it is tried "
                                      f"on: {rule.why}"))
        elif max_fits is not None and (len(run) + 1) * n_folds > max_fits:
            skipped.append(skip(name, f"work budget of {max_fits} fits spent ({len(run)} "
                                      f"candidates x {n_folds} folds)"))
        else:
            run.append(name)
    return Plan(run, skipped)


def skip(name: str, reason: str) -> dict[str, str]:
    """One skipped candidate as recorded in the selection evidence."""
    return {"name": name, "reason": reason}


def skip_line(entry: dict[str, str]) -> str:
    """The one line printed for a skipped candidate."""
    return f"auto: skipped {entry['name']}: {entry['reason']}"
