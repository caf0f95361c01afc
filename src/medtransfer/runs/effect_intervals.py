"""Intervals for treatment effects that include the uncertainty of the fitted arms.

An effect is the difference of two fitted outcome models, so most of its uncertainty comes
from the fits, not from which target patients it is averaged over: resampling only the
held-out rows gave intervals about 0.02 wide that missed a randomised trial's estimate in
every run. Here each arm's chosen model is refitted on a bootstrap resample of its own
training rows (source rows of the arm, and the arm's labelled target rows, each drawn with
replacement; the unlabelled target rows the adaptation aligns to are kept), with the method
held fixed at what was chosen and the encoder as fitted. Every refit predicts the outcome of
each row under its arm, so one set of refits gives a per-patient interval of the effect and,
with the rows resampled too, an interval of the mean effect over the population they stand for.
The refits are kept by the fitted :class:`~medtransfer.runs.effect.EffectPipeline`
(``refits_``) and saved with it (:func:`write_refits`: one skops file per arm and refit, read
back through :mod:`medtransfer.model_files`' allowlist), so any rows a loaded run predicts get
intervals too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, clone

from medtransfer import model_files
from medtransfer.data.domain import Domain
from medtransfer.data.sample_domain import SOURCE, TARGET
from medtransfer.errors import ArtifactError
from medtransfer.evaluate.resampling import percentile_interval
from medtransfer.models.classifiers import full_proba
from medtransfer.runs.pipeline import TransferPipeline

if TYPE_CHECKING:
    from medtransfer.runs.effect import EffectPipeline


@dataclass
class EffectDraws:
    """Effects of every row of a domain under refitted arms.

    Attributes
    ----------
    effects : ndarray of shape (n_refits, n_rows)
        ``effects[b, i]``: the effect of row i predicted by the arms of refit b.
    mean : ndarray of shape (n_refits,)
        Mean effect of refit b over a bootstrap resample of the rows (drawn with it).
    """

    effects: np.ndarray
    mean: np.ndarray

    def row_intervals(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Per-row percentile interval of the effect (low, high)."""
        tail = 100 * (1 - level) / 2
        return tuple(np.percentile(self.effects, [tail, 100 - tail], axis=0))

    def mean_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Percentile interval of the mean effect."""
        return percentile_interval(self.mean, level)


def refit_components(
    effect: EffectPipeline, fitted_on: dict[str, tuple[Domain, Domain]], *,
    n_refits: int = 200, random_state: int | None = 0,
) -> list[tuple[BaseEstimator, ...]]:
    """The chosen models of the components that give a fitted ``effect``'s effects (both
    arms for the T-learner, the effect regressions for X and DR, the one model for S),
    refitted on ``n_refits`` bootstrap resamples of their training rows: one tuple per
    resample, in the order of ``effect.refitted_components``.

    Parameters
    ----------
    effect : EffectPipeline
        Fitted; its components' chosen methods are refitted (not chosen again).
    fitted_on : dict of str to (Domain, Domain)
        The (source, target) domains each component pipeline was fitted on.
    n_refits : int, default=200
        Bootstrap refits.
    random_state : int or None, default=0
        Seed of the resamples.
    """
    rng = np.random.default_rng(random_state)
    rows = [ComponentRows.build(effect.pipelines_[name], *fitted_on[name])
            for name in effect.refitted_components]
    return [tuple(component.refit(rng) for component in rows) for _ in range(int(n_refits))]


def effect_draws(
    effect: EffectPipeline, domain: Domain, *, random_state: int | None = 0
) -> EffectDraws:
    """The effect of every row of ``domain`` under each refit of ``effect.refits_``, and the
    mean effect of each refit over a bootstrap resample of the rows (seeded by
    ``random_state``)."""
    features = effect.component_features(domain)
    effects = np.empty((len(effect.refits_), len(domain)))
    for b, models in enumerate(effect.refits_):
        by_name = dict(zip(effect.refitted_components, models, strict=True))
        effects[b] = effect.effect_of(
            lambda name, t, m=by_name: outcome(effect.pipelines_[name], m[name],
                                               features[name, t]), domain)
    rng = np.random.default_rng(random_state)
    mean = np.array([row[_resample(rng, len(domain))].mean() for row in effects])
    return EffectDraws(effects, mean)


REFITS_DIR = "refits"
ARMS = ("control", "treated")


def refit_path(component: str, index: int) -> str:
    """Where refit ``index`` of ``component`` lies inside an effect run (posix, relative)."""
    return f"{REFITS_DIR}/{component}/{index:03d}.skops"


def write_refits(refits: list[tuple[BaseEstimator, ...]], components: tuple[str, ...],
                 folder: Path) -> int:
    """Save every refit's models under ``folder/refits/COMPONENT/NNN.skops``; return how
    many refits were written (the count :func:`read_refits` expects)."""
    for index, models in enumerate(refits):
        for component, model in zip(components, models, strict=True):
            path = Path(folder) / refit_path(component, index)
            path.parent.mkdir(parents=True, exist_ok=True)
            model_files.dump_estimator(model, path)
    return len(refits)


def read_refits(folder: Path, n_refits: int,
                components: tuple[str, ...]) -> list[tuple[BaseEstimator, ...]]:
    """The ``n_refits`` tuples of ``components``' models written by :func:`write_refits`,
    each file loaded only when every object in it is of a trusted type."""
    if not isinstance(n_refits, int) or isinstance(n_refits, bool) or n_refits < 0:
        raise ArtifactError(f"{Path(folder) / 'manifest.json'} gives n_refits={n_refits!r}; "
                            "expected a count of saved refits: the run is damaged")
    return [tuple(model_files.load_estimator(Path(folder) / refit_path(component, index))
                  for component in components) for index in range(n_refits)]


def outcome(pipeline: TransferPipeline, model: BaseEstimator | None,
            X: np.ndarray) -> np.ndarray:
    """What ``model`` (a refit of ``pipeline``'s chosen model; None: the pipeline's own
    default model) predicts from features ``X``: values on the label's scale, or the
    probability of the second class."""
    if model is None:
        if pipeline.task == "regression":
            return pipeline.values_from_features(X)
        return pipeline.proba_from_features(X)[:, 1]
    if pipeline.task == "regression":
        return pipeline._decode_y(model.predict(X))
    return full_proba(model, X, len(pipeline.class_names_))[:, 1]


@dataclass
class ComponentRows:
    """The training rows of one fitted component pipeline, as features, and its fixed
    model: what a refit or a cross-fitted copy of the component is fitted on."""

    model: BaseEstimator
    regression: bool
    X_source: np.ndarray
    y_source: np.ndarray
    X_labelled: np.ndarray
    y_labelled: np.ndarray
    X_unlabelled: np.ndarray

    @classmethod
    def build(cls, pipeline: TransferPipeline, source: Domain, target: Domain) -> ComponentRows:
        """The rows of ``pipeline``, fitted on ``source`` and ``target``: the labelled source
        rows, the labelled target rows (in ``target``'s order), the other target rows."""
        fitted_source, fitted_target, _ = pipeline._harmonize(source, target)
        labelled = np.isin(fitted_target.ids.astype(str), pipeline.labelled_target_ids_)
        X_target = pipeline.features(fitted_target)
        y_target = (np.asarray([]) if fitted_target.labels is None
                    else fitted_target.labels[labelled])
        in_source = fitted_source.labelled_mask
        return cls(
            model=fixed_model(pipeline),
            regression=pipeline.task == "regression",
            X_source=pipeline.features(fitted_source)[in_source],
            y_source=pipeline._encode_y(fitted_source.labels[in_source]),
            X_labelled=X_target[labelled],
            y_labelled=pipeline._encode_y(y_target),
            X_unlabelled=X_target[~labelled],
        )

    def fit_rows(self, source_rows: np.ndarray, labelled_rows: np.ndarray,
                 y_source: np.ndarray | None = None,
                 y_labelled: np.ndarray | None = None) -> BaseEstimator:
        """The fixed model fitted on the given source and labelled target rows (positions,
        repeats allowed) and every unlabelled target row; ``y_source`` and ``y_labelled``
        (one per row, on the model's scale) replace the rows' labels when given."""
        s, t = source_rows, labelled_rows
        y_source = self.y_source if y_source is None else y_source
        y_labelled = self.y_labelled if y_labelled is None else y_labelled
        missing = np.nan if self.regression else -1
        X = np.vstack([self.X_source[s], self.X_labelled[t], self.X_unlabelled])
        y = np.concatenate([y_source[s], y_labelled[t],
                            np.full(len(self.X_unlabelled), missing)])
        sample_domain = np.r_[np.full(len(s), SOURCE), np.full(len(X) - len(s), TARGET)]
        return clone(self.model).fit(X, y if self.regression else y.astype(int),
                                     sample_domain=sample_domain)

    def resample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One bootstrap resample of the source rows and of the labelled target rows."""
        return _resample(rng, len(self.y_source)), _resample(rng, len(self.y_labelled))

    def refit(self, rng: np.random.Generator) -> BaseEstimator:
        """The model refitted on one bootstrap resample of its training rows."""
        return self.fit_rows(*self.resample(rng))


def fixed_model(pipeline: TransferPipeline) -> BaseEstimator:
    """The fitted pipeline's chosen model as an unfitted template: auto's choice, not auto."""
    model = pipeline.models_[pipeline.method]
    return getattr(model, "estimator_", model) if hasattr(model, "choice_") else model


def _resample(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, n, n) if n else np.zeros(0, dtype=int)


