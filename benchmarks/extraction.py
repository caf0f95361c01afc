"""Feature-extraction throughput: images/s of the default backbone, cold and cached.

    python benchmarks/extraction.py --sizes 64 128 224 --n 256 --out bench-out

Prints a Markdown table and writes ``extraction.json`` records
``{suite, size, mode, images, seconds, images_per_s, threads}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from medtransfer.data import Domain
from medtransfer.features import extract_features


def measure(size: int, n: int, cache_dir: Path) -> list[dict]:
    """Time one cold and one cached extraction of ``n`` random 28x28 grayscale images."""
    images = np.random.default_rng(size).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    domain = Domain(f"random-{size}", "image", inputs=images, ids=np.arange(n).astype(str))
    records = []
    for mode in ("cold", "cached"):
        start = time.perf_counter()
        extract_features(domain, image_size=size, cache_dir=cache_dir, progress=False)
        seconds = time.perf_counter() - start
        records.append(
            {"suite": "extraction", "size": size, "mode": mode, "images": n,
             "seconds": round(seconds, 2), "images_per_s": round(n / seconds, 1),
             "threads": torch.get_num_threads()}
        )  # fmt: skip
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 224])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        # the first call converts the weights once; keep it out of the timings
        extract_features(
            Domain("warm-up", "image", inputs=np.zeros((1, 28, 28), np.uint8), ids=np.array(["0"])),
            image_size=64, cache_dir=Path(cache), progress=False,
        )  # fmt: skip
        records = [r for size in args.sizes for r in measure(size, args.n, Path(cache))]
    print("| size | mode | images/s | seconds |\n|---|---|---|---|")
    for r in records:
        print(f"| {r['size']} | {r['mode']} | {r['images_per_s']} | {r['seconds']} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "extraction.json").write_text(json.dumps(records, indent=2))


if __name__ == "__main__":
    main()
