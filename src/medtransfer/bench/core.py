"""What every benchmark suite shares: units, resumable per-unit files, scoring and output.

A suite is a set of *units* — one (source, target, k, seed) each. A unit's
:class:`Split` stacks source and target features under skada's convention; the labels of the
target test rows are masked in ``y`` and reach only the metrics. Every competitor of the
suite is fitted on the same split, so comparisons are paired by unit.

Each finished unit is written atomically to ``OUT/LABEL/units/``; a unit already there is not
run again, so an interrupted run resumes and several processes may share ``OUT``. At the end
the records of the planned units are gathered into ``OUT/LABEL.json`` and ``OUT/LABEL.md``.
LABEL is the suite's name, plus any setting that changes every unit's data
(``wbc.harmonize-auto``), so runs under different settings never share or overwrite files.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from medtransfer import artifacts
from medtransfer.params import Interval, check_value

SEEDS = Interval(int, 1, None, hint="seeds 0..N-1 per pair and k, e.g. 10")


@dataclass(frozen=True)
class Unit:
    """One benchmark cell: a source -> target pair, k labelled target samples, a seed."""

    source: str
    target: str
    k: int
    seed: int

    @property
    def slug(self) -> str:
        """File-name form, e.g. ``Cleveland__Hungary__k10__s3``."""
        name = f"{self.source}__{self.target}__k{self.k}__s{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@dataclass
class Split:
    """A unit's data, stacked source then target, under skada's domain convention.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        Source rows, then every target row (labelled and test).
    y : ndarray of shape (n_samples,)
        Source labels and the k target labels; test rows are -1 (or NaN for regression).
    sample_domain : ndarray of shape (n_samples,)
        Positive for source rows, negative for target rows.
    test : ndarray of int
        Positions in ``X`` of the target test rows.
    y_test : ndarray
        Their labels, seen only by the metrics.
    context : dict
        Anything else a suite's competitors need (e.g. raw target columns for a formula);
        under ``"record"``, fields every record of the unit carries (e.g. the harmoniser
        fitted for it).
    """

    X: np.ndarray
    y: np.ndarray
    sample_domain: np.ndarray
    test: np.ndarray
    y_test: np.ndarray
    context: dict[str, Any] = field(default_factory=dict)


class Suite(ABC):
    """A benchmark: which units, how to build a unit's split, who competes, how to score.

    Subclasses set ``name``, ``metrics`` (the first is the headline), ``lower_is_better``
    and ``default_k``, and implement :meth:`pairs`, :meth:`split`, :meth:`competitors` and
    :meth:`score`.
    """

    name: str
    metrics: tuple[str, ...]
    lower_is_better: frozenset[str] = frozenset()
    default_k: tuple[int, ...]
    baselines: tuple[str, ...] = ("source_only", "target_only", "pooled", "source_only_tuned",
                                  "pooled_tuned")

    @abstractmethod
    def pairs(self) -> list[tuple[str, str]]:
        """The (source, target) pairs of the suite."""

    @abstractmethod
    def split(self, unit: Unit) -> Split:
        """Features, masked labels and test rows of ``unit``."""

    @abstractmethod
    def competitors(self, unit: Unit, split: Split) -> dict[str, Any]:
        """Name -> unfitted estimator (``fit(X, y, *, sample_domain)``) or a callable
        ``split -> predictions`` for fixed references that are not fitted."""

    @abstractmethod
    def score(self, y_test: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
        """Metrics of one method's test predictions (``predict_proba`` or ``predict``)."""

    def predict(self, model: BaseEstimator, X: np.ndarray) -> np.ndarray:
        """What :meth:`score` reads from a fitted model; probabilities by default."""
        return model.predict_proba(X)

    def run(self, out: Path, *, seeds: int = 10, ks: Sequence[int] | None = None,
            only: Sequence[str] | None = None,
            log: Callable[[str], None] | None = None) -> list[dict]:
        """Run or resume the suite; see :func:`run_suite`."""
        return run_suite(self, out, seeds=seeds, ks=ks, only=only, log=log)

    @property
    def settings(self) -> dict[str, str]:
        """Options that change every unit's data (none here), kept in each record."""
        return {}

    @property
    def label(self) -> str:
        """Name of the run's files and unit folder: the suite's name by default."""
        return self.name

    def units(self, seeds: int, ks: Sequence[int]) -> list[Unit]:
        """Seed-major, so that a partial run covers every pair and k evenly."""
        return [Unit(s, t, k, seed) for seed in range(seeds) for s, t in self.pairs() for k in ks]


def run_unit(suite: Suite, unit: Unit, only: Sequence[str] | None = None) -> list[dict]:
    """Fit and score every competitor of ``suite`` on ``unit``; one record per metric.

    A competitor that raises is recorded with ``value: null`` and its error, so one broken
    method cannot sink the table.
    """
    split = suite.split(unit)
    base = {"suite": suite.name, "source": unit.source, "target": unit.target,
            "k": unit.k, "seed": unit.seed, **suite.settings, **split.context.get("record", {})}
    records = []
    for name, competitor in suite.competitors(unit, split).items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values = suite.score(split.y_test, _predictions(suite, competitor, split))
            if hasattr(competitor, "choice_"):
                extra["choice"] = competitor.choice_
        except Exception as err:  # recorded, and the table says so
            values = dict.fromkeys(suite.metrics)
            extra["error"] = f"{type(err).__name__}: {err}"[:500]
        extra["time_s"] = round(time.perf_counter() - start, 3)
        records += [{**base, "method": name, "metric": metric, "value": _finite(values[metric]),
                     **extra} for metric in suite.metrics]
    return records


def _predictions(suite: Suite, competitor: Any, split: Split) -> np.ndarray:
    if isinstance(competitor, BaseEstimator):
        competitor.fit(split.X, split.y, sample_domain=split.sample_domain)
        return suite.predict(competitor, split.X[split.test])
    return competitor(split)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def run_suite(
    suite: Suite,
    out: Path,
    *,
    seeds: int = 10,
    ks: Sequence[int] | None = None,
    only: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Run (or resume) every unit of ``suite``; write ``OUT/NAME.json`` and ``OUT/NAME.md``.

    Parameters
    ----------
    suite : Suite
        The benchmark.
    out : Path
        Output folder; per-unit files go to ``OUT/LABEL/units/`` (see :attr:`Suite.label`).
    seeds : int
        Seeds 0 .. seeds-1 per pair and k.
    ks : sequence of int or None
        Labelled target samples; None for the suite's default.
    only : sequence of str or None
        Run only these competitors (units already saved keep their other records).
    log : callable or None
        Receives one progress line per unit (default: stderr).

    Returns
    -------
    list of dict
        The records of every planned unit; empty when another process sharing ``out`` is
        still running some (a ``.lock`` left by a killed run must be deleted by hand).
    """
    check_value("run_suite", "seeds", seeds, SEEDS)
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    units = suite.units(seeds, tuple(ks if ks is not None else suite.default_k))
    folder = out / suite.label / "units"
    records = []
    pending = []
    for i, unit in enumerate(units, 1):
        path = folder / f"{unit.slug}.json"
        if path.is_file() and not only:
            continue
        with _claim(path) as mine:
            if not mine:  # another process is running this unit
                pending.append(path)
                continue
            start = time.perf_counter()
            saved = json.loads(path.read_text()) if path.is_file() else []
            kept = [r for r in saved if only and r["method"] not in only]
            artifacts.write_json(path, kept + run_unit(suite, unit, only))
            log(f"[{i}/{len(units)}] {unit.source} -> {unit.target} k={unit.k} "
                f"seed={unit.seed}: {time.perf_counter() - start:.1f} s")
    missing = [p.name for p in pending if not p.is_file()]
    if missing:
        log(f"{len(missing)} unit(s) still running in another process; tables not written")
        return []
    # units saved before a setting existed ran under its default, which the label implies
    records = [{**suite.settings, **r} for unit in units
               for r in json.loads((folder / f"{unit.slug}.json").read_text())]
    write_outputs(suite, records, out)
    return records


@contextmanager
def _claim(path: Path) -> Iterator[bool]:
    """Hold ``PATH.lock`` while running a unit, so processes sharing OUT split the work."""
    lock = path.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        yield False
        return
    try:
        yield True
    finally:
        lock.unlink(missing_ok=True)


def write_outputs(suite: Suite, records: list[dict], out: Path) -> None:
    """``OUT/LABEL.json`` (the records) and ``OUT/LABEL.md`` (the tables), atomically."""
    from medtransfer.bench.tables import markdown

    write_results(suite.label, records,
                  markdown(records, suite.metrics, suite.lower_is_better, suite.baselines), out,
                  {"suite": suite.name, **suite.settings})


def write_results(name: str, records: list[dict], table: str, out: Path,
                  settings: dict[str, str] | None = None) -> None:
    """``OUT/NAME.json``, ``OUT/NAME.md`` and ``OUT/NAME.meta.json`` (when, where, how, and
    the suite's ``settings``)."""
    artifacts.write_json(out / f"{name}.json", records)
    with artifacts.atomic_file(out / f"{name}.md") as tmp:
        tmp.write_text(table + "\n")
    artifacts.write_json(out / f"{name}.meta.json", {**environment(), **(settings or {})})


def environment() -> dict[str, Any]:
    """Date, machine, versions and command line of a benchmark run."""
    import platform
    from datetime import UTC, datetime
    from importlib.metadata import version

    import torch

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["medtransfer", *sys.argv[1:]]),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"
                   + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""),
        "python": platform.python_version(),
        "medtransfer": version("medtransfer"),
        "torch_threads": torch.get_num_threads(),
    }

