"""``medtransfer fit``: fit a transfer pipeline and write a run folder."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command
from medtransfer.cli.render import few_cases_note, print_effect_metrics, print_metrics
from medtransfer.errors import ConfigError

# What a source-free fit takes from the source run (or does not use): setting one is an error.
SOURCE_RUN_OPTIONS = (
    "target_labels", "method", "classifier", "backbone", "weights", "image_size", "recalibrate",
    "target_transform", "point", "task", "source_site", "finetune", "treatment_col",
    "harmonize", "augment", "tta", "n_refits", "better", "propensity", "learner", "protect",
)
# The options of a treatment-effect fit alone, with the command's defaults.
EFFECT_OPTIONS = ("n_refits", "better", "propensity", "learner")


@command(
    "fit",
    epilog=(
        "Examples:\n\n"
        "  medtransfer fit heart.csv heart.csv --label-col num --site-col dataset "
        "--label-map \"0=no disease,1-4=disease\" --source-site Cleveland --target-site Hungary "
        "--target-labels 10 -o runs/hungary\n\n"
        "  medtransfer fit pbc/ bccd/ --target-labels 20 --method coral -o runs/wbc\n\n"
        "  medtransfer fit pbc/ bccd/ --target-labels 20 --finetune mmd -o runs/wbc-mmd"
        "   (fine-tune the backbone first)\n\n"
        "  medtransfer fit bccd/ --source-model runs/pbc --source-free adabn+shot -o runs/bccd"
        "   (source-free: no source data)"
    ),
)
def fit(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write.")],
    source: Annotated[
        Path | None,
        typer.Argument(
            help="Source data: table, image folder, manifest, .npz (omitted with --source-model)."
        ),
    ] = None,
    target: Annotated[Path | None, typer.Argument(help="Target data, same kinds.")] = None,
    source_model: Annotated[
        Path | None,
        typer.Option(
            "--source-model",
            help="Source-free: adapt this fitted image run to the unlabelled TARGET images "
            "without source data (then pass only TARGET).",
        ),
    ] = None,
    source_free: Annotated[
        str,
        typer.Option(
            "--source-free",
            help="With --source-model: adabn, shot or adabn+shot (shot needs a run fitted "
            "with --method source_only --classifier logreg).",
        ),
    ] = "adabn+shot",
    finetune: Annotated[
        str | None,
        typer.Option(
            "--finetune",
            help="Images: fine-tune the backbone first with this transfer loss (none, mmd, "
            "coral, dann, cdan, mcc, entropy, l2sp), then fit --method on its features; "
            "trains at --image-size (default 64). shot or adabn: the plain fine-tune, then "
            "adapted source-free to the target images. 'auto' validates all of none, mcc, "
            "mmd, entropy, shot and adabn against the frozen backbone and keeps the frozen "
            "one unless a candidate credibly beats it (a fine-tune per candidate and fold: "
            "slow).",
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", help="With --source-model or --finetune: epochs (default 2)."),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr",
            help="With --source-model or --finetune: backbone learning rate (default 1e-3 "
            "for --finetune, 1e-4 for SHOT).",
        ),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", help="With --source-model or --finetune: images per batch."),
    ] = 32,
    target_labels: Annotated[
        str,
        typer.Option(
            "--target-labels", metavar="K|FILE",
            help="K labelled target samples IN TOTAL, drawn stratified by class (not per "
            "class: 20 with 4 classes is about 5 each), or a FILE of the ids to use."
        ),
    ] = "0",
    method: Annotated[str, typer.Option("--method", help="Transfer method or 'auto'.")] = "auto",
    max_fits: Annotated[
        int | None,
        typer.Option(
            "--max-fits", metavar="N",
            help="With --method auto: at most N candidate fits (candidates x folds) after the "
            "baselines; the rest are skipped and listed. Reproducible (default: no limit).",
        ),
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option(
            "--time-budget", metavar="SECONDS",
            help="With --method auto: skip the candidates left after SECONDS. NOT "
            "reproducible: the choice then depends on the machine's speed and load.",
        ),
    ] = None,
    classifier: Annotated[
        str, typer.Option("--classifier", help="svm, logreg, boosting, or auto: the family "
                          "with the best cross-validated score on the labelled source rows "
                          "(recommended for tables; slow on image features).")
    ] = "svm",
    backbone: opt.Backbone = "efficientnet_lite0",
    weights: opt.Weights = None,
    image_size: opt.ImageSize = None,
    harmonize: Annotated[
        str,
        typer.Option(
            "--harmonize",
            help="Images: harmonise pixels before the backbone, fitted on the source and the "
            "unlabelled target and applied again at predict: none, auto, or a name from "
            "`medtransfer harmonizers` (reinhard, macenko, histogram, zscore, percentile, "
            "framing[=FRACTION]), chained with + (framing+reinhard).",
        ),
    ] = "none",
    augment: Annotated[
        int,
        typer.Option(
            "--augment",
            help="Images: add N seeded augmented copies of each source image as extra source "
            "rows (crop-rescale, colour jitter, blur, noise; flips/rotations for colour images).",
        ),
    ] = 0,
    protect: Annotated[
        str | None,
        typer.Option(
            "--protect", metavar="COL,COL",
            help="Tables: columns the alignment and harmonisation methods never align "
            "(biological covariates such as genotype, age, weight; only measurement-like "
            "columns are aligned); ComBat keeps their effect. With --method auto, every "
            "candidate that moves features protects them.",
        ),
    ] = None,
    tta: Annotated[
        bool,
        typer.Option("--tta", help="Images: features averaged over the image and its mirror "
                     "images, at fit and at predict."),
    ] = False,
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
    point: Annotated[
        str,
        typer.Option(
            "--point",
            help="Regression with --method auto: mean, or pw20 for the value most likely "
            "within ±20% of the truth (tuned on the labelled target samples).",
        ),
    ] = "mean",
    treatment_col: Annotated[
        str | None,
        typer.Option(
            "--treatment-col",
            help="Tables: fit a treatment-effect model (by default a T-learner, one pipeline "
            "per arm of this column: 1 treated, 0 control, empty if not recorded; see "
            "--learner), every model one method; predictions give both outcomes, the effect "
            "and its 95% interval (the models refitted on --n-refits bootstrap resamples).",
        ),
    ] = None,
    n_refits: Annotated[
        int,
        typer.Option(
            "--n-refits", metavar="N",
            help="With --treatment-col: bootstrap refits of the models for the effects' 95% "
            "intervals (0 for none: no intervals, no recommendations).",
        ),
    ] = 200,
    better: Annotated[
        str | None,
        typer.Option(
            "--better",
            help="With --treatment-col: which way the outcome is better, higher or lower "
            "(lower for the risk of an adverse event); the held-out scores then value "
            "treating as recommended against treating all and none (IPW and doubly robust).",
        ),
    ] = None,
    propensity: Annotated[
        str,
        typer.Option(
            "--propensity",
            help="With --better: P(treated | x) of the target rows for those values: "
            "logistic (a model on the covariates, for observational data), share (the "
            "treated share) or the known allocation probability of a randomised trial (0.5).",
        ),
    ] = "logistic",
    learner: Annotated[
        str,
        typer.Option(
            "--learner",
            help="With --treatment-col: t (one model per arm), s (one model, the treatment a "
            "feature), x (X-learner) or dr (DR-learner: a regression of cross-fitted "
            "doubly robust pseudo-outcomes); every model shares one method.",
        ),
    ] = "t",
    dedupe: Annotated[
        str,
        typer.Option(
            "--dedupe",
            help="Held-out target cases that duplicate source, labelled target or other "
            "held-out cases (same pixels or row, perceptual hash, feature-space neighbour, "
            "patient id): keep (score them, warn), drop (score without them) or error.",
        ),
    ] = "keep",
    operating_point: Annotated[
        str,
        typer.Option(
            "--operating-point",
            help="Binary: the decision threshold chosen on the labelled target samples, "
            "sensitivity:S (highest threshold reaching S) or threshold:T, then carried to "
            "the held-out target with its interval.",
        ),
    ] = "sensitivity:0.9",
    prevalence: Annotated[
        float | None,
        typer.Option(
            "--prevalence",
            help="Binary: the share of positives where the model will be used; PPV and NPV "
            "are also given at this prevalence (label shift).",
        ),
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Check the run against this site-adaptation plan (`medtransfer plan init`); "
            "with --strict a failed plan exits with code 1 (the run folder is still written).",
        ),
    ] = None,
    label_col: opt.LabelCol = None,
    label_map: opt.LabelMap = None,
    positive_class: opt.PositiveClass = None,
    drop_cols: opt.DropCols = None,
    keep_site_col: opt.KeepSiteCol = False,
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
    sign_key: opt.SignKey = None,
    engine: opt.Engine = "auto",
) -> None:
    """Fit on SOURCE + TARGET and score on the held-out target samples.

    With --source-model RUN, adapt RUN's model to TARGET's images without any source data.
    """
    from medtransfer import artifacts, integrity
    from medtransfer.runs.fit import fit_run

    opt.check_format(fmt)
    opt.check_seed(seed)
    opt.check_image_size(image_size)
    artifacts.sign_runs_with(None if sign_key is None else integrity.read_key(sign_key))
    artifacts.check_writable(out, force)
    options = opt.data_options(label_col, id_col, site_col, split, task, strict,
                               label_map=label_map, positive_class=positive_class,
                               drop_cols=drop_cols)
    training = {k: v for k, v in (("epochs", epochs), ("lr", lr)) if v is not None}
    given, defaults = locals(), inspect.signature(fit).parameters
    changed = {name for name in {*SOURCE_RUN_OPTIONS, *EFFECT_OPTIONS}
               if given[name] != defaults[name].default}
    if source_model is not None:
        from medtransfer.runs.source_free import SourceFreePipeline

        target = _source_free_target(source, target, [
            opt.flag_of(name) for name in SOURCE_RUN_OPTIONS if name in changed])
        model = SourceFreePipeline(source_model, adaptation=source_free, batch_size=batch_size,
                                   random_state=seed, progress=not quiet, **training)
        result = fit_run(model, None, opt.load(target, options, target_site), out, force=force,
                         data_options={**options, "target_site": target_site})
        _show(result, fmt)
        return
    effect = _effect_options(treatment_col, changed, n_refits=n_refits, better=better,
                             propensity=opt.propensity(propensity), learner=learner)
    model = _build_model(
        finetune, treatment_col, effect, training, batch_size, method=method,
        method_params=_auto_params(method, max_fits, time_budget), classifier=classifier,
        backbone=backbone, weights=weights, image_size=image_size, task=task,
        target_transform=target_transform, point=point, random_state=seed, progress=not quiet,
        recalibrate=recalibrate, harmonize=harmonize, augment=augment, tta=tta,
        protect=[c.strip() for c in (protect or "").split(",") if c.strip()],
    )
    if source is None or target is None:
        raise ConfigError(
            "fit needs SOURCE and TARGET (or only TARGET with --source-model RUN for "
            "source-free adaptation)"
        )
    validation = None
    if treatment_col is None:
        from medtransfer.evaluate.plan import load_plan
        from medtransfer.runs.validation import ValidationOptions

        validation = ValidationOptions(dedupe=dedupe, operating_point=operating_point,
                                       prevalence=prevalence,
                                       plan=None if plan is None else load_plan(plan))
        validation.check()
    domains = opt.load(source, options, source_site), opt.load(target, options, target_site)
    if not keep_site_col:
        from medtransfer.data.columns import drop_site_columns

        domains = drop_site_columns(*domains)
    result = fit_run(
        model, *domains, out, target_labels=opt.target_labels(target_labels), force=force,
        data_options={**options, "source_site": source_site, "target_site": target_site},
        validation=validation,
    )
    if treatment_col is not None:
        _show_effect(result, treatment_col, fmt)
        return
    _show(result, fmt)
    _plan_verdict(result.manifest.get("plan"), strict)


def _effect_options(treatment_col: str | None, changed: set[str], **options) -> dict:
    """The EffectPipeline's own options; refused when set without --treatment-col."""
    stray = [opt.flag_of(name) for name in EFFECT_OPTIONS if name in changed]
    if treatment_col is None and stray:
        raise ConfigError(f"{', '.join(stray)} appl(ies) only to a treatment-effect fit: add "
                          "--treatment-col COL, or remove them")
    return options


def _build_model(finetune: str | None, treatment_col: str | None, effect: dict,
                 training: dict, batch_size: int, **params):
    """The run model the options ask for: a TransferPipeline, a FineTunedPipeline
    (--finetune) or an EffectPipeline of TransferPipelines (--treatment-col), whose own
    parameters (``effect``) are checked here, before any data is read."""
    if finetune is not None and treatment_col is not None:
        raise ConfigError("--treatment-col fits tables; --finetune fine-tunes an image "
                          "backbone: use one or the other")
    from medtransfer.runs.pipeline import TransferPipeline

    pipeline = TransferPipeline(**params)
    if finetune is not None:
        from medtransfer.runs.finetuned import FineTunedPipeline

        return FineTunedPipeline(pipeline, transfer_loss=finetune,
                                 finetune_options={**training, "batch_size": batch_size})
    if treatment_col is None:
        return pipeline
    from medtransfer.params import check_params
    from medtransfer.runs.effect import EffectPipeline

    model = EffectPipeline(treatment_col, pipeline, **effect)
    check_params(model)
    return model


def _auto_params(method: str, max_fits: int | None, time_budget: float | None) -> dict | None:
    """auto's work budget from --max-fits / --time-budget (refused with another method)."""
    given = {k: v for k, v in (("max_fits", max_fits), ("time_budget", time_budget))
             if v is not None}
    if given and method != "auto":
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{flags} budget(s) --method auto; remove them or use --method auto")
    if max_fits is not None and max_fits < 0:
        raise ConfigError(f"--max-fits {max_fits}: expected a number of fits >= 0")
    return given or None


def _show(result, fmt: str) -> None:
    from medtransfer.artifacts import to_json

    if fmt == "json":
        typer.echo(json.dumps(to_json(result.manifest["metrics"]), indent=2, allow_nan=False))
        return
    print_metrics(
        result.manifest["metrics"], title=f"{result.manifest['target']['name']} (held out)"
    )
    predictions = result.predictions
    if result.manifest["task"] == "classification" and len(predictions):
        first = predictions["model"].iloc[0]
        note = few_cases_note(predictions.loc[predictions["model"] == first, "label"])
        if note:
            typer.echo(note)
    _show_choices(result.manifest)
    typer.echo(f"method: {result.manifest['method']}; run written to {result.path}")


def _show_choices(manifest: dict) -> None:
    """What classifier "auto" and method "auto" chose, and why."""
    family = manifest.get("classifier_selection") or {}
    if family.get("reason"):
        typer.echo(f"classifier auto chose {manifest.get('classifier')}: {family['reason']}")
    selection = manifest.get("selection") or {}
    given = "evidence" in selection and selection["evidence"] is None  # an effect's --method
    if selection.get("reason") and not given:
        typer.echo(f"auto chose {manifest.get('chosen_method')}: {selection['reason']}")


def _plan_verdict(record: dict | None, strict: bool) -> None:
    """Say whether the run met its plan; with --strict a failed plan exits with code 1."""
    if record is None:
        return
    failed = [c["criterion"] for c in record["checks"] if not c["passed"]]
    if not failed:
        typer.echo("plan: passed")
        return
    typer.echo(f"plan: FAILED ({'; '.join(failed)})", err=True)
    if strict:
        raise typer.Exit(1)


def _show_effect(result, treatment_col: str, fmt: str) -> None:
    from medtransfer.artifacts import to_json

    metrics = result.manifest["metrics"]
    if fmt == "json":
        typer.echo(json.dumps(to_json(metrics), indent=2, allow_nan=False))
        return
    print_effect_metrics(metrics, treatment_col, f"{result.manifest['target']['name']} "
                         "(held out)")
    _show_choices(result.manifest)
    typer.echo(f"run written to {result.path}")


def _source_free_target(source: Path | None, target: Path | None, changed: list[str]) -> Path:
    """TARGET of a source-free fit (given as the only argument); ``changed`` are the flags
    of :data:`SOURCE_RUN_OPTIONS` given other values than their defaults, an error rather
    than silently ignored."""
    if source is not None and target is not None:
        raise ConfigError(
            f"--source-model adapts without source data, but SOURCE {source} was given too; "
            "pass only TARGET"
        )
    if source is None and target is None:
        raise ConfigError("--source-model needs TARGET, the folder of target images")
    if changed:
        raise ConfigError(
            f"{', '.join(changed)} do(es) not apply with --source-model: the backbone, "
            "classifier and classes come from the source run, and no target label is used "
            "(labels, if present, only score the result); use --source-free to choose the "
            "adaptation"
        )
    return source if target is None else target
