"""``medtransfer bench``: run a benchmark suite, or put the saved results into a README."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer

from medtransfer.cli.app import command


@command(
    "bench",
    epilog=(
        "Examples:\n\n  medtransfer bench --suite heart --out bench-out --seeds 10\n\n"
        "  medtransfer bench --suite wbc --data ../shared/data --out bench-out\n\n"
        "  medtransfer bench --suite wbc --data ../shared/data --harmonize auto --out bench-out"
        "\n\n"
        "  medtransfer bench --readme README.md --out bench-out"
    ),
)
def bench(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for NAME.json and NAME.md.")],
    suite: Annotated[
        str | None, typer.Option("--suite", help="heart, warfarin, pneumonia-shift, wbc, speed.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Folder holding data not bundled (e.g. wbc/).")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 0..N-1 per pair and k.")] = 10,
    k: Annotated[
        list[int] | None, typer.Option("--k", help="Labelled target samples (repeat).")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this competitor (repeat); others are kept."),
    ] = None,
    harmonize: Annotated[
        str,
        typer.Option("--harmonize", help="Image suites: harmonise pixels before the backbone, "
                     "fitted as in fit (none, auto, reinhard, framing+reinhard...; "
                     "`medtransfer harmonizers`); runs go to OUT/SUITE.harmonize-NAME*."),
    ] = "none",
    classifier: Annotated[
        str | None,
        typer.Option("--classifier", help="Suite heart: final predictor of medtransfer's "
                     "competitors (logreg, svm, boosting, or auto: chosen per unit on the "
                     "source); runs go to OUT/heart.classifier-NAME*. Default: logreg."),
    ] = None,
    readme: Annotated[
        Path | None,
        typer.Option("--readme", help="Write the Results section of this README from OUT."),
    ] = None,
) -> None:
    """Run a suite (resumable: finished units in OUT are kept), then print its table."""
    from medtransfer.bench import SUITES
    from medtransfer.bench.results import update_readme
    from medtransfer.errors import ConfigError

    if (suite is None) == (readme is None):
        raise ConfigError("pass either --suite NAME (run a suite) or --readme FILE (tables)")
    if readme is not None:
        update_readme(readme, out)
        typer.echo(f"Results section of {readme} written from {out}")
        return
    factory = SUITES.get(suite)
    if classifier is None:
        runner = factory(data, harmonize)
    elif "classifier" in inspect.signature(factory).parameters:
        runner = factory(data, harmonize, classifier=classifier)
    else:
        raise ConfigError(f"--classifier is taken by the heart suite only, not {suite!r}; "
                          "remove it")
    runner.run(out, seeds=seeds, ks=k or None, only=only or None)
    typer.echo((out / f"{runner.label}.md").read_text())
