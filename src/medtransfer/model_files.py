"""Fitted models as skops files, loaded only when every object in them is of a known type.

skops never unpickles, but it rebuilds any type the caller trusts, and a function is a type to
it: a file made of ``FunctionTransformer(builtins.exec)`` runs code when loaded if ``builtins``
is trusted. So trust is an exact list of (type, how skops rebuilds it) pairs — the classes
medtransfer's own models are made of, never a package prefix and never a function but one
harmless OT helper — checked on the file's schema before skops builds anything.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from medtransfer.errors import ArtifactError

MAX_UNPACKED_BYTES = 4 << 30  # a zip bomb is refused before it is unpacked

_NUMERIC = ("bool_", "float16", "float32", "float64", "int8", "int16", "int32", "int64",
            "uint8", "uint16", "uint32", "uint64", "str_")
_MEDTRANSFER = (
    "adapt.alignment.AlignedEstimator", "adapt.baselines.Pooled", "adapt.baselines.SourceOnly",
    "adapt.baselines.TargetOnly", "adapt.harmonize.ComBatHarmonized",
    "adapt.harmonize.SiteStandardized", "adapt.kernel_embedding.JointDistributionAdaptation",
    "adapt.kernel_embedding.TransferComponentAnalysis", "adapt.label_shift.LabelShiftCorrector",
    "adapt.mapping_network.MappingNetwork", "adapt.pseudo_label.SelfTraining",
    "adapt.pseudo_label.TargetLabelSpreading", "adapt.parameter_transfer.SourceRegularizedTransfer",
    "adapt.reweight.DensityRatioReweighted", "adapt.reweight.KLIEPReweighted",
    "adapt.reweight.KMMReweighted", "evaluate.calibration.Recalibrator",
    "models.adaptive.AdaptiveLogisticRegression", "models.adaptive.AdaptiveSVC",
    "models.adaptive.TrAdaBoostClassifier", "models.svm.PlattSVC",
    "models.tolerance.PW20Decision", "models.transfer_regression.TrAdaBoostR2",
    "models.transfer_regression.TransferRidge", "select.auto.AutoTransfer",
)
_LIBRARIES = (
    "ot.backend.NumpyBackend", "ot.da.EMDTransport", "ot.da.LinearTransport",
    "ot.da.SinkhornTransport", "skada._mapping.CORALAdapter",
    "skada._mapping.EntropicOTMappingAdapter", "skada._mapping.LinearOTMappingAdapter",
    "skada._mapping.OTMappingAdapter", "skada._subspace.SubspaceAlignmentAdapter",
    "sklearn._loss.link.IdentityLink", "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink", "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError", "sklearn.decomposition._pca.PCA",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.isotonic.IsotonicRegression", "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge", "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._unsupervised.NearestNeighbors",
    "sklearn.pipeline.Pipeline", "sklearn.semi_supervised._label_propagation.LabelSpreading",
    "sklearn.preprocessing._data.StandardScaler", "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.svm._classes.SVC", "sklearn.svm._classes.SVR",
)
TRUSTED: frozenset[tuple[str, str]] = frozenset(
    {(f"medtransfer.{name}", "ObjectNode") for name in _MEDTRANSFER}
    | {(name, "ObjectNode") for name in _LIBRARIES}
    | {(f"numpy.{t}", node) for t in _NUMERIC for node in ("NdArrayNode", "TypeNode")}
    | {(f"sklearn._loss._loss.Cy{loss}", "LossNode")
       for loss in ("HalfBinomialLoss", "HalfMultinomialLoss", "HalfSquaredError")}
    | {
        ("builtins.dict", "DictNode"), ("builtins.list", "ListNode"),
        ("builtins.tuple", "TupleNode"), ("builtins.set", "SetNode"),
        ("builtins.str", "JsonNode"), ("builtins.str", "TypeNode"),
        ("builtins.float", "TypeNode"), ("builtins.int", "TypeNode"),
        ("builtins.bool", "TypeNode"),
        ("builtins.slice", "SliceNode"), ("numpy.ndarray", "NdArrayNode"),
        ("numpy.random._generator.Generator", "RandomGeneratorNode"),
        ("numpy.random.mtrand.RandomState", "RandomStateNode"),
        # the one function a fitted model holds: POT's default marginal estimator
        ("ot.da.distribution_estimation_uniform", "FunctionNode"),
    }
)


def dump_estimator(estimator: Any, path: Path) -> None:
    """Save a fitted estimator with skops (no pickle); refuse one that holds an unknown type."""
    sio = _skops_io()
    try:
        sio.dump(estimator, path)
    except Exception as err:  # skops raises many types for unsupported objects
        raise ArtifactError(
            f"cannot save {type(estimator).__name__} safely to {path}: {err}"
        ) from err
    unknown = sorted(schema_types(path) - TRUSTED)
    if unknown:
        Path(path).unlink()
        raise ArtifactError(
            f"cannot save {type(estimator).__name__} to {path}: it holds objects that a run "
            f"may not contain ({_describe(unknown)}); add the class to "
            "medtransfer.model_files.TRUSTED if it is a plain data class"
        )


def load_estimator(path: Path) -> Any:
    """Load a skops file whose every object is of a trusted type; refuse anything else."""
    unknown = sorted(schema_types(path) - TRUSTED)
    if unknown:
        raise ArtifactError(
            f"{path} holds objects medtransfer never saves ({_describe(unknown)}); refusing to "
            "load it: the run was not written by medtransfer or was tampered with"
        )
    sio = _skops_io()
    types = sorted({name for name, _ in TRUSTED})
    try:
        return sio.load(path, trusted=types)
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable medtransfer model file: {err}") from None


class _RefuseArrayApiTorch(importlib.abc.MetaPathFinder):
    """Refuses scikit-learn's vendored torch namespace while skops is imported."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "sklearn.externals.array_api_compat.torch":
            raise ImportError(name)


def _skops_io() -> Any:
    """``skops.io``, imported without importing torch.

    skops lists scikit-learn's estimators at import (``sklearn.utils.all_estimators``), whose
    ``pkgutil.walk_packages`` imports every sub-package on its way, the vendored array-API
    namespace of torch included: torch itself then loads (seconds of CPU) in a table fit.
    ``walk_packages`` skips a package that fails to import, and that namespace holds no
    estimator, so it is refused for the duration of the import only; a failed import is not
    cached, so scikit-learn's array API can still import it later.
    """
    if "skops.io" not in sys.modules:
        finder = _RefuseArrayApiTorch()
        sys.meta_path.insert(0, finder)
        try:
            import skops.io  # noqa: F401
        finally:
            sys.meta_path.remove(finder)
    return sys.modules["skops.io"]


def schema_types(path: Path) -> set[tuple[str, str]]:
    """Every (module.class, skops loader) pair in a skops file, read from its schema alone."""
    try:
        with zipfile.ZipFile(path) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise ArtifactError(f"{path} unpacks to more than 4 GiB; refusing to load it")
            schema = json.loads(archive.read("schema.json"))
    except ArtifactError:
        raise
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable skops model file: {err}") from None
    found: set[tuple[str, str]] = set()
    _walk(schema, found)
    return found


def _walk(node: Any, found: set[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        if "__loader__" in node:
            found.add((f"{node.get('__module__')}.{node.get('__class__')}",
                       str(node["__loader__"])))
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


def _describe(pairs: list[tuple[str, str]]) -> str:
    shown = ", ".join(f"{name} ({loader})" for name, loader in pairs[:5])
    return shown + (f" and {len(pairs) - 5} more" if len(pairs) > 5 else "")
