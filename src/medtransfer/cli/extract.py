"""``medtransfer extract`` and ``medtransfer cache``: feature stores of whole archives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import app, command


@command(
    "extract",
    epilog=(
        "Examples:\n\n"
        "  medtransfer extract pbc/ -o features/pbc          (again after a kill: resumes)\n\n"
        "  medtransfer extract archive.csv -o features/archive --shard 3/16   (a job array)\n\n"
        "  medtransfer extract archive.csv -o features/archive --engine ray   (Ray actors)\n\n"
        "  medtransfer fit features/pbc features/bccd --target-labels 20 -o runs/wbc"
    ),
)
def extract(
    source: Annotated[Path, typer.Argument(help="Images: folder, manifest CSV or .npz.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Feature store folder to write.")],
    shard: Annotated[
        str | None, typer.Option("--shard", help="Only rows i, i+N, ... of SOURCE: i/N.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per batch.")] = 64,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Ray actors with --engine ray (default: one per "
                     "CPU of the cluster); else decoding processes (default: one per spare "
                     "core on large sources)."),
    ] = None,
    backbone: opt.Backbone = "efficientnet_lite0",
    weights: opt.Weights = None,
    image_size: opt.ImageSize = None,
    label_col: opt.LabelCol = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    site: opt.Site = None,
    split: opt.Split = None,
    strict: opt.Strict = False,
    quiet: opt.Quiet = False,
    # not named `engine`: the command decorator would scope that as an in-process engine, and
    # ray is none; extract_to_store takes it instead
    extract_engine: opt.ExtractEngine = "auto",
) -> None:
    """Write SOURCE's image features to a feature store that fit, shift, rank and predict read."""
    from medtransfer.features.archive import extract_to_store, parse_shard

    part = parse_shard(shard)
    options = opt.data_options(label_col, id_col, site_col, split, "classification", strict)
    summary = extract_to_store(
        opt.load(source, options, site), out, backbone, weights=weights, image_size=image_size,
        shard=part, batch_size=batch_size, engine=extract_engine, num_workers=workers,
        progress=not quiet,
    )
    typer.echo(f"{summary['rows']} rows of shard {part[0]}/{part[1]} in {out} "
               f"({summary['computed']} computed now, {summary['stored']} stored)")


cache_app = typer.Typer(help="The feature cache: its size, and pruning it.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def info(fmt: opt.Format = "human") -> None:
    """Rows, shards and bytes in the cache ($MEDTRANSFER_CACHE or ~/.cache/medtransfer)."""
    from medtransfer.features.cache import cache_info

    found = cache_info()
    if fmt == "json":
        typer.echo(json.dumps(found, indent=2))
        return
    typer.echo(f"{found['root']}: {found['rows']} rows, {found['bytes'] / 2**20:.1f} MiB in "
               f"{len(found['stores'])} stores (limit {found['limit_bytes'] / 2**30:.1f} GiB; "
               f"legacy per-row files {found['legacy_bytes'] / 2**20:.1f} MiB)")


@cache_app.command("prune")
def prune(
    max_size: Annotated[
        str | None, typer.Option("--max-size", help="Keep at most this much, e.g. 5G.")
    ] = None,
) -> None:
    """Evict least recently used shards down to --max-size (default: the cache limit)."""
    from medtransfer.errors import MedTransferError
    from medtransfer.features.cache import parse_size, prune_cache

    try:
        result = prune_cache(max_bytes=None if max_size is None else parse_size(max_size))
    except MedTransferError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"evicted {result['evicted_shards']} shards, freed "
               f"{result['freed_bytes'] / 2**20:.1f} MiB; {result['bytes'] / 2**20:.1f} MiB left")
