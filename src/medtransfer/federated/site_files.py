"""Reading and writing the files a site and the coordinator exchange."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medtransfer.data import Domain
from medtransfer.errors import DataError
from medtransfer.features import TabularEncoder
from medtransfer.federated.schema import encoder_digest, table_schema
from medtransfer.federated.site_stats import compute_site_statistics


def read_json(path: Path) -> Any:
    """A JSON file, or a DataError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read it as JSON ({err}); pass the file written by "
                        "`medtransfer site-stats` / `site-encoder`") from None


def read_encoder(path: Path) -> TabularEncoder:
    """The shared encoder written by ``medtransfer site-encoder``."""
    return TabularEncoder.from_dict(read_json(path))


def site_release(
    domain: Domain, encoder: Path | TabularEncoder | None, *, min_cell: int = 10,
    epsilon: float | None = None, delta: float = 1e-5, clip_norm: float | None = None,
    random_state: int | None = None,
) -> dict[str, Any]:
    """What one site releases: its column schema (no encoder yet) or its statistics."""
    if domain.kind != "table":
        raise DataError(f"{domain.name}: site statistics are for tables; got {domain.kind} "
                        "data (extract features first and save them as a table)")
    if encoder is None:
        return table_schema(domain.inputs, site=domain.name, min_cell=min_cell)
    if not isinstance(encoder, TabularEncoder):
        encoder = read_encoder(encoder)
    X = encoder.transform(domain.inputs)
    names = [str(n) for n in encoder.get_feature_names_out()]
    stats = compute_site_statistics(
        X, domain.labels, names, list(domain.class_names or []), site=domain.name,
        raw=domain.inputs, encoder=encoder_digest(encoder), min_cell=min_cell,
        epsilon=epsilon, delta=delta, clip_norm=clip_norm, random_state=random_state,
    )
    return stats.to_dict()
