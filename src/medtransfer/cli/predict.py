"""``medtransfer predict``: apply a saved run to new inputs, optionally with explanations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command


@command(
    "predict",
    epilog=(
        "Examples:\n\n"
        "  medtransfer predict runs/hungary new_patients.csv -o predictions.csv\n\n"
        "  medtransfer predict runs/wbc bccd/ -o p.csv --explain --explain-n 4\n\n"
        "  medtransfer predict runs/wbc bccd/ -o p.csv --explain --explain-dir runs/wbc/explain"
        "   (examples shown by `medtransfer report runs/wbc`)\n\n"
        "  medtransfer predict runs/amiodarone iwpc.csv -o advice.csv --recommend "
        "--better lower   (a treatment-effect run: the arm to choose per patient)"
    ),
)
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder written by `medtransfer fit`.")],
    inputs: Annotated[Path, typer.Argument(help="Table, image folder, manifest or .npz.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    model: Annotated[
        str | None, typer.Option("--model", help="A baseline of the run instead of its method.")
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Images: Grad-CAM overlays (PNG) of the predicted class for the first "
            "--explain-n inputs, in OUT_explain/. Tables: OUT_importance.csv, permutation "
            "feature importance (needs --label-col).",
        ),
    ] = False,
    explain_n: Annotated[
        int, typer.Option("--explain-n", help="How many images to explain, from the first.")
    ] = 8,
    explain_method: Annotated[
        str, typer.Option("--explain-method", help="gradcam or gradcam++.")
    ] = "gradcam",
    explain_dir: Annotated[
        Path | None,
        typer.Option(
            "--explain-dir",
            help="Folder for the overlays (default OUT_explain/); RUN/explain puts them in "
            "the run's report.",
        ),
    ] = None,
    recommend: Annotated[
        bool,
        typer.Option(
            "--recommend",
            help="Treatment-effect runs: add `recommended` (treated, control, or abstain when "
            "the 95% interval of the effect includes 0) and `expected_benefit` (how much better "
            "the outcome is under the recommended arm, in its units; empty when abstaining). "
            "Needs --better, or a run fitted with --better.",
        ),
    ] = False,
    better: Annotated[
        str | None,
        typer.Option(
            "--better", metavar="higher|lower",
            help="With --recommend: which outcome is better. `lower` when the outcome is a "
            "risk of harm (a binary outcome whose positive class is an adverse event: death, "
            "bleeding) or a value to reduce; `higher` when more is the goal.",
        ),
    ] = None,
    label_col: opt.LabelCol = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    site: opt.Site = None,
    split: opt.Split = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    strict: opt.Strict = False,
    verify_key: opt.VerifyKey = None,
    engine: opt.Engine = "auto",
) -> None:
    """Write one row per input: id, prediction and p_<class> per class (a treatment-effect
    run: id, outcome_control, outcome_treated, effect and its 95% interval effect_low,
    effect_high; with --recommend also recommended and expected_benefit).

    Labels are not needed; a table's label column is ignored unless named with --label-col.
    """
    from medtransfer import artifacts
    from medtransfer.errors import ConfigError
    from medtransfer.explain.pipeline import check_explain_options
    from medtransfer.runs.pipeline import TransferPipeline

    if out.is_dir():
        raise ConfigError(f"-o {out} is a folder; give the path of the CSV file to write")
    artifacts.check_writable(out, force)
    opt.verified(run, verify_key)
    manifest = artifacts.read_manifest(run, verify=False)
    is_effect = "effect" in manifest
    fitted_better = manifest["effect"].get("better") if is_effect else None
    better = _check_recommend(run, recommend, better, is_effect, fitted_better)
    if is_effect:
        _predict_effect(run, inputs, out, model, explain, quiet,
                        (label_col, id_col, site_col, split, strict), site, better)
        return
    pipeline = TransferPipeline.load(run, progress=not quiet)
    options = opt.data_options(label_col, id_col, site_col, split, pipeline.task, strict)
    domain = opt.load(inputs, options, site)
    chosen = model or pipeline.default_model
    if explain:
        _check_explain(pipeline, run, out, explain_dir, label_col, force)
        check_explain_options(explain_method, explain_n, "predict",
                              ("explain_method", "explain_n"))
    frame = pipeline.predict_frame(domain.without_labels(), models=[chosen])
    frame = frame.drop(columns=["model", "label"])
    explained = _explain(pipeline, domain, out, chosen, explain_dir, explain_n, explain_method,
                         force) if explain else ""
    artifacts.write_csv(out, frame)
    typer.echo(f"{len(frame)} predictions written to {out}{explained}")


def _check_recommend(run: Path, recommend: bool, better: str | None, is_effect: bool,
                     fitted_better: str | None = None) -> str | None:
    """Refuse --recommend and --better where they cannot apply, before any work; the
    direction to recommend by: ``better``, else the one the run was fitted with."""
    from medtransfer.errors import ArtifactError, ConfigError
    from medtransfer.params import check_value
    from medtransfer.runs.recommend import BETTER

    if better is not None and not recommend:
        raise ConfigError("--better only applies with --recommend")
    if not recommend:
        return None
    if not is_effect:
        raise ConfigError(f"--recommend needs a treatment-effect run (`medtransfer fit ... "
                          f"--treatment-col COL`); {run} predicts one outcome, not an effect")
    if better is None and fitted_better is not None:
        if fitted_better not in BETTER.values:  # the manifest is untrusted input
            raise ArtifactError(f"{run}/manifest.json: effect.better {fitted_better!r} is "
                                "neither 'higher' nor 'lower'; the run was not written by "
                                "medtransfer or was tampered with")
        return fitted_better
    if better is None:
        raise ConfigError("--recommend needs --better higher or --better lower (the run was "
                          "fitted without --better): is a higher outcome better (a response), "
                          "or a lower one (a risk of harm)?")
    check_value("medtransfer", "better", better, BETTER)
    return better


def _predict_effect(run: Path, inputs: Path, out: Path, model: str | None, explain: bool,
                    quiet: bool, data: tuple, site: str | None, better: str | None) -> None:
    """Both predicted outcomes, the effect and its interval per input row, from a
    treatment-effect run; with ``better``, the recommended arm too."""
    from medtransfer import artifacts
    from medtransfer.errors import ConfigError
    from medtransfer.runs.effect import EffectPipeline, effect_frame
    from medtransfer.runs.recommend import recommend

    if model is not None or explain:
        raise ConfigError(f"{run} is a treatment-effect run: --model and --explain do not "
                          "apply; it predicts both outcomes and their difference")
    effect = EffectPipeline.load(run, progress=not quiet)
    label_col, id_col, site_col, split, strict = data
    task = effect.outcome_pipeline.task
    options = opt.data_options(label_col, id_col, site_col, split, task, strict)
    frame = effect_frame(effect, opt.load(inputs, options, site).without_labels())
    if better is not None and "effect_low" not in frame:
        raise ConfigError(f"{run} has no refitted arms, so its effects have no interval to "
                          "recommend by: fit it again with this version of medtransfer")
    if better is not None:
        frame = recommend(frame, better)
    artifacts.write_csv(out, frame)
    typer.echo(f"{len(frame)} predicted outcomes and effects of {effect.treatment!r} written "
               f"to {out}{_advice_summary(frame)}")


def _advice_summary(frame) -> str:
    if "recommended" not in frame:
        return ""
    counts = frame["recommended"].value_counts()
    return "; recommended: " + ", ".join(f"{arm} {int(counts.get(arm, 0))}"
                                         for arm in ("treated", "control", "abstain"))


def _importance_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_importance.csv")


def _check_explain(pipeline, run: Path, out: Path, explain_dir: Path | None,
                   label_col: str | None, force: bool) -> None:
    """Refuse bad explanation options before any work or any file is written."""
    from medtransfer import artifacts
    from medtransfer.errors import ConfigError
    from medtransfer.explain.pipeline import check_explain_dir, check_image_run

    if pipeline.feature_spec_.get("kind") == "table":
        if explain_dir is not None:
            raise ConfigError("--explain-dir is for image runs; a table run writes "
                              f"{_importance_path(out).name} next to the CSV")
        if label_col is None:
            check_image_run(pipeline)  # the one-line error pointing to feature importance
        artifacts.check_writable(_importance_path(out), force)
        return
    check_image_run(pipeline)
    check_explain_dir(explain_dir or _default_dir(out), run, force)


def _default_dir(out: Path) -> Path:
    return out.with_name(f"{out.stem}_explain")


def _explain(pipeline, domain, out: Path, model: str, explain_dir: Path | None, n: int,
             method: str, force: bool) -> str:
    """Write the explanations; return the sentence that says where."""
    from medtransfer import artifacts
    from medtransfer.explain.pipeline import explain_pipeline, write_overlays
    from medtransfer.explain.pipeline_table import table_importance

    if pipeline.feature_spec_.get("kind") == "table":
        path = _importance_path(out)
        artifacts.write_csv(path, table_importance(pipeline, domain, model=model))
        return f"; feature importance in {path}"
    images = domain.subset(list(range(min(n, len(domain)))))
    explanation = explain_pipeline(pipeline, images, n=n, method=method, model=model)
    folder = explain_dir or _default_dir(out)
    written = write_overlays(explanation, images, pipeline.class_names_, folder,
                             method=method, force=force)
    return f"; {len(written)} {method} overlays in {folder}"
