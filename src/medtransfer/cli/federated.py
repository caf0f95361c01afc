"""``medtransfer federated``: the sites of one table as Flower clients, simulated locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command


@command(
    "federated",
    epilog=(
        "Examples:\n\n  medtransfer federated heart.csv --label-col num --site-col dataset "
        "--target-site 'VA Long Beach' --method coral -o fed-va\n\n"
        "  medtransfer federated heart.csv --label-col num --binary --site-col dataset "
        "--target-site 'VA Long Beach' --label-shift bbse --recalibrate platt -o fed-va-ls\n\n"
        "  medtransfer federated xrays.csv --site-col hospital --fedbn --backbone "
        "efficientnet_lite0 --rounds 10 --local-steps 5 -o fedbn-xrays\n\n"
        "(xrays.csv: an image manifest with path, label and hospital columns)"
    ),
)
def federated(
    data: Annotated[Path, typer.Argument(
        help="A table with a site column (an image manifest with --fedbn).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder: result.json, audit logs.")],
    target_site: opt.TargetSite = None,
    method: Annotated[
        str | None, typer.Option("--method", help="Tables: none, site_standardize, coral "
                                 "(default) or combat.")
    ] = None,
    rounds: Annotated[int | None, typer.Option(
        "--rounds", help="FedAvg rounds (default 20; FedBN: 5).")] = None,
    local_epochs: Annotated[int, typer.Option("--local-epochs", help="Steps per round.")] = 5,
    proximal_mu: Annotated[
        float, typer.Option("--proximal-mu", help="FedProx mu (0: FedAvg).")
    ] = 0.0,
    label_shift: Annotated[
        str, typer.Option("--label-shift", help="Target prior from counts: none, bbse or em.")
    ] = "none",
    holdout: Annotated[
        float, typer.Option("--holdout", help="Share of source rows held out for --label-shift.")
    ] = 0.5,
    recalibrate: Annotated[
        str, typer.Option("--recalibrate", help="none, or platt (fitted on the target's labels "
                          "by federated Newton).")
    ] = "none",
    min_cell: Annotated[int, typer.Option("--min-cell", help="Small-cell minimum.")] = 10,
    binary: Annotated[
        bool, typer.Option("--binary", help="Positive = any class but the first (num > 0).")
    ] = False,
    fedbn: Annotated[bool, typer.Option(
        "--fedbn", help="Images: fine-tune the backbone at every site, batch norm kept local "
        "(FedBN); each site tests on its held-out share.")] = False,
    share_batch_norm: Annotated[bool, typer.Option(
        "--share-batch-norm", help="With --fedbn: average batch norm too (plain FedAvg).")
    ] = False,
    local_steps: Annotated[int, typer.Option(
        "--local-steps", help="FedBN: optimisation steps per site and round.")] = 5,
    test_fraction: Annotated[float, typer.Option(
        "--test-fraction", help="FedBN: share of each site's images held out to test.")] = 0.3,
    backbone: opt.Backbone = "efficientnet_lite0",
    weights: opt.Weights = None,
    image_size: Annotated[int, typer.Option("--image-size", help="FedBN: image side.")] = 64,
    seed: opt.Seed = 0,
    label_col: opt.LabelCol = None,
    site_col: opt.SiteCol = None,
    force: opt.Force = False,
) -> None:
    """Train on every site but the target with Flower (local simulation), validate on all;
    with --fedbn, fine-tune an image backbone at every site."""
    from medtransfer import artifacts
    from medtransfer.errors import ConfigError
    from medtransfer.federated.corrections import check_corrections
    from medtransfer.federated.flower import HOW_TO_DEPLOY, simulate
    from medtransfer.federated.site import two_class

    if fedbn:
        table_only = {"--target-site": target_site, "--method": method,
                      "--label-shift": label_shift != "none" or None,
                      "--recalibrate": recalibrate != "none" or None,
                      "--proximal-mu": proximal_mu or None}
        given = [flag for flag, value in table_only.items() if value is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} apply to tables; --fedbn fine-tunes on "
                              "images at every site and tests each on its own held-out share")
        plan = {"backbone": backbone, "weights": None if weights is None else str(weights),
                "image_size": image_size, "rounds": 5 if rounds is None else rounds,
                "local_steps": local_steps, "test_fraction": test_fraction, "seed": seed,
                "keep_batch_norm_local": not share_batch_norm}
        _fedbn(data, out, plan, opt.data_options(label_col, None, site_col, None,
                                                 "classification", False),
               binary, min_cell, force)
        typer.echo(HOW_TO_DEPLOY)
        return
    if share_batch_norm:
        raise ConfigError("--share-batch-norm goes with --fedbn (image fine-tuning)")
    method = method or "coral"
    rounds = 20 if rounds is None else rounds
    if site_col is None or target_site is None:
        raise ConfigError("federated needs --site-col (one client per site) and --target-site")
    corrections = {"label_shift": label_shift, "recalibrate": recalibrate,
                   "holdout": holdout if label_shift != "none" else 0.0}
    check_corrections(corrections)
    artifacts.check_writable(out, force)
    options = opt.data_options(label_col, None, site_col, None, "classification", False)
    whole = opt.load(data, options)
    sites = sorted({str(s) for s in whole.metadata["site"]})
    domains = [two_class(opt.load(data, options, s), binary) for s in sites]
    config = {"method": method, "rounds": rounds, "local_epochs": local_epochs,
              "learning_rate": 0.5, "proximal_mu": proximal_mu, **corrections}
    with artifacts.atomic_directory(out, force) as tmp:
        result = simulate(domains, target_site, tmp / "audit", config, min_cell=min_cell)
        result.pop("plan")
        artifacts.write_json(tmp / "result.json", result)
    summary = {"target": result["target_auroc"], "sources": result["source_validation"]}
    if "label_shift" in result:
        summary["label_shift"] = {k: result["label_shift"][k]
                                  for k in ("method", "source_prior", "target_prior", "left_out")}
    if "recalibration" in result:
        summary["recalibration"] = {k: result["recalibration"][k] for k in ("a", "b")}
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"written: {out}/result.json, audit logs in {out}/audit/")
    typer.echo(HOW_TO_DEPLOY)


def _fedbn(data: Path, out: Path, plan: dict, options: dict, binary: bool, min_cell: int,
           force: bool) -> None:
    """The FedBN branch: one image site per value of the site column."""
    from medtransfer import artifacts
    from medtransfer.errors import ConfigError
    from medtransfer.federated.fedbn import check_fedbn_config
    from medtransfer.federated.flower import simulate_fedbn
    from medtransfer.federated.site import two_class

    if options["site_col"] is None:
        raise ConfigError("federated --fedbn needs --site-col (one client per site)")
    whole = opt.load(data, options)
    if whole.kind != "image":
        raise ConfigError(f"--fedbn fine-tunes a backbone on images, but {data} holds a "
                          f"{whole.kind}; give an image manifest (a CSV with a path column)")
    names = sorted({str(s) for s in whole.metadata["site"]})
    domains = [two_class(opt.load(data, options, s), binary) for s in names]
    plan = check_fedbn_config({**plan, "class_names": list(domains[0].class_names)})
    artifacts.check_writable(out, force)
    with artifacts.atomic_directory(out, force) as tmp:
        result = simulate_fedbn(domains, tmp, plan, min_cell=min_cell)
        artifacts.write_json(tmp / "result.json", result)
    typer.echo(json.dumps(result["validation"], indent=2))
    typer.echo(f"written: {out}/result.json, audit logs in {out}/audit/, each site's model "
               f"(shared weights, own batch norm) in {out}/state/")


