"""``extract`` to a feature store on Ray actors, 1 vs 2 workers, beside the in-process engine.

Each run writes N random gray images' features to a fresh store with
:func:`~medtransfer.features.archive.extract_to_store`, the function behind
``medtransfer extract``: the in-process default engine, then ``--engine ray --workers 1``
and ``--workers 2``. The local Ray cluster (one CPU per core, its workers at the driver's
priority) is started once before the Ray runs, its start recorded apart; each Ray run's time
includes its actors' start and model build.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medtransfer.errors import MedTransferError


def measure_ray(n: int, size: int = 64, workers: Sequence[int] = (1, 2),
                backbone: str = "efficientnet_lite0") -> list[dict]:
    """One record per engine: ``method``, ``value`` (images/s), ``seconds`` and ``error``.

    Parameters
    ----------
    n : int
        Images (random 28x28 gray, resized to ``size``).
    size : int
        Side the images are resized to.
    workers : sequence of int
        Ray actor pools to time.
    backbone : str
        Registered backbone.

    Returns
    -------
    list of dict
        ``in-process`` first, then ``ray xN`` per pool, then ``ray cluster start`` (seconds
        only); a missing ``ray`` extra makes each Ray record's value None with the error.
    """
    from medtransfer.data import Domain
    from medtransfer.features.archive import extract_to_store
    from medtransfer.features.ray_engine import ray_cluster, require_ray

    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    domain = Domain("random", "image", inputs=images, ids=np.arange(n).astype(str))
    records = []
    with tempfile.TemporaryDirectory() as root:
        def timed(method: str, **options) -> dict:
            start = time.perf_counter()
            extract_to_store(domain, Path(root) / method.replace(" ", "-"), backbone,
                             image_size=size, progress=False, **options)
            seconds = time.perf_counter() - start
            return {"method": method, "value": n / seconds, "seconds": seconds}

        records.append(timed("in-process"))
        try:
            ray = require_ray()
        except MedTransferError as error:
            return [*records, *({"method": f"ray x{w}", "value": None,
                                 "error": f"not run: {error}"} for w in workers)]
        start = time.perf_counter()
        with ray_cluster(ray):  # the local cluster `extract --engine ray` starts
            started = time.perf_counter() - start
            records += [timed(f"ray x{w}", engine="ray", num_workers=w) for w in workers]
    return [*records, {"method": "ray cluster start", "value": None, "seconds": started}]


def ray_lines(records: list[dict]) -> list[str]:
    """One Markdown paragraph: images/s per engine and the 2-vs-1 worker ratio."""
    by = {r["method"]: r for r in records}
    first = records[0]
    cells = [f"{r['method']} {r['value']:,.0f}" if r["value"] is not None else
             f"{r['method']} {r['error']}" for r in records if r["method"] != "ray cluster start"]
    text = (f"`extract` to a feature store, {first['target']} ({first['images']} random 28x28 "
            f"images at {first['size']} px), images/s: {', '.join(cells)}")
    ray_runs = sorted((int(m.split("x")[1]), r["value"]) for m, r in by.items()
                      if m.startswith("ray x") and r["value"])
    if len(ray_runs) > 1:
        (w1, v1), (w2, v2) = ray_runs[0], ray_runs[-1]
        text += f"; {w2} vs {w1} Ray workers: {v2 / v1:.2f}x"
    if "ray cluster start" in by:
        text += f" (local cluster start, not included: {by['ray cluster start']['seconds']:.1f} s)"
    return [text + ".", ""]
