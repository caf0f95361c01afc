"""A TransferPipeline's files: the models as skops files, its settings in the manifest, and
the checks a received run folder passes before anything in it is used."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtransfer import __version__, artifacts, model_files
from medtransfer.errors import ArtifactError
from medtransfer.models.classifiers import CLASSIFIERS

if TYPE_CHECKING:
    from medtransfer.runs.pipeline import TransferPipeline

MODEL_DIR = "model"
RECALIBRATOR_FILE = f"{MODEL_DIR}/recalibrator.skops"
# backbone weights that belong to the run (e.g. source-free adapted), hash-listed with it
RUN_WEIGHTS = f"{MODEL_DIR}/backbone.safetensors"
SAVED_PARAMS = (
    "method",
    "method_params",
    "classifier",
    "backbone",
    "weights",
    "image_size",
    "task",
    "target_transform",
    "point",
    "baselines",
    "random_state",
    "recalibrate",
    "harmonize",
    "augment",
    "tta",
    "store_weights",
    "protect",
)



def write_pipeline(pipeline: TransferPipeline, folder: Path) -> dict[str, Any]:
    """Write a fitted pipeline's models under ``folder/model`` (and its backbone weights
    when ``store_weights``); return its manifest entries."""
    (folder / MODEL_DIR).mkdir(parents=True, exist_ok=True)
    for name, model in pipeline.models_.items():
        model_files.dump_estimator(model, folder / MODEL_DIR / f"{name}.skops")
    if pipeline.recalibrator_ is not None:
        model_files.dump_estimator(pipeline.recalibrator_, folder / RECALIBRATOR_FILE)
    params = {key: getattr(pipeline, key) for key in SAVED_PARAMS}
    spec = pipeline.feature_spec_
    if pipeline.store_weights:
        # stored inside the run and named relative to it, so the run can be moved
        artifacts.write_bytes(folder / RUN_WEIGHTS, Path(params["weights"]).read_bytes())
        params["weights"], spec = RUN_WEIGHTS, {**spec, "weights": RUN_WEIGHTS}
    return {
        "medtransfer_version": __version__,
        "pipeline": params,
        "models": sorted(pipeline.models_),
        "chosen_classifier": pipeline.classifier_,
        "recalibrator": RECALIBRATOR_FILE if pipeline.recalibrator_ is not None else None,
        "class_names": pipeline.class_names_,
        "classes_report": pipeline.classes_report_,
        "labelled_target_ids": pipeline.labelled_target_ids_,
        "features": spec,
    }


def read_pipeline(
    cls: type[TransferPipeline], path: Path, verify_key: bytes | None, runtime: dict[str, Any]
) -> TransferPipeline:
    """The pipeline of the run folder ``path``, every file's hash (and with ``verify_key``
    the signature) checked and the manifest's entries checked before any file is loaded."""
    path = Path(path)
    manifest = artifacts.read_manifest(path, key=verify_key)
    if "effect" in manifest:
        raise ArtifactError(
            f"{path} is a treatment-effect run (one pipeline per arm): load it with "
            "EffectPipeline.load, or use `medtransfer predict` on it"
        )
    check_pipeline_manifest(manifest, path / artifacts.MANIFEST)
    pipeline = cls(**manifest["pipeline"], **runtime)
    pipeline.class_names_ = _tuple_or_none(manifest["class_names"])
    pipeline.classes_report_ = manifest["classes_report"]
    pipeline.labelled_target_ids_ = manifest["labelled_target_ids"]
    pipeline.feature_spec_ = manifest["features"]
    # runs written before classifier="auto" existed used the family they name
    pipeline.classifier_ = manifest.get("chosen_classifier", pipeline.classifier)
    pipeline.classifier_selection_ = manifest.get("classifier_selection")
    _attach_run_weights(pipeline, path, manifest)
    pipeline.models_ = {
        name: model_files.load_estimator(path / MODEL_DIR / f"{name}.skops")
        for name in manifest["models"]
    }
    recalibrator = manifest.get("recalibrator")
    pipeline.recalibrator_ = recalibrator and model_files.load_estimator(path / recalibrator)
    return pipeline


_MANIFEST_FIELDS = {
    "pipeline": dict, "models": list, "class_names": (list, type(None)),
    "classes_report": (dict, type(None)), "labelled_target_ids": list, "features": dict,
}


def check_pipeline_manifest(manifest: dict, where: Path) -> None:
    """Refuse a manifest whose pipeline entries are missing, mistyped or name unknown files."""
    for key, kind in _MANIFEST_FIELDS.items():
        if not isinstance(manifest.get(key), kind):
            raise ArtifactError(f"{where}: {key!r} is missing or malformed; this is not a "
                                "TransferPipeline run, or it is damaged")
    unknown = set(manifest["pipeline"]) - set(SAVED_PARAMS)
    if unknown:
        raise ArtifactError(f"{where}: 'pipeline' holds unknown settings {sorted(unknown)}; "
                            f"expected only {', '.join(SAVED_PARAMS)}")
    names = manifest["class_names"]
    if names is not None and (len(names) < 2 or not all(isinstance(n, str) for n in names)):
        raise ArtifactError(f"{where}: 'class_names' must list at least two class names; "
                            f"found {names!r}")
    models = manifest["models"]
    if not models or not all(isinstance(m, str) and m.replace("_", "").replace("+", "")
                             .isalnum() for m in models):
        raise ArtifactError(f"{where}: 'models' must name the run's models; found {models!r}")
    method = manifest["pipeline"].get("method")
    if method not in models:
        raise ArtifactError(f"{where}: the pipeline's method {method!r} is not among its "
                            f"models {models}")
    chosen = manifest.get("chosen_classifier", manifest["pipeline"].get("classifier"))
    if chosen not in CLASSIFIERS:
        raise ArtifactError(f"{where}: the classifier family {chosen!r} is not registered "
                            f"(known: {', '.join(sorted(CLASSIFIERS))}); the run is damaged "
                            "or from a newer medtransfer")
    recalibrator = manifest.get("recalibrator")
    if recalibrator not in (None, RECALIBRATOR_FILE):
        raise ArtifactError(f"{where}: 'recalibrator' must be {RECALIBRATOR_FILE!r} or null")


def _attach_run_weights(pipeline: TransferPipeline, path: Path, manifest: dict) -> None:
    """Point a loaded pipeline at backbone weights stored in its run, if it has any."""
    if pipeline.feature_spec_.get("weights") != RUN_WEIGHTS:
        return
    if RUN_WEIGHTS not in manifest.get("files", {}):
        raise ArtifactError(
            f"{path / RUN_WEIGHTS} is named as the run's backbone weights but the manifest does "
            "not list its sha256; refusing unverified weights, refit the run"
        )
    weights = str((path / RUN_WEIGHTS).resolve())
    pipeline.set_params(weights=weights, store_weights=True)
    pipeline.feature_spec_ = {**pipeline.feature_spec_, "weights": weights}


def _tuple_or_none(names: list[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(names)
