"""``medtransfer extract``: the features of a whole image source written to a feature store.

The output folder is a :class:`~medtransfer.features.store.FeatureStore` (rows by content
digest, one shard per batch) plus, per ``--shard i/N``, a Parquet table of the rows it covers
(id, digest, label, metadata) and ``domain.json`` (name, class names). A killed run loses at
most its current batch: run it again and it computes only the rows not yet stored. Job arrays
run ``--shard i/N`` for i = 0..N-1 into one folder (the store takes concurrent writers).
``engine="ray"`` computes the missing rows on Ray Data actors and writes them the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.artifacts import atomic_file, write_bytes
from medtransfer.data.domain import Domain
from medtransfer.errors import DataError
from medtransfer.features.backbones import backbone_config, weights_fingerprint
from medtransfer.features.cache import input_digest
from medtransfer.features.device import resolve_device
from medtransfer.features.engine import EXTRACT_ENGINE, RAY, check_engine
from medtransfer.features.extract import (
    ImageDataset,
    ImageItem,
    feature_batches,
    feature_function,
    image_items,
    preprocessing_store_key,
)
from medtransfer.features.ray_engine import ray_feature_rows, require_ray
from medtransfer.features.store import STORE_FILE, FeatureStore
from medtransfer.params import ParameterError

DOMAIN_FILE = "domain.json"


def parse_shard(shard: str | None) -> tuple[int, int]:
    """``"i/N"`` as (i, N) with 0 <= i < N; None is the whole source (0, 1)."""
    if shard is None:
        return 0, 1
    parts = str(shard).split("/")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        index, count = int(parts[0]), int(parts[1])
        if 0 <= index < count:
            return index, count
    raise ParameterError("parse_shard", "shard", shard,
                         lambda style: "expected i/N with 0 <= i < N, e.g. 0/4")


def extract_to_store(
    domain: Domain,
    out: str | Path,
    backbone: str = "efficientnet_lite0",
    *,
    weights: str | Path | None = None,
    image_size: int | None = None,
    shard: tuple[int, int] = (0, 1),
    batch_size: int = 64,
    device: str | None = None,
    engine: str | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> dict:
    """Write the features of ``domain``'s images (shard ``i`` of ``N``) to the store ``out``.

    Parameters
    ----------
    domain : Domain
        An image domain: file paths or a uint8 array (n, H, W[, C]).
    out : str or Path
        The feature store folder (created, or continued when it holds the same features).
    backbone, weights, image_size, batch_size, device
        As for :func:`~medtransfer.features.extract.extract_features`.
    shard : tuple of int
        ``(i, N)``: only rows i, i + N, ... of ``domain``.
    engine : {"auto", "onnx", "torch", "ray"} or None
        An in-process engine (None for the enclosing ``engine_scope``), or ``"ray"`` for a
        pool of Ray Data actors (:mod:`~medtransfer.features.ray_engine`; CPU only).
    num_workers : int or None
        Decoding processes of an in-process engine, or the Ray actors; None for the default
        (one per spare core on large inputs; one actor per CPU of the Ray cluster).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    dict
        ``{"rows": rows of this shard, "computed": rows computed now, "stored": rows in the
        store}``.
    """
    if engine is not None:
        check_engine(engine, "extract_to_store", EXTRACT_ENGINE)
    if engine == RAY:
        require_ray()  # before the store exists: a missing extra leaves no folder behind
        if device not in (None, "cpu"):
            raise ParameterError("extract_to_store", "device", device,
                                 lambda style: "Ray actors extract on the CPU")
    items = image_items(domain)
    config = backbone_config(backbone)
    _, weights_sha = weights_fingerprint(config, weights)
    size = image_size or config.input_size
    positions = np.arange(len(items))[shard[0] :: shard[1]]
    digests = [input_digest(items[p]) for p in positions]
    store = FeatureStore(Path(out), config.feature_dim,
                         preprocessing_store_key(config, weights_sha, size))
    try:
        present = store.contains(digests)
        pending = [(d, items[p]) for d, p in dict(zip(digests, positions, strict=True)).items()
                   if d not in present]
        if pending:
            settings = {"weights": weights, "weights_sha": weights_sha, "size": size,
                        "batch_size": batch_size, "workers": num_workers, "progress": progress,
                        "label": f"extract {domain.name} ({config.name}, {size}px)"}
            if engine == RAY:
                batches = ray_feature_rows(pending, backbone, **settings)
            else:
                batches = _local_feature_rows(pending, backbone, device=device, engine=engine,
                                              **settings)
            for done, rows in batches:
                store.put_many(done, rows)
        _write_rows(Path(out), domain, positions, digests, shard)
        return {"rows": len(digests), "computed": len(pending), "stored": len(store)}
    finally:
        store.close()


def _local_feature_rows(
    pending: list[tuple[str, ImageItem]], backbone: str, *, weights: str | Path | None,
    weights_sha: str, size: int, batch_size: int, workers: int | None, progress: bool,
    label: str, device: str | None, engine: str | None,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """``(digests, features)`` per batch of ``pending``, in order, in this process."""
    config = backbone_config(backbone)
    features = feature_function(backbone, config, weights, weights_sha, resolve_device(device),
                                engine, batch_size)
    dataset = ImageDataset([item for _, item in pending], config, size)
    done = 0
    for rows in feature_batches(features, dataset, batch_size=batch_size, num_workers=workers,
                                progress=progress, label=label):
        yield [d for d, _ in pending[done : done + len(rows)]], rows
        done += len(rows)


def _rows_file(shard: tuple[int, int]) -> str:
    return f"rows-{shard[0]:05d}-of-{shard[1]:05d}.parquet"


def _write_rows(out: Path, domain: Domain, positions, digests, shard) -> None:
    frame = pd.DataFrame({"position": positions, "id": domain.ids[positions], "digest": digests})
    if domain.labels is not None:
        frame["label"] = domain.labels[positions]
    for column in domain.metadata.columns:
        frame[f"meta:{column}"] = domain.metadata[column].to_numpy()[positions]
    with atomic_file(out / _rows_file(shard)) as tmp:
        frame.to_parquet(tmp, index=False)
    described = {"name": domain.name, "class_names": domain.class_names}
    write_bytes(out / DOMAIN_FILE, json.dumps(described).encode())


def is_feature_store(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by :func:`extract_to_store`."""
    return (Path(path) / STORE_FILE).is_file() and (Path(path) / DOMAIN_FILE).is_file()


def load_feature_domain(path: str | Path) -> Domain:
    """A feature store as a table Domain: one float32 column per feature, labels, metadata.

    Raises
    ------
    DataError
        If a row listed in a shard's table has no stored features (an unfinished extract).
    """
    path = Path(path)
    described = json.loads((path / DOMAIN_FILE).read_text())
    meta = json.loads((path / STORE_FILE).read_text())
    frame = pd.concat([pd.read_parquet(f) for f in sorted(path.glob("rows-*.parquet"))])
    frame = frame.sort_values("position", kind="stable").reset_index(drop=True)
    store = FeatureStore(path, meta["feature_dim"], meta["key"])
    try:
        found = store.get_many(list(frame["digest"]))
    finally:
        store.close()
    missing = int((~frame["digest"].isin(found.keys())).sum())
    if missing:
        raise DataError(
            f"feature store {str(path)!r} lacks the features of {missing} listed rows; "
            "run `medtransfer extract` again on the same source to finish it"
        )
    matrix = np.stack([found[d] for d in frame["digest"]])
    names = [f"f{k:04d}" for k in range(matrix.shape[1])]
    labels = frame["label"].to_numpy() if "label" in frame else None
    metadata = frame[[c for c in frame if c.startswith("meta:")]]
    class_names = described["class_names"]
    return Domain(
        described["name"], "table", inputs=pd.DataFrame(matrix, columns=names),
        ids=frame["id"].astype(str).to_numpy(), labels=labels,
        class_names=tuple(class_names) if class_names else None,
        metadata=metadata.rename(columns=lambda c: c.removeprefix("meta:")), root=path,
    )
