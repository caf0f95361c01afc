"""Extraction images/s side by side: plain eager PyTorch, medtransfer's engines, cache hits.

Plain eager is the same weights run as a user would without medtransfer: the same
preprocessed tensors, NCHW, ``torch.inference_mode``, no cache. medtransfer's rows are the
whole ``extract_features`` call (decode, resize, hash, model, cache write), with the cache
empty for the engines and full for the hit rate; every output is compared with plain eager's.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence

import numpy as np

MODES = ("eager", "torch", "onnx", "cached")


def _plain_eager(images: np.ndarray, backbone: str, size: int, batch_size: int) -> np.ndarray:
    import torch

    from medtransfer.features import create_backbone
    from medtransfer.features.extract import ImageDataset

    model = create_backbone(backbone, device="cpu")
    dataset = ImageDataset(list(images), model.config, size)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(dataset), batch_size):
            batch = torch.stack([dataset[i] for i in range(start, min(start + batch_size,
                                                                       len(dataset)))])
            rows.append(model(batch).numpy())
    return np.concatenate(rows)


def measure_engines(sizes: Sequence[int], n: int, backbone: str = "efficientnet_lite0",
                    batch_size: int = 64) -> list[dict]:
    """One record per (size, mode): images/s, and the largest difference to plain eager."""
    import torch

    from medtransfer.data import Domain
    from medtransfer.features import extract_features
    from medtransfer.features.engine import onnx_available

    records = []
    engines = ["torch", *(["onnx"] if onnx_available() else [])]
    with tempfile.TemporaryDirectory() as cache:
        for size in sizes:
            images = np.random.default_rng(size).integers(0, 256, (n, 28, 28), dtype=np.uint8)
            domain = Domain(f"random-{size}", "image", inputs=images,
                            ids=np.arange(n).astype(str))
            warm = Domain("warm-up", "image", inputs=images[:batch_size],
                          ids=np.arange(batch_size).astype(str))
            for engine in engines:  # the ONNX exports and weight conversion stay out of timings
                extract_features(warm, backbone, image_size=size, engine=engine, cache=False,
                                 progress=False, batch_size=batch_size)
            start = time.perf_counter()
            reference = _plain_eager(images, backbone, size, batch_size)
            timings = {"eager": (time.perf_counter() - start, reference)}
            for engine in engines:
                mode_cache = f"{cache}/{engine}-{size}"
                start = time.perf_counter()
                found = extract_features(domain, backbone, image_size=size, engine=engine,
                                         cache_dir=mode_cache, batch_size=batch_size,
                                         progress=False)
                timings[engine] = (time.perf_counter() - start, found)
            start = time.perf_counter()
            found = extract_features(domain, backbone, image_size=size, cache_dir=mode_cache,
                                     progress=False)
            timings["cached"] = (time.perf_counter() - start, found)
            for mode, (seconds, features) in timings.items():
                records.append({
                    "target": f"{size}px-{mode}", "value": n / seconds,
                    "seconds": round(seconds, 3), "images": n,
                    "threads": torch.get_num_threads(),
                    "max_abs_diff": float(np.abs(features - reference).max()),
                })
    return records


def engine_table(records: list[dict]) -> list[str]:
    """Markdown rows: size | plain eager | torch | onnx | cached, with speed-ups and diffs."""
    by = {r["target"]: r for r in records}
    first = records[0]
    lines = [f"#### Feature extraction ({first['method']}, {first['images']} random 28x28 "
             f"images, {first['threads']} thread(s)), images/s (x plain eager; max |diff|)", "",
             "| size | plain eager | medtransfer torch | medtransfer onnx | cache hits |",
             "| --- | --- | --- | --- | --- |"]
    for size in dict.fromkeys(t.split("px")[0] for t in by):
        eager = by[f"{size}px-eager"]["value"]
        cells = []
        for mode in MODES:
            record = by.get(f"{size}px-{mode}")
            if record is None:
                cells.append("not installed")
                continue
            ratio = "" if mode == "eager" else f" ({record['value'] / eager:.1f}x; " \
                f"{record['max_abs_diff']:.0e})"
            cells.append(f"{record['value']:,.0f}{ratio}")
        lines.append(f"| {size} px | " + " | ".join(cells) + " |")
    return [*lines, ""]
