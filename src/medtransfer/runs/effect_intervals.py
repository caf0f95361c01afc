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

from dataclasses import dataclass, replace
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


def refit_arms(
    effect: EffectPipeline, source: Domain, target: Domain, *, n_refits: int = 200,
    random_state: int | None = 0,
) -> list[tuple[BaseEstimator, BaseEstimator]]:
    """Both arms' chosen models of a fitted ``effect`` refitted on ``n_refits`` bootstrap
    resamples of their training rows: one (control, treated) pair per resample.

    Parameters
    ----------
    effect : EffectPipeline
        Fitted; its arms' chosen methods are refitted (not chosen again).
    source, target : Domain
        The domains ``effect`` was fitted on.
    n_refits : int, default=200
        Bootstrap refits of both arms.
    random_state : int or None, default=0
        Seed of the resamples.
    """
    rng = np.random.default_rng(random_state)
    arms = [_ArmRefit.build(effect, arm, value, source, target)
            for value, arm in enumerate(ARMS)]
    return [tuple(arm.refit(rng) for arm in arms) for _ in range(int(n_refits))]


def effect_draws(
    effect: EffectPipeline, domain: Domain, *, random_state: int | None = 0
) -> EffectDraws:
    """The effect of every row of ``domain`` under each refit of ``effect.refits_``, and the
    mean effect of each refit over a bootstrap resample of the rows (seeded by
    ``random_state``)."""
    features = {arm: p.features(_drop(domain, effect.treatment))
                for arm, p in effect.pipelines_.items()}
    effects = np.empty((len(effect.refits_), len(domain)))
    for b, pair in enumerate(effect.refits_):
        mu0, mu1 = (_outcome(effect.pipelines_[arm], model, features[arm])
                    for arm, model in zip(ARMS, pair, strict=True))
        effects[b] = mu1 - mu0
    rng = np.random.default_rng(random_state)
    mean = np.array([row[_resample(rng, len(domain))].mean() for row in effects])
    return EffectDraws(effects, mean)


REFITS_DIR = "refits"
ARMS = ("control", "treated")


def refit_path(arm: str, index: int) -> str:
    """Where refit ``index`` of ``arm`` lies inside an effect run (posix, relative)."""
    return f"{REFITS_DIR}/{arm}/{index:03d}.skops"


def write_refits(refits: list[tuple[BaseEstimator, BaseEstimator]], folder: Path) -> int:
    """Save every refit's two models under ``folder/refits/ARM/NNN.skops``; return how many
    refits were written (the count :func:`read_refits` expects)."""
    for index, pair in enumerate(refits):
        for arm, model in zip(ARMS, pair, strict=True):
            path = Path(folder) / refit_path(arm, index)
            path.parent.mkdir(parents=True, exist_ok=True)
            model_files.dump_estimator(model, path)
    return len(refits)


def read_refits(folder: Path, n_refits: int) -> list[tuple[BaseEstimator, BaseEstimator]]:
    """The ``n_refits`` (control, treated) pairs written by :func:`write_refits`, each file
    loaded only when every object in it is of a trusted type."""
    if not isinstance(n_refits, int) or isinstance(n_refits, bool) or n_refits < 0:
        raise ArtifactError(f"{Path(folder) / 'manifest.json'} gives n_refits={n_refits!r}; "
                            "expected a count of saved refits: the run is damaged")
    return [tuple(model_files.load_estimator(Path(folder) / refit_path(arm, index))
                  for arm in ARMS) for index in range(n_refits)]


def _outcome(pipeline: TransferPipeline, model: BaseEstimator, X: np.ndarray) -> np.ndarray:
    if pipeline.task == "regression":
        return pipeline._decode_y(model.predict(X))
    return full_proba(model, X, len(pipeline.class_names_))[:, 1]


@dataclass
class _ArmRefit:
    """One arm's training rows as features and its fixed model."""

    model: BaseEstimator
    regression: bool
    X_source: np.ndarray
    y_source: np.ndarray
    X_labelled: np.ndarray
    y_labelled: np.ndarray
    X_unlabelled: np.ndarray

    @classmethod
    def build(cls, effect: EffectPipeline, arm: str, value: int, source: Domain,
              target: Domain) -> _ArmRefit:
        pipeline = effect.pipelines_[arm]
        in_arm = np.flatnonzero((effect.arms(source, "source") == value) & source.labelled_mask)
        arm_source, arm_target, _ = pipeline._harmonize(
            _drop(source.subset(in_arm), effect.treatment), _drop(target, effect.treatment))
        labelled = np.isin(arm_target.ids.astype(str), pipeline.labelled_target_ids_)
        X_target = pipeline.features(arm_target)
        y_target = np.asarray([]) if arm_target.labels is None else arm_target.labels[labelled]
        return cls(
            model=fixed_model(pipeline),
            regression=pipeline.task == "regression",
            X_source=pipeline.features(arm_source),
            y_source=pipeline._encode_y(arm_source.labels),
            X_labelled=X_target[labelled],
            y_labelled=pipeline._encode_y(y_target),
            X_unlabelled=X_target[~labelled],
        )

    def refit(self, rng: np.random.Generator) -> BaseEstimator:
        """The arm's model refitted on one bootstrap resample of its training rows."""
        s = _resample(rng, len(self.y_source))
        t = _resample(rng, len(self.y_labelled))
        missing = np.nan if self.regression else -1
        X = np.vstack([self.X_source[s], self.X_labelled[t], self.X_unlabelled])
        y = np.concatenate([self.y_source[s], self.y_labelled[t],
                            np.full(len(self.X_unlabelled), missing)])
        sample_domain = np.r_[np.full(len(s), SOURCE), np.full(len(X) - len(s), TARGET)]
        return clone(self.model).fit(X, y if self.regression else y.astype(int),
                                     sample_domain=sample_domain)


def fixed_model(pipeline: TransferPipeline) -> BaseEstimator:
    """The fitted pipeline's chosen model as an unfitted template: auto's choice, not auto."""
    model = pipeline.models_[pipeline.method]
    return getattr(model, "estimator_", model) if hasattr(model, "choice_") else model


def _resample(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, n, n) if n else np.zeros(0, dtype=int)


def _drop(domain: Domain, column: str) -> Domain:
    if column not in domain.inputs:
        return domain
    return replace(domain, inputs=domain.inputs.drop(columns=[column]))
