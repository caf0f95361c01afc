"""Benchmark suites on real multi-site data (``medtransfer bench --suite NAME``).

Each suite writes ``OUT/NAME.json`` — records ``{suite, source, target, k, seed, method,
metric, value}`` — and ``OUT/NAME.md``, the table; see :mod:`medtransfer.bench.core`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medtransfer.errors import ConfigError
from medtransfer.registry import Registry

# name -> factory(data_dir or None, harmonize="none"[, classifier=None]) -> an object with
# ``label`` and ``run(out, *, seeds, ks, only, log)``; a factory that takes ``classifier``
# lets --classifier choose its competitors' final predictor (None: the suite's own)
SUITES: Registry[Callable[..., Any]] = Registry("benchmark suite", "medtransfer bench --help")


def _pixels_only(suite: str, harmonize: str) -> None:
    if str(harmonize).strip().lower() != "none":
        raise ConfigError(f"--harmonize {harmonize} changes image pixels, but suite {suite!r} "
                          "has none; use it with --suite wbc or pneumonia-shift")


@SUITES.register("heart")
def _heart(data: Path | None, harmonize: str = "none", classifier: str | None = None) -> Any:
    """UCI heart disease, 4 hospitals, 12 pairs, k = 0/10/40; target AUROC."""
    _pixels_only("heart", harmonize)
    from medtransfer.bench.heart import DEFAULT_CLASSIFIER, HeartSuite
    from medtransfer.models.classifiers import CLASSIFIERS

    if classifier not in (None, "auto", *CLASSIFIERS):
        raise ConfigError(f"--classifier {classifier!r}: expected auto or one of "
                          f"{', '.join(CLASSIFIERS)} (`medtransfer methods` lists them)")
    return HeartSuite(classifier=classifier or DEFAULT_CLASSIFIER)


@SUITES.register("warfarin")
def _warfarin(data: Path | None, harmonize: str = "none") -> Any:
    """IWPC warfarin dose, 17 sites -> East-Asian sites 3/4/8/18, k = 0/20/100; PW20, MAE."""
    _pixels_only("warfarin", harmonize)
    from medtransfer.bench.warfarin import WarfarinSuite

    return WarfarinSuite()


@SUITES.register("pneumonia-shift")
def _pneumonia_shift(data: Path | None, harmonize: str = "none") -> Any:
    """PneumoniaMNIST train -> test under 3 corruptions x 2 severities, k = 0/10/40; AUROC."""
    from medtransfer.bench.pneumonia import PneumoniaShiftSuite

    return PneumoniaShiftSuite(harmonize=harmonize)


@SUITES.register("wbc")
def _wbc(data: Path | None, harmonize: str = "none") -> Any:
    """White cells, PBC -> BCCD (from --data), k = 0/5/20 per class; balanced accuracy."""
    from medtransfer.bench.wbc import WbcSuite

    return WbcSuite(data, harmonize=harmonize)


@SUITES.register("speed")
def _speed(data: Path | None, harmonize: str = "none") -> Any:
    """Extraction images/s, Ray scaling, auto's fit time, streamed fits, fit time and memory
    vs skada at 1k-100k rows, the demo's time."""
    _pixels_only("speed", harmonize)
    from medtransfer.bench.speed import SpeedSuite

    return SpeedSuite(data=data)


__all__ = ["SUITES"]
