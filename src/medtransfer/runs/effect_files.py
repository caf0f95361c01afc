"""An EffectPipeline's files: one pipeline artifact per component, the refits, the X-learner's
propensity model, and its settings in the manifest; read back with every file's hash (and the
signature) checked, the learner checked against the known ones and every model file through
:mod:`medtransfer.model_files`' allowlist."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtransfer import __version__, artifacts, model_files
from medtransfer.errors import ArtifactError
from medtransfer.runs.effect_intervals import ARMS, read_refits, write_refits
from medtransfer.runs.effect_learners import COMPONENTS, LEARNERS
from medtransfer.runs.pipeline import TransferPipeline

if TYPE_CHECKING:
    from medtransfer.runs.effect import EffectPipeline

PROPENSITY_FILE = "propensity.skops"


def write_effect(effect: EffectPipeline, folder: Path) -> dict[str, Any]:
    """Write each component's pipeline artifact under ``folder/NAME``, the refits under
    ``folder/refits/NAME`` and the X-learner's propensity model; return the manifest
    entries."""
    for name, pipeline in effect.pipelines_.items():
        artifacts.write_manifest(folder / name, pipeline.write_to(folder / name))
    n_refits = write_refits(getattr(effect, "refits_", []), effect.refitted_components, folder)
    if effect.learner == "x":
        model_files.dump_estimator(effect.propensity_model_, folder / PROPENSITY_FILE)
    return {
        "medtransfer_version": __version__,
        "effect": {"treatment": effect.treatment, "arms": list(ARMS), "n_rows": effect.n_rows_,
                   "selection": effect.selection_, "n_refits": n_refits,
                   "better": effect.better, "propensity": effect.propensity,
                   "learner": effect.learner, "n_folds": effect.n_folds,
                   "components": list(effect.pipelines_)},
    }


def read_effect(cls: type[EffectPipeline], path: Path, verify_key: bytes | None = None,
                **runtime: Any) -> EffectPipeline:
    """The fitted ``cls`` that :func:`write_effect` wrote to ``path``, every file verified."""
    path = Path(path)
    effect = artifacts.read_manifest(path, key=verify_key).get("effect")
    if not isinstance(effect, dict) or effect.get("arms") != list(ARMS):
        raise ArtifactError(f"{path} is not an EffectPipeline artifact (its manifest has "
                            "no 'effect' entry with the arms control and treated)")
    n_refits = effect.get("n_refits", 0)  # runs written before refits were saved: none
    learner = effect.get("learner", "t")  # runs written before other learners: T
    if learner not in LEARNERS.values:
        raise ArtifactError(f"{path / 'manifest.json'} gives learner={learner!r}; expected "
                            f"one of {list(LEARNERS.values)}: the run is damaged")
    # runs written before policy values: no direction, the default propensity
    model = cls(effect["treatment"], n_refits=n_refits, better=effect.get("better"),
                propensity=effect.get("propensity", "logistic"), learner=learner,
                n_folds=effect.get("n_folds", 5))
    model.n_rows_ = effect["n_rows"]
    model.selection_ = effect.get("selection")
    model.pipelines_ = {name: TransferPipeline.load(path / name, verify_key, **runtime)
                        for name in COMPONENTS[learner]}
    if learner == "x":
        model.propensity_model_ = model_files.load_estimator(path / PROPENSITY_FILE)
    model.labelled_target_ids_ = sorted(
        {i for p in model.pipelines_.values() for i in p.labelled_target_ids_})
    model.refits_ = read_refits(path, n_refits, model.refitted_components)
    return model
