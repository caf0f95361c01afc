"""``medtransfer predict``: apply a saved run to new inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli import options as opt
from medtransfer.cli.app import command


@command(
    "predict",
    epilog="Example:\n\n  medtransfer predict runs/hungary new_patients.csv -o predictions.csv",
)
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder written by `medtransfer fit`.")],
    inputs: Annotated[Path, typer.Argument(help="Table, image folder, manifest or .npz.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    model: Annotated[
        str | None, typer.Option("--model", help="A baseline of the run instead of its method.")
    ] = None,
    label_col: opt.LabelCol = None,
    id_col: opt.IdCol = None,
    site_col: opt.SiteCol = None,
    site: opt.Site = None,
    split: opt.Split = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    strict: opt.Strict = False,
) -> None:
    """Write one row per input: id, prediction and p_<class> per class.

    Labels are not needed; a table's label column is ignored unless named with --label-col.
    """
    from medtransfer import artifacts
    from medtransfer.pipeline import TransferPipeline
    from medtransfer.run import predict_frame

    artifacts.check_writable(out, force)
    pipeline = TransferPipeline.load(run, progress=not quiet)
    options = opt.data_options(label_col, id_col, site_col, split, pipeline.task, strict)
    domain = opt.load(inputs, options, site)
    chosen = model or pipeline.default_model
    frame = predict_frame(pipeline, domain.without_labels(), models=[chosen])
    frame = frame.drop(columns=["model", "label"])
    artifacts.write_csv(out, frame)
    typer.echo(f"{len(frame)} predictions written to {out}")
