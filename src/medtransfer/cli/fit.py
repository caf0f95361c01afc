"""``medtransfer fit``: fit a transfer pipeline and write a run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command
from medtransfer.cli.render import print_metrics


@command(
    "fit",
    epilog=(
        "Examples:\n\n"
        "  medtransfer fit heart.csv heart.csv --label-col num --site-col dataset "
        "--source-site Cleveland --target-site Hungary --target-labels 10 -o runs/hungary\n\n"
        "  medtransfer fit pbc/ bccd/ --target-labels 20 --method coral -o runs/wbc"
    ),
)
def fit(
    source: Annotated[
        Path, typer.Argument(help="Source data: table, image folder, manifest, .npz.")
    ],
    target: Annotated[Path, typer.Argument(help="Target data, same kinds.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write.")],
    target_labels: Annotated[
        str,
        typer.Option(
            "--target-labels", help="K labelled target samples (stratified), or a FILE of ids."
        ),
    ] = "0",
    method: Annotated[str, typer.Option("--method", help="Transfer method or 'auto'.")] = "auto",
    classifier: Annotated[
        str, typer.Option("--classifier", help="svm, logreg or boosting.")
    ] = "svm",
    backbone: opt.Backbone = "efficientnet_lite0",
    weights: opt.Weights = None,
    image_size: opt.ImageSize = None,
    recalibrate: Annotated[
        str | None,
        typer.Option(
            "--recalibrate",
            help="Recalibrate the chosen model on the labelled target samples: temperature, "
            "platt or isotonic.",
        ),
    ] = None,
    target_transform: Annotated[
        str, typer.Option("--target-transform", help="Regression: none, sqrt or log.")
    ] = "none",
    label_col: opt.LabelCol = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    source_site: opt.SourceSite = None,
    target_site: opt.TargetSite = None,
    split: opt.Split = None,
    task: opt.Task = "classification",
    seed: opt.Seed = 0,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    strict: opt.Strict = False,
    fmt: opt.Format = "human",
) -> None:
    """Fit on SOURCE + TARGET and score on the held-out target samples."""
    from medtransfer.data.sampling import read_id_file
    from medtransfer.pipeline import TransferPipeline
    from medtransfer.run import fit_run

    opt.check_format(fmt)
    options = opt.data_options(label_col, id_col, site_col, split, task, strict)
    labels = int(target_labels) if target_labels.isdigit() else read_id_file(Path(target_labels))
    pipeline = TransferPipeline(
        method=method,
        classifier=classifier,
        backbone=backbone,
        weights=weights,
        image_size=image_size,
        task=task,
        target_transform=target_transform,
        random_state=seed,
        progress=not quiet,
        recalibrate=recalibrate,
    )
    result = fit_run(
        opt.load(source, options, source_site),
        opt.load(target, options, target_site),
        out,
        pipeline=pipeline,
        target_labels=labels,
        force=force,
        data_options={**options, "source_site": source_site, "target_site": target_site},
    )
    if fmt == "json":
        typer.echo(json.dumps(result.manifest["metrics"], indent=2))
        return
    print_metrics(
        result.manifest["metrics"], title=f"{result.manifest['target']['name']} (held out)"
    )
    typer.echo(f"method: {result.pipeline.method}; run written to {result.path}")
