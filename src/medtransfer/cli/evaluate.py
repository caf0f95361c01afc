"""``medtransfer evaluate``: metrics with 95% intervals of a saved run on labelled test data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command
from medtransfer.cli.render import print_effect_metrics, print_metrics
from medtransfer.errors import ConfigError


@command(
    "evaluate",
    epilog="Examples:\n\n  medtransfer evaluate runs/hungary hungary_test.csv --out metrics.json"
    "\n\n  medtransfer evaluate runs/trial trial_test.csv --better lower --propensity 0.5"
    "   (a treatment-effect run: value treating as recommended against treat-all / none)",
)
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder written by `medtransfer fit`.")],
    test: Annotated[Path, typer.Argument(help="Labelled test data (same kinds as fit).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the metrics as JSON here.")
    ] = None,
    n_resamples: Annotated[
        int, typer.Option("--n-resamples", help="Bootstrap resamples for the intervals.")
    ] = 1000,
    label_col: opt.LabelCol = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    site: opt.Site = None,
    split: opt.Split = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    strict: opt.Strict = False,
    fmt: opt.Format = "human",
    verify_key: opt.VerifyKey = None,
    engine: opt.Engine = "auto",
    better: Annotated[
        str | None,
        typer.Option("--better", help="A treatment-effect run: which way the outcome is "
                     "better, higher or lower (default: as fitted); TEST's rows with treatment "
                     "and outcome then value treating as recommended against treat-all / none."),
    ] = None,
    propensity: Annotated[
        str | None,
        typer.Option("--propensity", help="With --better: logistic, share or the known "
                     "allocation probability (0.5) of TEST's treatment (default: as fitted)."),
    ] = None,
) -> None:
    """Score the run's method and baselines on TEST (every label of TEST is used for scoring);
    a treatment-effect run: its mean effect, factual outcome and policy values."""
    from medtransfer import artifacts
    from medtransfer.runs.fit import evaluate_run

    opt.check_format(fmt)
    if out is not None:
        artifacts.check_writable(out, force)
    opt.verified(run, verify_key)
    manifest = artifacts.read_manifest(run, verify=False)
    model, task = _load_model(run, manifest, quiet, better, propensity)
    saved = manifest.get("data_options", {})
    options = opt.data_options(
        label_col or saved.get("label_col"),
        id_col or saved.get("id_col"),
        site_col or saved.get("site_col"),
        split,
        task,
        strict,
        **{k: saved.get(k) for k in ("label_map", "positive_class", "drop_cols")},
    )
    domain = _without_training_rows(opt.load(test, options, site), manifest)
    metrics = evaluate_run(model, domain, n_resamples=n_resamples)
    if out is not None:
        artifacts.write_json(out, metrics)
    if fmt == "json":
        typer.echo(json.dumps(artifacts.to_json(metrics), indent=2, allow_nan=False))
    elif "effect" in manifest:
        print_effect_metrics(metrics, model.treatment, test.name)
    else:
        print_metrics(metrics, title=f"{test.name}")


def _load_model(run: Path, manifest: dict, quiet: bool, better: str | None,
                propensity: str | None):
    """The run's model and its task: a TransferPipeline, or an EffectPipeline with
    --better / --propensity in place of the fitted ones."""
    given = {k: v for k, v in (("better", better), ("propensity", propensity)) if v is not None}
    if "effect" not in manifest:
        if given:
            flags = ", ".join(f"--{k}" for k in given)
            raise ConfigError(f"{flags} appl(ies) only to a treatment-effect run (`medtransfer "
                              f"fit ... --treatment-col COL`); {run} predicts one outcome")
        from medtransfer.runs.pipeline import TransferPipeline

        pipeline = TransferPipeline.load(run, progress=not quiet)
        return pipeline, pipeline.task
    from medtransfer.params import check_params
    from medtransfer.runs.effect import EffectPipeline

    effect = EffectPipeline.load(run, progress=not quiet)
    if "propensity" in given:
        given["propensity"] = opt.propensity(given["propensity"])
    check_params(effect.set_params(**given))
    return effect, effect.outcome_pipeline.task


def _without_training_rows(domain, manifest: dict):
    """TEST without the labelled target samples the run was fitted on (with a warning):
    scoring a model on its own training labels gives optimistic numbers."""
    import warnings

    import numpy as np

    used = set(manifest.get("labelled_target_ids") or [])
    seen = np.array([str(i) in used for i in domain.ids], dtype=bool)
    if not seen.any():
        return domain
    warnings.warn(
        f"{int(seen.sum())} of {len(domain)} TEST samples have the ids of labelled target "
        "samples the run was fitted on; they are left out of the scores (give TEST an id "
        "column if its ids are row numbers of another file)", stacklevel=2)
    return domain.subset(np.flatnonzero(~seen))
