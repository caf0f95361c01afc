"""``medtransfer site-stats`` and ``site-encoder``: what one site releases, and the shared
encoder built from every site's schema (the statistics protocol; no rows leave a site)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command

MinCell = Annotated[
    int, typer.Option("--min-cell", help="Smallest count ever released (small-cell rule).")
]


@command(
    "site-stats",
    epilog=(
        "Examples (run at each site; round 1 without --encoder writes the column schema):\n\n"
        "  medtransfer site-stats heart.csv --label-col num --site-col dataset --site Hungary "
        "-o hungary-schema.json\n\n"
        "  medtransfer site-stats heart.csv --label-col num --site-col dataset --site Hungary "
        "--encoder encoder.json -o hungary-stats.json"
    ),
)
def site_stats(
    data: Annotated[Path, typer.Argument(help="This site's table.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="STATS.json (or SCHEMA.json) to write.")],
    encoder: Annotated[
        Path | None,
        typer.Option("--encoder", help="Shared encoder JSON from `medtransfer site-encoder`; "
                     "without it, the column schema (round 1) is written."),
    ] = None,
    min_cell: MinCell = 10,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Differential privacy: epsilon in (0, 1].")
    ] = None,
    delta: Annotated[float, typer.Option("--delta", help="Differential privacy: delta.")] = 1e-5,
    clip_norm: Annotated[
        float | None, typer.Option("--clip-norm", help="DP: rows are clipped to this L2 norm.")
    ] = None,
    label_col: opt.LabelCol = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    site: opt.Site = None,
    seed: opt.Seed = 0,
    force: opt.Force = False,
) -> None:
    """Aggregates of one site's rows (counts, moments, per-class summaries, missingness)."""
    from medtransfer import artifacts
    from medtransfer.federated.site_files import site_release

    artifacts.check_writable(out, force)
    options = opt.data_options(label_col, id_col, site_col, None, "classification", False)
    domain = opt.load(data, options, site)
    payload = site_release(domain, encoder, min_cell=min_cell, epsilon=epsilon, delta=delta,
                           clip_norm=clip_norm, random_state=seed)
    artifacts.write_json(out, payload)
    kind = "schema" if encoder is None else "statistics"
    typer.echo(f"{domain.name}: {kind} of {len(domain)} rows written to {out} "
               f"(no count under {min_cell} released)")


@command(
    "site-encoder",
    epilog="Example:\n\n  medtransfer site-encoder a-schema.json b-schema.json -o encoder.json",
)
def site_encoder(
    schemas: Annotated[list[Path], typer.Argument(help="Every site's SCHEMA.json.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="encoder.json to write.")],
    force: opt.Force = False,
) -> None:
    """Build the shared table encoder from the sites' column schemas."""
    from medtransfer import artifacts
    from medtransfer.federated.schema import encoder_digest, encoder_from_schemas
    from medtransfer.federated.site_files import read_json

    artifacts.check_writable(out, force)
    encoder = encoder_from_schemas([read_json(p) for p in schemas])
    artifacts.write_json(out, encoder.to_dict())
    names = encoder.get_feature_names_out()
    typer.echo(f"encoder {encoder_digest(encoder)}: {len(names)} features, dropped "
               f"{encoder.dropped_ or 'none'}; written to {out}")
