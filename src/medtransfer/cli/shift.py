"""``medtransfer shift``: is there a shift between SOURCE and TARGET, of what kind, how big."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command


@command(
    "shift",
    epilog=(
        "Example:\n\n  medtransfer shift heart.csv heart.csv --label-col num --site-col dataset "
        "--source-site Cleveland --target-site Switzerland --out shift-ch"
    ),
)
def shift(
    source: Annotated[
        Path, typer.Argument(help="Source data: table, image folder, manifest, .npz.")
    ],
    target: Annotated[Path, typer.Argument(help="Target data, same kinds.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for shift.json and figures.")],
    permutations: Annotated[
        int, typer.Option("--permutations", help="Permutations of the MMD test.")
    ] = 200,
    tsne: Annotated[bool, typer.Option("--tsne/--no-tsne", help="Also draw a t-SNE map.")] = True,
    backbone: opt.Backbone = "efficientnet_lite0",
    weights: opt.Weights = None,
    image_size: opt.ImageSize = None,
    label_col: opt.LabelCol = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    source_site: opt.SourceSite = None,
    target_site: opt.TargetSite = None,
    split: opt.Split = None,
    seed: opt.Seed = 0,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    strict: opt.Strict = False,
    fmt: opt.Format = "human",
    engine: opt.Engine = "auto",
) -> None:
    """Two-sample tests, label-prior, missingness and per-feature drift, and a picture."""
    from medtransfer import artifacts
    from medtransfer.data import harmonize_classes
    from medtransfer.features import featurize_pair
    from medtransfer.shift import measure_shift
    from medtransfer.shift.leakage import check_leakage

    opt.check_format(fmt)
    opt.check_seed(seed)
    opt.check_image_size(image_size)
    artifacts.check_writable(out, force)
    options = opt.data_options(label_col, id_col, site_col, split, "classification", strict)
    s, t = opt.load(source, options, source_site), opt.load(target, options, target_site)
    if s.class_names is not None:
        s, t, _ = harmonize_classes(s, t)
    Xs, Xt, _ = featurize_pair(
        s, t, backbone=backbone, weights=weights, image_size=image_size, progress=not quiet
    )
    report = measure_shift(s, t, Xs, Xt, random_state=seed, n_permutations=permutations)
    leakage = check_leakage({"source": s, "target": t}, {"source": Xs, "target": Xt})
    with artifacts.atomic_directory(out, force) as tmp:
        report.write(tmp, tsne=tsne)
        artifacts.write_json(tmp / "leakage.json", leakage.to_dict())
    if leakage.flagged.size:
        typer.echo(f"warning: LEAKAGE: {leakage.flagged.size} of {len(t)} target cases are "
                   f"duplicates ({'; '.join(leakage.summary())})", err=True)
    if fmt == "json":
        typer.echo(json.dumps({**report.to_dict(), "leakage": leakage.to_dict()}, indent=2))
        return
    typer.echo(f"{s.name} (n={len(s)}) vs {t.name} (n={len(t)}):")
    for line in [*report.summary(), *leakage.summary()]:
        typer.echo(f"  - {line}")
    typer.echo(f"written: {out}/shift.json, leakage.json and embedding figures")
