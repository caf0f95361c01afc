"""Streamed CORAL, density ratio and final model on a large feature store: seconds, memory.

The source and target stores are written chunk by chunk (never whole in memory; the target
rows shifted and rescaled), then a fresh Python process reads them shard by shard to fit
CORAL, the density ratio's domain discriminator and the final SGD head (on CORAL's features,
weighted by the density ratio); its peak resident memory is the figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

STAGES = ("coral", "density_ratio", "head")

_FIT = """
import json, resource, sys, time
import numpy as np
from medtransfer.adapt.streaming import (StreamingCORAL, StreamingDensityRatio,
                                         fit_streamed_linear, store_chunks)
root = sys.argv[1]
def rows(name):
    return (r for _, r in store_chunks(f"{root}/{name}"))
seconds = {}
start = time.perf_counter()
coral = StreamingCORAL().fit(rows("source"), rows("target"))
seconds["coral"] = time.perf_counter() - start
ratio = StreamingDensityRatio(epochs=1).fit(lambda: rows("source"), lambda: rows("target"))
seconds["density_ratio"] = time.perf_counter() - start - seconds["coral"]
def chunks():
    for digests, X in store_chunks(root + "/source"):
        yield coral.transform(X), np.array([int(d) % 2 for d in digests]), ratio.weights(X)
fit_streamed_linear(chunks, np.array([0, 1]), epochs=1)
seconds["head"] = time.perf_counter() - start - seconds["coral"] - seconds["density_ratio"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak}))
"""


def measure_streaming(n_rows: int, dim: int = 1280, chunk: int = 8192) -> dict:
    """Fit the three streamed stages on ``n_rows`` float32 rows in all, half of them source.

    Parameters
    ----------
    n_rows : int
        Source plus target rows (the store takes ``n_rows * dim * 4`` bytes of disk, removed
        after).
    dim, chunk : int
        Features per row and rows per shard.

    Returns
    -------
    dict
        ``rows``, ``features``, ``seconds`` (per stage of :data:`STAGES`), ``peak_mib`` (the
        fitting process's peak resident memory) and ``data_mib`` (the rows' size).
    """
    from medtransfer.features.store import FeatureStore

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        for name, rows, shift in (("source", n_rows // 2, 0.0), ("target", n_rows - n_rows // 2,
                                                                 0.2)):
            store = FeatureStore(Path(root) / name, dim, "bench")
            for start in range(0, rows, chunk):
                size = min(chunk, rows - start)
                block = rng.standard_normal((size, dim), dtype=np.float32) * (1 + shift) + shift
                store.put_many([str(k) for k in range(start, start + size)], block)
            store.close()
        proc = subprocess.run([sys.executable, "-c", _FIT, root], capture_output=True,
                              text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"rows": n_rows, "features": dim, **result, "data_mib": n_rows * dim * 4 / 2**20}
