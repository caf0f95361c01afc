"""TransferPipeline: featurise → adapt → predict, with its baselines, saved without pickle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from medtransfer import artifacts
from medtransfer.adapt import get_method
from medtransfer.adapt.protect import encoded_columns
from medtransfer.data import Domain, harmonize_classes
from medtransfer.data.label_map import warn_label_spaces
from medtransfer.data.labels import TASK
from medtransfer.data.sample_domain import SOURCE, TARGET
from medtransfer.data.sampling import choose_labelled, labelled_from_ids
from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.calibration import RECALIBRATION_METHODS, Recalibrator
from medtransfer.features import TabularEncoder, featurize, featurize_pair
from medtransfer.features.featurize import AUGMENT, augmented_features
from medtransfer.models import make_classifier
from medtransfer.models.classifiers import CLASSIFIERS, full_proba
from medtransfer.models.tolerance import TRANSFORMS, from_model_scale, to_model_scale
from medtransfer.params import Constraints, Names, Options, Requires, check_params
from medtransfer.runs.base import RunModel
from medtransfer.runs.embedding import adaptation_embedding
from medtransfer.runs.frames import score_models
from medtransfer.runs.pipeline_files import read_pipeline, write_pipeline
from medtransfer.runs.validation import (
    ValidationOptions,
    guard_run_heldout,
    plan_record,
    run_validation,
)
from medtransfer.select.auto import POINTS
from medtransfer.select.predictor import choose_predictor

BASELINES = ("source_only", "target_only", "pooled")
RECALIBRATED = "+recalibrated"


class TransferPipeline(BaseEstimator, RunModel):
    """Carry a model from a source domain to a target domain.

    Parameters
    ----------
    method : str, default="source_only"
        Registered transfer method (``medtransfer methods`` lists them), or "auto".
    method_params : dict, optional
        Parameters set on the method's estimator (e.g. ``{"max_fits": 60}`` for "auto").
    classifier : str, default="svm"
        Final predictor: "svm", "logreg", "boosting" (``medtransfer methods`` lists them) or
        "auto": the family with the best cross-validated score on the labelled source rows
        (patient-grouped; a logistic regression at its best ``C``), chosen before any
        method and used by the method and every baseline
        (:func:`~medtransfer.select.predictor.choose_predictor`).

        Why the default stays "svm", measured: on the heart benchmark (12 site pairs x 3
        seeds, ``medtransfer bench --suite heart --classifier auto|svm``) "auto" chose the
        logistic regression in every unit and beat the SVM by +0.057 / +0.043 / +0.035
        target AUROC at k = 0 / 10 / 40 with ``method="auto"`` (0.800 / 0.810 / 0.813 vs
        0.743 / 0.767 / 0.778) and by about +0.06 at every k for the source-only model, so
        tables should pass "auto". But the choice fits every family five times, and on
        image features (800 rows x 1280 backbone columns, one thread) one boosting fit took
        95 s against 0.6 s for the SVM: about eight minutes added to every image run. The
        default changes when the boosting family's cost on wide features is bounded.
    backbone : str, default="efficientnet_lite0"
        Feature extractor for image domains (ignored for tables).
    weights : str or Path, optional
        A safetensors checkpoint for the backbone.
    image_size : int, optional
        Input size override for the backbone.
    task : {"classification", "regression"}
        What the labels are.
    target_transform : {"none", "sqrt", "log"}
        Regression only: fit on the transformed target, invert at prediction.
    point : {"mean", "pw20"}, default="mean"
        Regression with ``method="auto"`` only: "pw20" reports the value most likely within
        ±20% of the truth instead of the expected value (a
        :class:`~medtransfer.models.tolerance.PW20Decision` tuned on auto's out-of-fold
        predictions of the labelled target samples; the dosing target of warfarin studies).
    encoder : TabularEncoder, optional
        Unfitted encoder for table domains (default: ``TabularEncoder()``).
    baselines : bool, default=True
        Also fit the baselines (source-only, and target-only/pooled when labels exist).
    random_state : int, default=0
        Seed of every stochastic step.
    recalibrate : {None, "temperature", "platt", "isotonic"}, default=None
        Classification only: recalibrate the chosen model's probabilities on the k labelled
        target samples. ``predict_proba`` then returns the recalibrated probabilities; the raw
        model stays available under its own name (``model=method``).
    cache_dir : Path, optional
        Feature cache folder.
    device : str, optional
        "cpu" or "cuda"; default picks CUDA when present.
    progress : bool, default=True
        Show progress bars.
    harmonize : str, default="none"
        Image domains: pixel harmonisation fitted on the source and the unlabelled target
        before the backbone (``medtransfer harmonizers``; ``auto``, or a ``+`` chain such as
        ``framing+reinhard``). Its fitted state is stored in the run and applied at predict.
    augment : int, default=0
        Image domains: add this many seeded augmented copies of every labelled source image
        (crop-rescale, colour jitter, blur, noise; flips/rotations for colour images) as
        extra source rows. Fit time only.
    tta : bool, default=False
        Image domains: each feature row is the mean over the image and its mirror images,
        at fit and at predict (test-time augmentation).
    store_weights : bool, default=False
        Image domains: save the ``weights`` file inside the run as
        ``model/backbone.safetensors``, hash-listed, where :meth:`load` finds it again
        wherever the run is moved (a fine-tuned or source-free adapted backbone).
    protect : sequence of str, default=()
        Tables: columns that the methods moving features (alignment, harmonisation) never
        align, with every encoded feature derived from them (missingness indicator, one-hot
        columns); ComBat keeps their effect as biological covariates. For "auto", every
        candidate that moves features protects them. See :mod:`medtransfer.adapt.protect`.

    Attributes
    ----------
    protected_features_ : tuple of int
        Positions of the encoded features protected.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "task": TASK,
        "target_transform": Options(*TRANSFORMS),
        "point": Options(*POINTS),
        "recalibrate": Options(*RECALIBRATION_METHODS, None),
        "augment": AUGMENT,
        "classifier": Names(CLASSIFIERS, "auto"),
    }
    _parameter_rules = (
        Requires("target_transform", unless="none", needs={"task": "regression"}),
        Requires("point", unless="mean", needs={"task": "regression", "method": "auto"},
                 why="it is tuned on auto's out-of-fold predictions"),
        Requires("recalibrate", unless=None, needs={"task": "classification"}),
    )

    def __init__(
        self,
        method: str = "source_only",
        method_params: dict | None = None,
        classifier: str = "svm",
        backbone: str = "efficientnet_lite0",
        weights: str | Path | None = None,
        image_size: int | None = None,
        task: str = "classification",
        target_transform: str = "none",
        point: str = "mean",
        encoder: TabularEncoder | None = None,
        baselines: bool = True,
        random_state: int = 0,
        cache_dir: Path | None = None,
        device: str | None = None,
        progress: bool = True,
        recalibrate: str | None = None,
        harmonize: str = "none",
        augment: int = 0,
        tta: bool = False,
        store_weights: bool = False,
        protect: Sequence[str] = (),
    ) -> None:
        self.method = method
        self.method_params = method_params
        self.classifier = classifier
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.task = task
        self.target_transform = target_transform
        self.point = point
        self.encoder = encoder
        self.baselines = baselines
        self.random_state = random_state
        self.cache_dir = cache_dir
        self.device = device
        self.progress = progress
        self.recalibrate = recalibrate
        self.harmonize = harmonize
        self.augment = augment
        self.tta = tta
        self.store_weights = store_weights
        self.protect = protect

    def fit(
        self, source: Domain, target: Domain, target_labels: int | Sequence[str] = 0
    ) -> TransferPipeline:
        """Fit on the labelled source, the target's inputs and ``target_labels`` of its labels.

        ``target_labels`` is a number k (k samples drawn stratified by class with
        ``random_state``) or the ids of the target samples whose labels may be used. No other
        target label is read.
        """
        check_params(self)
        given = source, target
        source, target, self.classes_report_ = self._harmonize(source, target)
        self.class_names_ = source.class_names
        labelled = self.labelled_positions(target, target_labels)
        self.labelled_target_ids_ = [str(i) for i in target.ids[labelled]]
        y_recalibrate = self._recalibration_labels(target.labels, labelled)
        Xs, Xt, self.feature_spec_ = featurize_pair(source, target, **self._feature_options())
        self.protected_features_ = self._protected_features()
        # fit_run scores and embeds the same domains next: their features are kept, not redone
        # (class harmonisation relabels but keeps the inputs, so the given domains match too)
        self._fit_features: dict[int, tuple[Domain, np.ndarray]] = {}
        for domain, fitted, X in zip((*given, source, target), (source, target) * 2,
                                     (Xs, Xt) * 2, strict=True):
            self._keep_features(domain, fitted, X)
        Xs = self._with_augmented_copies(source, Xs)
        X, y, sample_domain = self._stack(source, target, labelled, Xs, Xt)
        predictor = self._choose_classifier(X, y, sample_domain, source, len(Xs))
        self.models_ = {
            name: self._fit_one(name, X, y, sample_domain, len(labelled), predictor)
            for name in self._model_names(len(labelled), self._target_classes(target, labelled))
        }
        self.recalibrator_ = self._fit_recalibrator(Xt[labelled], y_recalibrate)
        return self

    def _harmonize(self, source: Domain, target: Domain) -> tuple[Domain, Domain, dict]:
        if source.labels is None or not source.labelled_mask.any():
            raise DataError(f"source {source.name!r} has no labels; pass its --label-col")
        if source.is_regression != (self.task == "regression"):
            raise ConfigError(
                f"source {source.name!r} labels are "
                f"{'continuous' if source.is_regression else 'classes'} but --task is {self.task}"
            )
        if self.task == "regression":
            return source, target, {}
        warn_label_spaces(source, target)
        return harmonize_classes(source, target)

    def labelled_positions(self, target: Domain, target_labels: int | Sequence[str]) -> np.ndarray:
        """Positions of the target samples whose labels ``fit`` may use: k drawn stratified
        with ``random_state``, or those of the given ids."""
        if isinstance(target_labels, int | np.integer):
            if target_labels and target.labels is None:
                raise DataError(
                    f"target {target.name!r} has no labels, so --target-labels "
                    f"{target_labels} cannot be drawn; pass --label-col or use 0"
                )
            return choose_labelled(target, int(target_labels), self.random_state)
        return labelled_from_ids(target, list(target_labels))

    def _feature_options(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "weights": self.weights,
            "image_size": self.image_size,
            "cache_dir": self.cache_dir,
            "device": self.device,
            "progress": self.progress,
            "encoder": self.encoder,
            "harmonize": self.harmonize,
            "random_state": self.random_state,
            "tta": self.tta,
        }

    def _protected_features(self) -> tuple[int, ...]:
        """Encoded positions of the ``protect`` columns (checked against the table)."""
        if not self.protect:
            return ()
        if self.feature_spec_.get("kind") != "table":
            raise ConfigError("--protect names table columns; image features have none to "
                              "protect: remove --protect")
        protected = encoded_columns(TabularEncoder.from_dict(self.feature_spec_["encoder"]),
                                    list(self.protect))
        method = get_method(self.method).build(make_classifier("logreg", self.task), None)
        if "protect" not in method.get_params(deep=False):
            raise ConfigError(f"--protect applies to methods that move features (alignment, "
                              f"harmonisation, or auto); {self.method!r} leaves them as they "
                              "are: remove --protect or choose such a method")
        return protected

    def _with_augmented_copies(self, source: Domain, Xs: np.ndarray) -> np.ndarray:
        """``Xs`` then the augmented copies' rows, stacked as (copies + 1, n, d)."""
        if self.augment == 0:
            return Xs[None]
        copies = augmented_features(
            source, self.feature_spec_, self.augment, self.random_state,
            cache_dir=self.cache_dir, device=self.device, progress=self.progress,
        )
        return np.stack([Xs, *copies])

    def _stack(self, source, target, labelled, Xs, Xt):
        """Source rows (of every augmented copy, as rows of the same class), then target."""
        mask = source.labelled_mask
        copies = len(Xs)
        ys = np.tile(self._encode_y(source.labels[mask]), copies)
        yt = np.full(len(target), np.nan if self.task == "regression" else -1)
        if len(labelled):
            yt[labelled] = self._encode_y(target.labels[labelled])
        X = np.vstack([*Xs[:, mask], Xt])
        y = np.concatenate([ys, yt])
        if self.task == "classification":
            y = y.astype(int)
        sample_domain = np.r_[np.full(copies * mask.sum(), SOURCE), np.full(len(target), TARGET)]
        return X, y, sample_domain

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        if self.task == "classification" or self.target_transform == "none":
            return y
        y = y.astype(float)
        if np.any(y <= 0):
            raise DataError(
                f"--target-transform {self.target_transform} needs positive targets; found "
                f"{int(np.sum(y <= 0))} value(s) <= 0 (e.g. {y[y <= 0][0]}); remove them or use "
                "--target-transform none"
            )
        return to_model_scale(y, self.target_transform)

    def _decode_y(self, y: np.ndarray) -> np.ndarray:
        return from_model_scale(y, self.target_transform)

    def _target_classes(self, target: Domain, labelled: np.ndarray) -> int | None:
        """Classes among the labelled target samples (None for regression)."""
        if self.task != "classification" or target.labels is None:
            return None
        return int(np.unique(target.labels[labelled]).size)

    def _model_names(self, k: int, target_classes: int | None) -> list[str]:
        """The method, then the baselines that ``k`` labelled target samples allow."""
        one_class = target_classes == 1
        if self.method == "target_only" and one_class:
            raise DataError(
                f"the {k} labelled target samples are all of one class; target_only needs "
                "two; label samples of another class or choose a method that uses the source"
            )
        names = [self.method]
        if self.baselines:
            names += [b for b in BASELINES if b != self.method and (k > 0 or b == "source_only")
                      and not (b == "target_only" and one_class)]
        return names

    def _choose_classifier(self, X, y, sample_domain, source: Domain,
                           copies: int) -> BaseEstimator:
        """The final predictor; for "auto", its family chosen on the labelled source rows.

        Sets ``classifier_`` (the family used) and ``classifier_selection_`` (the choice's
        evidence, None for a given family). Folds keep a patient's rows together, and the
        augmented copies of a row with it.
        """
        self.classifier_selection_ = None
        if self.classifier != "auto":
            self.classifier_ = self.classifier
            return make_classifier(self.classifier, self.task, self.random_state)
        ids = source.patient_ids
        rows = np.flatnonzero(source.labelled_mask)
        groups = None
        if ids is not None or copies > 1:
            per_row = rows if ids is None else np.asarray(ids, dtype=str)[rows]
            groups = np.r_[np.tile(per_row.astype(str), copies),
                           np.full(len(X) - copies * len(rows), "target")]
        self.classifier_, predictor, self.classifier_selection_ = choose_predictor(
            X, y, sample_domain=sample_domain, task=self.task, groups=groups,
            random_state=self.random_state)
        return predictor

    def _fit_one(self, name, X, y, sample_domain, k: int,
                 predictor: BaseEstimator) -> BaseEstimator:
        method = get_method(name, self.task, k)
        estimator = method.build(clone(predictor), self.random_state)
        if name == "auto":
            estimator.set_params(progress=self.progress, class_names=(
                list(self.class_names_) if self.task == "classification" else None))
        if name == "auto" and self.classifier == "auto":
            # the family choice already tuned the predictor on the same source rows
            estimator.set_params(estimator_grid=None)
        if name == "auto" and self.task == "regression":
            estimator.set_params(point=self.point, target_transform=self.target_transform)
        if name == self.method and self.protected_features_:
            estimator.set_params(protect=list(self.protected_features_))
        if name == self.method and self.method_params:
            estimator.set_params(**self.method_params)
        return estimator.fit(X, y, sample_domain=sample_domain)

    def _recalibration_labels(
        self, labels: np.ndarray | None, labelled: np.ndarray
    ) -> np.ndarray | None:
        """Class codes of the labelled target samples, checked before any fitting."""
        if self.recalibrate is None:
            return None
        y = np.asarray([] if labels is None else labels[labelled], dtype=int)
        if np.unique(y).size < 2:
            raise ConfigError(
                f"--recalibrate {self.recalibrate} needs labelled target samples of at least two "
                f"classes; got {len(y)} labelled sample(s) of {np.unique(y).size} class(es); "
                "pass a larger --target-labels K"
            )
        return y

    def _fit_recalibrator(self, X: np.ndarray, y: np.ndarray | None) -> Recalibrator | None:
        """Recalibrate the chosen model on the labelled target rows ``X`` (None if not asked)."""
        if y is None:
            return None
        proba = full_proba(self.models_[self.method], X, len(self.class_names_))
        return Recalibrator(self.recalibrate).fit(proba, y)

    @property
    def default_model(self) -> str:
        """The model ``predict`` uses by default: the chosen one, recalibrated if it was."""
        self._check_fitted()
        if getattr(self, "recalibrator_", None) is None:
            return self.method
        return self.method + RECALIBRATED

    @property
    def model_names(self) -> list[str]:
        """Every model that can predict: the fitted ones, then the recalibrated one if any."""
        self._check_fitted()
        extra = [self.default_model] if self.default_model != self.method else []
        return [*self.models_, *extra]

    def proba_from_features(self, X: np.ndarray, model: str | None = None) -> np.ndarray:
        """Probabilities over every class (columns in ``class_names`` order) from features."""
        name = model or self.default_model
        recalibrated = name == self.method + RECALIBRATED and name == self.default_model
        raw = self._model(self.method if recalibrated else name)
        proba = full_proba(raw, X, len(self.class_names_))
        return self.recalibrator_.transform(proba) if recalibrated else proba

    def values_from_features(self, X: np.ndarray, model: str | None = None) -> np.ndarray:
        """Regression predictions from features, back on the label's scale."""
        return self._decode_y(self._model(model).predict(X))

    def _check_fitted(self) -> None:
        check_is_fitted(self, "models_")

    @property
    def chosen_method(self) -> str:
        """The method that was fitted: ``method``, or what "auto" chose."""
        self._check_fitted()
        return getattr(self.models_[self.method], "choice_", self.method)

    def _keep_features(self, domain: Domain, fitted: Domain, X: np.ndarray) -> None:
        """Keep ``X``, the features of the fitted domain ``fitted``, for ``domain`` too when
        it holds the same inputs (the same domain, or one relabelled)."""
        if domain.inputs is fitted.inputs:
            self._fit_features[id(domain)] = (domain, X)

    def features(self, domain: Domain) -> np.ndarray:
        """Features of a new domain, computed exactly as at fit time."""
        self._check_fitted()
        kept = getattr(self, "_fit_features", {}).get(id(domain))
        if kept is not None and kept[0] is domain:
            return kept[1]
        return featurize(
            domain,
            self.feature_spec_,
            cache_dir=self.cache_dir,
            device=self.device,
            progress=self.progress,
        )

    def predict_proba(self, domain: Domain, model: str | None = None) -> np.ndarray:
        """Class probabilities of each sample (columns in ``class_names`` order)."""
        if self.task != "classification":
            raise ConfigError("predict_proba needs --task classification; use predict")
        return self.proba_from_features(self.features(domain), model)

    def predict(self, domain: Domain, model: str | None = None) -> np.ndarray:
        """Predicted class index (classification) or value (regression) per sample."""
        if self.task == "regression":
            return self.values_from_features(self.features(domain), model)
        if not (model or self.default_model).endswith(RECALIBRATED):
            return self._model(model).predict(self.features(domain))
        return self.predict_proba(domain, model).argmax(axis=1)

    def _model(self, name: str | None) -> BaseEstimator:
        self._check_fitted()
        name = name or self.method
        if name not in self.models_:
            raise ConfigError(f"model {name!r} is not in this run; it has {self.model_names}")
        return self.models_[name]

    def predict_frame(
        self, domain: Domain, X: np.ndarray | None = None, models: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Long table of the predictions of ``models`` (default: all) on ``domain``, one
        block each: model, id, label, prediction and, for classes, ``p_<class>`` columns.

        ``X``, when given, are ``domain``'s features already computed (not computed again).
        """
        X = self.features(domain) if X is None else X
        truth = self._label_names(domain)
        blocks = []
        for name in models or self.model_names:
            block = pd.DataFrame({"model": name, "id": domain.ids.astype(str), "label": truth})
            if self.task == "classification":
                proba = self.proba_from_features(X, name)
                block["prediction"] = np.asarray(self.class_names_)[proba.argmax(1)]
                for column, class_name in enumerate(self.class_names_):
                    block[f"p_{class_name}"] = proba[:, column]
            else:
                block["prediction"] = self.values_from_features(X, name)
            blocks.append(block)
        return pd.concat(blocks, ignore_index=True)

    def _label_names(self, domain: Domain) -> list:
        if domain.labels is None:
            return [""] * len(domain)
        if self.task == "regression":
            return list(domain.labels.astype(float))
        names = np.asarray(self.class_names_, dtype=object)
        return [names[c] if c >= 0 else "" for c in domain.labels]

    def score(self, domain: Domain, predictions: pd.DataFrame, n_resamples: int) -> dict:
        """Metrics with 95% intervals of every model block of ``predictions`` on the
        labelled samples of ``domain`` (patient-grouped when it has patient ids)."""
        return score_models(domain, predictions, n_resamples, task=self.task,
                            class_names=self.class_names_, random_state=self.random_state)

    def run_entries(self) -> dict[str, Any]:
        """The run manifest's description of the fit: task, method, chosen method, evidence."""
        self._check_fitted()
        evidence = getattr(self.models_[self.method], "evidence_", None)
        return {
            "task": self.task,
            "method": self.method,
            "classifier": self.classifier_,
            "classifier_selection": (None if self.classifier_selection_ is None
                                     else artifacts.to_json(self.classifier_selection_)),
            "backbone": self.backbone if self.feature_spec_.get("kind") == "image" else None,
            "chosen_method": self.chosen_method,
            "selection": artifacts.to_json(evidence) if evidence is not None else None,
        }

    def heldout(
        self, source: Domain | None, target: Domain, dedupe: str
    ) -> tuple[Domain, dict | None]:
        """The target samples to score, after the leakage guard (``dedupe``: keep, drop or
        error; see :func:`medtransfer.runs.validation.guard_heldout`), and its record."""
        features = self.features(source), self.features(target)
        heldout, leakage = guard_run_heldout(source, target, self.labelled_target_ids_,
                                             features, dedupe)
        position = {str(i): n for n, i in enumerate(target.ids)}
        rows = [position[str(i)] for i in heldout.ids]
        self._keep_features(heldout, heldout, features[1][rows])
        return heldout, leakage

    def validate(
        self, target: Domain, predictions: pd.DataFrame, options: ValidationOptions,
        n_resamples: int, manifest: dict[str, Any],
    ) -> dict[str, Any]:
        """The external-validation study of a binary run (calibration, operating point,
        decision curve, sample size; calibration measures are added to ``manifest``'s
        metrics) and, with ``options.plan``, the check against the site-adaptation plan."""
        entries: dict[str, Any] = {"validation": None}
        if self.task == "classification":
            used = np.flatnonzero(np.isin(target.ids.astype(str), self.labelled_target_ids_))
            labelled = (self.predict_frame(target.subset(used), self.features(target)[used],
                                           [self.method]) if used.size else None)
            entries["validation"] = run_validation(
                self.method, list(self.class_names_), predictions, labelled, options,
                n_resamples=n_resamples, random_state=self.random_state)
        for name, measures in (entries["validation"] or {}).get("calibration", {}).items():
            manifest["metrics"].get(name, {}).update(measures)
        if options.plan is not None:
            entries["plan"] = plan_record(
                options.plan, {**manifest, **entries}, predictions,
                class_names=list(self.class_names_ or []),
                labelled_ids=self.labelled_target_ids_, recalibrate=self.recalibrate)
        return entries

    def embedding(self, source: Domain | None, target: Domain) -> dict[str, np.ndarray]:
        """2-D views of source and target before and after adaptation (see
        :func:`medtransfer.runs.embedding.adaptation_embedding`)."""
        return adaptation_embedding(self, source, target)

    def save(self, path: Path, force: bool = False) -> Path:
        """Write the fitted pipeline as a directory artifact (manifest + skops files)."""
        self._check_fitted()
        with artifacts.atomic_directory(Path(path), force) as tmp:
            artifacts.write_manifest(tmp, self.write_to(tmp))
        return Path(path)

    def write_to(self, folder: Path) -> dict[str, Any]:
        """Write the models under ``folder/model`` and return the manifest entries."""
        self._check_fitted()
        return write_pipeline(self, folder)

    @classmethod
    def load(cls, path: Path, verify_key: bytes | None = None, **runtime: Any) -> TransferPipeline:
        """Load a pipeline saved by ``save`` (or a run directory), verifying every file's hash.

        ``verify_key`` also checks the run's signature (see :func:`medtransfer.artifacts.signing`);
        ``runtime`` may set ``cache_dir``, ``device`` and ``progress``.
        """
        return read_pipeline(cls, path, verify_key, runtime)
