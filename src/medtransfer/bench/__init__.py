"""Benchmark suites on real multi-site data (``medtransfer bench --suite NAME``).

Each suite writes ``OUT/NAME.json`` — records ``{suite, source, target, k, seed, method,
metric, value}`` — and ``OUT/NAME.md``, the table; see :mod:`medtransfer.bench.core`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medtransfer.registry import Registry

# name -> factory(data_dir or None) -> an object with ``run(out, *, seeds, ks, only, log)``
SUITES: Registry[Callable[[Path | None], Any]] = Registry(
    "benchmark suite", "medtransfer bench --help"
)


@SUITES.register("heart")
def _heart(data: Path | None) -> Any:
    """UCI heart disease, 4 hospitals, 12 pairs, k = 0/10/40; target AUROC."""
    from medtransfer.bench.heart import HeartSuite

    return HeartSuite()


@SUITES.register("warfarin")
def _warfarin(data: Path | None) -> Any:
    """IWPC warfarin dose, 17 sites -> East-Asian sites 3/4/8/18, k = 0/20/100; PW20, MAE."""
    from medtransfer.bench.warfarin import WarfarinSuite

    return WarfarinSuite()


@SUITES.register("pneumonia-shift")
def _pneumonia_shift(data: Path | None) -> Any:
    """PneumoniaMNIST train -> test under 3 corruptions x 2 severities, k = 0/10/40; AUROC."""
    from medtransfer.bench.pneumonia import PneumoniaShiftSuite

    return PneumoniaShiftSuite()


@SUITES.register("wbc")
def _wbc(data: Path | None) -> Any:
    """White cells, PBC -> BCCD (from --data), k = 0/5/20 per class; balanced accuracy."""
    from medtransfer.bench.wbc import WbcSuite

    return WbcSuite(data)


@SUITES.register("speed")
def _speed(data: Path | None) -> Any:
    """Extraction images/s, fit time and memory vs skada at 1k-100k rows, the demo's time."""
    from medtransfer.bench.speed import SpeedSuite

    return SpeedSuite()


__all__ = ["SUITES"]
