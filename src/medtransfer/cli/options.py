"""Options shared by several commands, and loading SOURCE/TARGET with them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from medtransfer.params import LIBRARY, Options, ParameterError, Style, check_value

LabelCol = Annotated[
    str | None, typer.Option("--label-col", help="Table: the label column (default: 'label').")
]
IdCol = Annotated[str | None, typer.Option("--id-col", help="Table: a column of sample ids.")]
SiteCol = Annotated[
    str | None, typer.Option("--site-col", help="Table: the column naming each row's site.")
]
SourceSite = Annotated[
    str | None, typer.Option("--source-site", help="Keep only this site's rows as SOURCE.")
]
TargetSite = Annotated[
    str | None, typer.Option("--target-site", help="Keep only this site's rows as TARGET.")
]
Site = Annotated[str | None, typer.Option("--site", help="Keep only this site's rows.")]
Split = Annotated[
    str | None, typer.Option("--split", help=".npz: split to read (train, val, test; default all).")
]
Task = Annotated[
    str, typer.Option("--task", help="classification, or regression for continuous targets.")
]
Seed = Annotated[int, typer.Option("--seed", help="Seed of every stochastic step.")]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing output.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
Strict = Annotated[
    bool, typer.Option("--strict", help="Fail on an unreadable image instead of skipping it.")
]
Backbone = Annotated[
    str, typer.Option("--backbone", help="Image feature extractor (`medtransfer backbones`).")
]
Weights = Annotated[
    Path | None, typer.Option("--weights", help="Backbone checkpoint (.safetensors).")
]
ImageSize = Annotated[
    int | None, typer.Option("--image-size", help="Backbone input size override.")
]
Format = Annotated[str, typer.Option("--format", help="Output: human or json.")]
LabelMap = Annotated[
    str | None,
    typer.Option(
        "--label-map", metavar="MAP",
        help="Merge or rename classes: '0=no disease,1-4=disease' (RAW=CLASS, ranges A-B); "
        "classes follow the map's order, the last named is the positive class.",
    ),
]
PositiveClass = Annotated[
    str | None,
    typer.Option("--positive-class", metavar="CLASS",
                 help="The class binary metrics (sensitivity, AUROC) call positive."),
]
DropCols = Annotated[
    str | None,
    typer.Option("--drop-cols", metavar="COL,COL",
                 help="Table: feature columns not to use, comma-separated."),
]
KeepSiteCol = Annotated[
    bool,
    typer.Option("--keep-site-col",
                 help="Table: keep columns holding one value per domain (a site's name) as "
                 "features; by default they are dropped with a warning."),
]
Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Image features: auto (ONNX Runtime on the CPU when medtransfer\\[onnx] is "
        "installed, else eager torch), onnx or torch.",
    ),
]
ExtractEngine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="auto (ONNX Runtime on the CPU when medtransfer\\[onnx] is installed, else eager "
        "torch), onnx, torch, or ray: a pool of Ray Data actors, one model each, on the "
        "cluster at $RAY_ADDRESS or a local one (pip install 'medtransfer\\[ray]').",
    ),
]


def data_options(
    label_col: str | None,
    id_col: str | None,
    site_col: str | None,
    split: str | None,
    task: str,
    strict: bool,
    *,
    label_map: str | None = None,
    positive_class: str | None = None,
    drop_cols: str | list[str] | None = None,
) -> dict[str, Any]:
    """The loader options common to every domain of one command."""
    if isinstance(drop_cols, str):
        drop_cols = [c.strip() for c in drop_cols.split(",") if c.strip()]
    return {
        "label_col": label_col,
        "id_col": id_col,
        "site_col": site_col,
        "split": split,
        "task": task,
        "strict": strict,
        "label_map": label_map,
        "positive_class": positive_class,
        "drop_cols": drop_cols or [],
    }


def load(path: Path, options: dict[str, Any], site: str | None = None):
    """Load one domain with the shared options (and an optional site filter).

    A feature store written by ``medtransfer extract`` loads as a table of its features.
    """
    from medtransfer.data import load_domain

    # checked by file names so that a table-only command never imports torch
    if (Path(path) / "store.json").is_file() and (Path(path) / "domain.json").is_file():
        from medtransfer.features.archive import load_feature_domain

        return load_feature_domain(path)
    return load_domain(path, site=site, **options)


# The one table of library parameters the CLI spells differently; every other parameter is
# "--" + its name with "_" as "-" (image_size is --image-size).
FLAG_NAMES = {
    "random_state": "--seed", "transfer_loss": "--finetune", "adaptation": "--source-free",
    "treatment": "--treatment-col", "ks": "--k",
}


def flag_of(param: str) -> str:
    """The CLI flag that sets the library parameter ``param``."""
    return FLAG_NAMES.get(param, "--" + param.replace("_", "-"))


class FlagStyle(Style):
    """A parameter error in the CLI's words: flags for the parameters the command has."""

    def __init__(self, flags: set[str]) -> None:
        self.flags = flags

    def _flag(self, param: str) -> str | None:
        flag = flag_of(param)
        return flag if flag in self.flags else None

    def head(self, owner: str, param: str, value: Any) -> str:
        flag = self._flag(param)
        if flag is None:
            return LIBRARY.head(owner, param, value)
        return flag if value is True else f"{flag} {value!r}"

    def name(self, param: str) -> str:
        return self._flag(param) or param

    def setting(self, param: str, value: Any) -> str:
        flag = self._flag(param)
        if flag is None:
            return LIBRARY.setting(param, value)
        return flag if value is True else f"{flag} {value}"

    def value(self, value: Any) -> str:
        return str(value)


def parameter_message(err: ParameterError, flags: set[str]) -> str:
    """``err`` as the CLI says it: with the flag when the command has one for its parameter
    (``--task 'regresion': expected one of classification, regression``), else as the
    library says it."""
    if flag_of(err.param) not in flags:
        return str(err)
    return err.render(FlagStyle(flags))


FORMATS = Options("human", "json")


def check_format(fmt: str) -> None:
    """Refuse an unknown --format."""
    check_value("medtransfer", "format", fmt, FORMATS)


SignKey = Annotated[
    Path | None,
    typer.Option("--sign-key", help="Sign the run with this key file (HMAC-SHA256; "
                 "`medtransfer keygen`), so the receiving site can check who wrote it."),
]
VerifyKey = Annotated[
    Path | None,
    typer.Option("--verify-key", help="Check the run's signature with this key file before "
                 "using it."),
]


def verified(run: Path, verify_key: Path | None) -> bytes | None:
    """Check ``run`` fully (digest, every file, signature when a key is given) before any use;
    return the key's bytes for the loaders."""
    from medtransfer import artifacts, integrity

    key = None if verify_key is None else integrity.read_key(verify_key)
    artifacts.verify_run(run, key)
    return key


MAX_SEED = 2**32 - 1  # numpy's legacy seeding (and so scikit-learn) takes 0..2**32 - 1


def check_seed(seed: int) -> None:
    """Refuse a --seed numpy cannot take, before any data is read."""
    from medtransfer.errors import ConfigError

    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed {seed} is out of range; give an integer from 0 to {MAX_SEED}")


def check_image_size(image_size: int | None) -> None:
    """Refuse an --image-size outside the range a backbone can be run at."""
    if image_size is not None:
        from medtransfer.features.extract import check_image_size as check

        check(image_size)


def target_labels(value: str):
    """--target-labels: K (a non-negative integer) or an existing FILE of target ids."""
    from medtransfer.data.sampling import read_id_file
    from medtransfer.errors import ConfigError

    if value.isascii() and value.isdigit():
        return int(value)
    if not Path(value).is_file():
        raise ConfigError(
            f"--target-labels {value!r} is neither a non-negative integer K (the number of "
            "labelled target samples, e.g. 20) nor an existing file of target ids"
        )
    return read_id_file(Path(value))


def propensity(value: str) -> str | float:
    """--propensity: a name (logistic, share) or a probability such as 0.5, checked by the
    EffectPipeline's parameter table."""
    try:
        return float(value)
    except ValueError:
        return value
