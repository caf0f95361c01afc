"""An EffectPipeline's files: one pipeline artifact per arm, the refits, and its settings in
the manifest; read back with every file's hash (and the signature) checked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtransfer import __version__, artifacts
from medtransfer.errors import ArtifactError
from medtransfer.runs.effect_intervals import ARMS, read_refits, write_refits
from medtransfer.runs.pipeline import TransferPipeline

if TYPE_CHECKING:
    from medtransfer.runs.effect import EffectPipeline


def write_effect(effect: EffectPipeline, folder: Path) -> dict[str, Any]:
    """Write each arm's pipeline artifact under ``folder/ARM`` and the refits under
    ``folder/refits/ARM``; return the manifest entries."""
    for arm, pipeline in effect.pipelines_.items():
        artifacts.write_manifest(folder / arm, pipeline.write_to(folder / arm))
    n_refits = write_refits(getattr(effect, "refits_", []), folder)
    return {
        "medtransfer_version": __version__,
        "effect": {"treatment": effect.treatment, "arms": list(ARMS), "n_rows": effect.n_rows_,
                   "selection": effect.selection_, "n_refits": n_refits,
                   "better": effect.better, "propensity": effect.propensity},
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
    # runs written before policy values: no direction, the default propensity
    model = cls(effect["treatment"], n_refits=n_refits, better=effect.get("better"),
                propensity=effect.get("propensity", "logistic"))
    model.n_rows_ = effect["n_rows"]
    model.selection_ = effect.get("selection")
    model.pipelines_ = {arm: TransferPipeline.load(path / arm, verify_key, **runtime)
                        for arm in ARMS}
    model.labelled_target_ids_ = sorted(
        i for p in model.pipelines_.values() for i in p.labelled_target_ids_)
    model.refits_ = read_refits(path, n_refits)
    return model
