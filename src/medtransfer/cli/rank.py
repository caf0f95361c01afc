"""``medtransfer rank``: which source (and backbone) should a target start from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command

# what a score's numbers mean, printed under the ranking
SCALES = {
    "logme": "LogME, the mean log evidence per sample of a linear model on the features; "
             "unbounded, higher is better; only differences between candidates matter",
    "leep": "LEEP, the mean log-likelihood of the target labels through the source "
            "classifier (<= 0); higher is better",
    "nce": "NCE, the negative conditional entropy of target labels given source labels "
           "(<= 0); higher is better",
    "hscore": "H-score, the between-class over total feature variance (>= 0); higher is better",
    "hscore_shrinkage": "H-score with a shrunk covariance (>= 0); higher is better",
}


@command(
    "rank",
    epilog=(
        "Example:\n\n  medtransfer rank heart.csv --source heart.csv --source heart.csv "
        "--label-col num --label-map \"0=no disease,1-4=disease\" --site-col dataset "
        "--target-site Switzerland --source-site Cleveland --source-site Hungary "
        "--target-labels 20 --validate --out rank-ch"
    ),
)
def rank(
    target: Annotated[Path, typer.Argument(help="Target data with at least k labels.")],
    sources: Annotated[
        list[Path], typer.Option("--source", help="A candidate source (repeat for several).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for rank.json and the plot.")],
    source_sites: Annotated[
        list[str] | None,
        typer.Option("--source-site", help="Site of each --source (repeat, in order)."),
    ] = None,
    backbones: Annotated[
        list[str] | None, typer.Option("--backbone", help="Candidate backbones (repeat).")
    ] = None,
    target_labels: Annotated[
        int, typer.Option("--target-labels", help="K labelled target samples to score on.")
    ] = 20,
    score: Annotated[
        str | None,
        typer.Option("--score", help="logme, leep, nce, hscore, hscore_shrinkage (default: auto)."),
    ] = None,
    validate: Annotated[
        bool, typer.Option("--validate", help="Also fit each candidate; report Kendall's tau.")
    ] = False,
    image_size: opt.ImageSize = None,
    weights: Annotated[
        Path | None,
        typer.Option("--weights", help="Safetensors checkpoint for the timm:NAME backbones "
                     "(the registered ones keep their packaged weights)."),
    ] = None,
    harmonize: Annotated[
        str, typer.Option("--harmonize", help="Pixel harmonisation before every backbone "
                          "(as in fit; `medtransfer harmonizers`).")
    ] = "none",
    label_col: opt.LabelCol = None,
    label_map: opt.LabelMap = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    target_site: opt.TargetSite = None,
    split: opt.Split = None,
    seed: opt.Seed = 0,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    strict: opt.Strict = False,
    fmt: opt.Format = "human",
    engine: opt.Engine = "auto",
) -> None:
    """Rank candidate sources x backbones by a transferability score on k target labels."""
    from medtransfer import artifacts
    from medtransfer.errors import ConfigError
    from medtransfer.rank import candidates, default_score, rank_sources
    from medtransfer.select.ranking import plot_ranking

    opt.check_format(fmt)
    opt.check_seed(seed)
    opt.check_image_size(image_size)
    artifacts.check_writable(out, force)
    sites = source_sites or [None] * len(sources)
    if len(sites) != len(sources):
        raise ConfigError(
            f"{len(sources)} --source but {len(sites)} --source-site; give one site per source"
        )
    options = opt.data_options(label_col, id_col, site_col, split, "classification", strict,
                               label_map=label_map)
    domains = [opt.load(path, options, site) for path, site in zip(sources, sites, strict=True)]
    pool = candidates(domains, backbones or ["efficientnet_lite0"])
    result = rank_sources(
        opt.load(target, options, target_site),
        pool,
        k=target_labels,
        score=score or default_score(len(domains)),
        validate=validate,
        random_state=seed,
        image_size=image_size,
        weights=weights,
        harmonize=harmonize,
        progress=not quiet,
    )
    with artifacts.atomic_directory(out, force) as tmp:
        artifacts.write_json(tmp / "rank.json", result)
        plot_ranking(result["ranking"], tmp / "rank.png", title=f"{result['target']}")
    if fmt == "json":
        typer.echo(json.dumps(result, indent=2))
        return
    for row in result["ranking"]:
        fitted = f"  fitted AUROC {row['fitted_auroc']:.3f}" if "fitted_auroc" in row else ""
        typer.echo(f"{row['rank']}. {row['name']:<30} {result['score']} {row['score']:.4f}{fitted}")
    typer.echo(f"{result['score']}: {SCALES.get(result['score'], 'higher is better')}")
    if validate:
        tau = result["validation"]["kendall_tau"]
        typer.echo(f"Kendall's tau between score and fitted AUROC: {tau:.2f}")
    typer.echo(f"written: {out}/rank.json, {out}/rank.png")
