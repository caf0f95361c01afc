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


__all__ = ["SUITES"]
