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
        "--target-site 'VA Long Beach' --label-shift bbse --recalibrate platt -o fed-va-ls"
    ),
)
def federated(
    data: Annotated[Path, typer.Argument(help="A table with a site column.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder: result.json, audit logs.")],
    target_site: opt.TargetSite = None,
    method: Annotated[
        str, typer.Option("--method", help="none, site_standardize, coral or combat.")
    ] = "coral",
    rounds: Annotated[int, typer.Option("--rounds", help="FedAvg rounds.")] = 20,
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
    label_col: opt.LabelCol = None,
    site_col: opt.SiteCol = None,
    force: opt.Force = False,
) -> None:
    """Train on every site but the target with Flower (local simulation), validate on all."""
    from medtransfer import artifacts
    from medtransfer.errors import ConfigError
    from medtransfer.federated.corrections import check_corrections
    from medtransfer.federated.flower import HOW_TO_DEPLOY, simulate

    if site_col is None or target_site is None:
        raise ConfigError("federated needs --site-col (one client per site) and --target-site")
    corrections = {"label_shift": label_shift, "recalibrate": recalibrate,
                   "holdout": holdout if label_shift != "none" else 0.0}
    check_corrections(corrections)
    artifacts.check_writable(out, force)
    options = opt.data_options(label_col, None, site_col, None, "classification", False)
    whole = opt.load(data, options)
    sites = sorted({str(s) for s in whole.metadata["site"]})
    domains = [_binary(opt.load(data, options, s), binary) for s in sites]
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


def _binary(domain, binary: bool):
    """The domain with two classes (the first, and all the others when ``binary``)."""
    from dataclasses import replace

    from medtransfer.errors import DataError

    names = domain.class_names or ()
    if binary and len(names) > 2:
        labels = (domain.labels > 0).astype(int)
        return replace(domain, labels=labels, class_names=(names[0], f"not {names[0]}"))
    if len(names) != 2:
        raise DataError(f"{domain.name}: federated training fits a binary head but the label "
                        f"has classes {list(names)}; pass --binary (positive = not "
                        f"{names[0] if names else '?'}) or a two-class label column")
    return domain
