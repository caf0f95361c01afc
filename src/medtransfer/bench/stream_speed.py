"""Streamed CORAL + linear head on a large feature store: seconds and peak memory.

The store is written chunk by chunk (never whole in memory), then a fresh Python process
fits CORAL and the SGD head from its shards; its peak resident memory is the figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_FIT = """
import json, resource, sys, time
import numpy as np
from medtransfer.adapt.streaming import StreamingCORAL, fit_streamed_linear, store_chunks
root = sys.argv[1]
start = time.perf_counter()
coral = StreamingCORAL().fit((r for _, r in store_chunks(root + "/source")),
                             (r for _, r in store_chunks(root + "/target")))
def chunks():
    for digests, rows in store_chunks(root + "/source"):
        yield coral.transform(rows), np.array([int(d) % 2 for d in digests])
fit_streamed_linear(chunks, np.array([0, 1]), epochs=1)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak}))
"""


def measure_streaming(n_rows: int, dim: int = 1280, chunk: int = 8192) -> dict:
    """Fit streamed CORAL + head on ``n_rows`` source and ``n_rows // 2`` target rows."""
    from medtransfer.features.store import FeatureStore

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        for name, rows in (("source", n_rows), ("target", n_rows // 2)):
            store = FeatureStore(Path(root) / name, dim, "bench")
            for start in range(0, rows, chunk):
                size = min(chunk, rows - start)
                block = rng.normal(size=(size, dim)).astype(np.float32)
                store.put_many([str(k) for k in range(start, start + size)], block)
            store.close()
        proc = subprocess.run([sys.executable, "-c", _FIT, root], capture_output=True,
                              text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"rows": n_rows + n_rows // 2, "features": dim, **result,
            "data_mib": (n_rows + n_rows // 2) * dim * 4 / 2**20}
