"""``--finetune auto``: choose the transfer loss of a fine-tune, or not to fine-tune at all.

The candidates are fine-tunes with each transfer loss, source-free adaptations (SHOT,
AdaBN) of the plain fine-tune to the target images, and the reference ``frozen`` (the
pretrained backbone as it is). Every candidate is judged the same way: a logistic
regression on its features, trained on the source plus the labelled target images (each
counting once), as the run trains its predictor on them.

* With labelled target images, the candidates are cross-validated on the same folds of
  those images (:func:`~medtransfer.select.validation.target_folds`): each fold fine-tunes
  with the fold's test labels hidden (its images stay in as unlabelled target images), and a
  candidate replaces ``frozen`` only when the lower bound of its paired bootstrap interval
  (Bonferroni-adjusted) is above zero, as ``--method auto`` decides.
* Without any, a share of the source images is held out from the fine-tune, and skada's
  unsupervised scorers rate every candidate on the held-out source plus the target images
  (:func:`~medtransfer.select.unsupervised.score_without_labels`); a candidate replaces
  ``frozen`` only when every scorer agrees
  (:func:`~medtransfer.select.unsupervised.agreement_choice`).

Fine-tuning is costly: the selection trains one fine-tune per candidate and fold.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.baselines import Pooled, SourceOnly
from medtransfer.data.domain import UNLABELLED, Domain
from medtransfer.finetune.source_free import adapt_batch_norm, shot_adapt
from medtransfer.finetune.trainer import FineTuner
from medtransfer.finetune.transfer import TRANSFER_LOSSES
from medtransfer.select.unsupervised import agreement_choice, score_without_labels, source_splits
from medtransfer.select.validation import (
    align_proba,
    metric,
    paired_bootstrap,
    rare_rows,
    target_folds,
)

FROZEN = "frozen"
# source-free adaptations of the plain fine-tune (the source model) to the target images
SOURCE_FREE = ("shot", "adabn")
DEFAULT_CANDIDATES = ("none", "mcc", "mmd", "entropy", *SOURCE_FREE)
TASK = "classification"


def select_transfer_loss(
    source: Domain,
    target: Domain,
    tuner: FineTuner,
    *,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    n_splits: int = 3,
    confidence: float = 0.95,
    min_class_size: int = 5,
    validation_size: float = 0.3,
) -> dict:
    """Choose among fine-tunes with each loss of ``candidates`` and the frozen backbone.

    Parameters
    ----------
    source : Domain
        Labelled source images.
    target : Domain
        Target images; labels are ``-1`` except on the k labelled ones.
    tuner : FineTuner
        Unfitted template; each candidate is a clone with its ``transfer_loss``.
    candidates : sequence of str
        "none" (fine-tune without a transfer loss), names of
        :data:`~medtransfer.finetune.transfer.TRANSFER_LOSSES`, "shot" or "adabn".
    n_splits : int
        Folds of the labelled target images (fewer when a class has fewer images).
    confidence : float
        One-sided confidence of the paired interval, Bonferroni-adjusted over the candidates.
    min_class_size : int
        Classes with fewer labelled target images are not scored (their images stay in
        every training fold); with fewer than two classes left, ``frozen`` is kept.
    validation_size : float
        Without target labels: the share of source images held out from the fine-tunes.

    Returns
    -------
    dict
        JSON-able: ``choice`` (``"frozen"`` or a candidate), ``mode``, ``reason``, per-candidate
        ``scores`` (and ``comparisons`` or ``votes``), ``seconds`` and ``errors``.
    """
    for name in candidates:
        if name not in ("none", *SOURCE_FREE):
            TRANSFER_LOSSES.get(name)  # an unknown name fails before any training
    tuner = clone(tuner).set_params(progress=False)  # dozens of fits: one bar each is noise
    source = source.subset(np.flatnonzero(source.labelled_mask))
    y = np.concatenate([source.labels, target.labels]).astype(int)
    sample_domain = np.r_[np.ones(len(source), dtype=int), -np.ones(len(target), dtype=int)]
    names = [FROZEN, *dict.fromkeys(candidates)]
    started = time.perf_counter()
    if target.labelled_mask.any():
        held_in, short = rare_rows(y, sample_domain, TASK, min_class_size)
        if short:
            return {"choice": FROZEN, "mode": "too_few_labels", "candidates": names,
                    "reason": f"{short}: too few to trust any comparison; keeping {FROZEN}",
                    "seconds": time.perf_counter() - started}
        folds = target_folds(y, sample_domain=sample_domain, task=TASK, n_splits=n_splits,
                             n_repeats=1, random_state=tuner.random_state, held_in=held_in)
        verdict = _with_labels(source, target, tuner, names, y, sample_domain, folds, confidence)
    else:
        splits = source_splits(y, sample_domain, TASK, 1, validation_size, tuner.random_state)
        verdict = _without_labels(source, target, tuner, names, y, sample_domain, splits[0])
    return {**verdict, "candidates": names, "seconds": time.perf_counter() - started}


def _adapt(name: str, plain: FineTuner, target: Domain, tuner: FineTuner) -> FineTuner:
    """Source-free adaptation ``name`` of the plain fine-tune to the target images."""
    if name == "adabn":
        return adapt_batch_norm(plain, target, progress=tuner.progress)
    return shot_adapt(plain, target, epochs=tuner.epochs, batch_size=tuner.batch_size,
                      random_state=tuner.random_state, progress=tuner.progress)


def fit_candidate(name: str, tuner: FineTuner, source: Domain, target: Domain,
                  plain: FineTuner | None = None) -> FineTuner:
    """Candidate ``name`` fitted on ``source`` and ``target`` (with its labels as given).

    ``frozen`` trains the head only; a source-free name (``shot``, ``adabn``) adapts
    ``plain``, the fine-tune without a transfer loss (fitted here when not given), to the
    target images; any other name is the fine-tune with that transfer loss.
    """
    if name == FROZEN:
        return clone(tuner).set_params(epochs=0).fit(source, target)
    if name in SOURCE_FREE:
        plain = plain if plain is not None else fit_candidate("none", tuner, source, target)
        return _adapt(name, plain, target, tuner)
    return clone(tuner).set_params(transfer_loss=name).fit(source, target)


class _Features:
    """Stacked source and target features of each candidate on one training set, sharing
    the frozen features and the plain fine-tune that the source-free candidates start from."""

    def __init__(self, tuner: FineTuner, source: Domain, target: Domain,
                 fit_source: Domain, frozen: np.ndarray | None = None) -> None:
        self.tuner, self.source, self.target, self.fit_source = tuner, source, target, fit_source
        self.frozen, self.plain = frozen, None

    def __call__(self, name: str) -> np.ndarray:
        if name == FROZEN and self.frozen is not None:
            return self.frozen  # the frozen features do not depend on any label
        if name == "none":
            model = self._plain()
        elif name in SOURCE_FREE:
            model = fit_candidate(name, self.tuner, self.fit_source, self.target, self._plain())
        else:
            model = fit_candidate(name, self.tuner, self.fit_source, self.target)
        X = np.vstack([model.transform(self.source), model.transform(self.target)])
        self.frozen = X if name == FROZEN else self.frozen
        return X

    def _plain(self) -> FineTuner:
        """The fine-tune without a transfer loss, fitted once."""
        if self.plain is None:
            self.plain = fit_candidate("none", self.tuner, self.fit_source, self.target)
        return self.plain


def _classifier(tuner: FineTuner) -> LogisticRegression:
    return LogisticRegression(C=tuner.head_c, max_iter=2000, random_state=tuner.random_state)


def _with_labels(source, target, tuner, names, y, sample_domain, folds, confidence) -> dict:
    n_source = len(source)
    rows = np.unique(np.concatenate([test for _, test in folds]))
    y_k, classes = y[rows], np.unique(y[rows])
    oof = {name: np.zeros((len(rows), len(classes))) for name in names}
    errors: dict[str, str] = {}
    frozen = None
    for _, test in folds:
        y_fit = y.copy()
        y_fit[test] = UNLABELLED
        seen = replace(target, labels=y_fit[n_source:])
        features = _Features(tuner, source, seen, source, frozen)
        for name in (n for n in names if n not in errors):
            try:
                X = features(name)
                model = Pooled(_classifier(tuner), target_share=None)
                model.fit(X, y_fit, sample_domain=sample_domain)
                oof[name][np.searchsorted(rows, test)] = align_proba(
                    model.predict_proba(X[test]), model, classes)
            except Exception as err:  # a fine-tune that breaks must not stop the selection
                if name == FROZEN:
                    raise
                errors[name] = f"{type(err).__name__}: {err}"
        frozen = features.frozen
    oof = {n: p for n, p in oof.items() if n not in errors}
    level = 1 - (1 - confidence) / max(1, len(oof) - 1)
    comparisons = {n: paired_bootstrap(y_k, p, oof[FROZEN], task=TASK, confidence=level,
                                       random_state=tuner.random_state)
                   for n, p in oof.items() if n != FROZEN}
    credible = {n: c for n, c in comparisons.items() if c["lower"] > 0}
    scores = {n: metric(y_k, p, TASK) for n, p in oof.items()}
    if credible:
        choice = max(credible, key=lambda n: credible[n]["mean"])
        c = credible[choice]
        reason = (f"fine-tuning with {choice!r} beat the frozen backbone by {c['mean']:+.3f} "
                  f"AUROC (paired, lower bound {c['lower']:+.3f} > 0, {c['n']} labelled "
                  "target images)")
    else:
        choice = FROZEN
        reason = (f"no fine-tune beat the frozen backbone (CV AUROC {scores[FROZEN]:.3f}) "
                  f"at {confidence:.0%} confidence on {len(y_k)} labelled target images; "
                  "keeping the frozen backbone")
    return {"choice": choice, "mode": "few_labels", "reason": reason, "scores": scores,
            "comparisons": comparisons, "errors": errors}


def _without_labels(source, target, tuner, names, y, sample_domain, split) -> dict:
    fit_rows, _ = split
    features = _Features(tuner, source, target, source.subset(fit_rows[fit_rows < len(source)]))
    results, errors = {}, {}
    for name in names:
        try:
            X = features(name)
        except Exception as err:  # a fine-tune that breaks must not stop the selection
            if name == FROZEN:
                raise
            errors[name] = f"{type(err).__name__}: {err}"
            continue
        results.update(score_without_labels(
            {name: SourceOnly(_classifier(tuner))}, X, y, sample_domain=sample_domain,
            task=TASK, random_state=tuner.random_state, splits=[split]))
    verdict = agreement_choice(results, reference=FROZEN)
    scores = {n: {s: float(np.nanmean(v)) for s, v in r["scores"].items()}
              for n, r in results.items()}
    return {"choice": verdict["choice"], "mode": "unsupervised", "reason": verdict["reason"],
            "scores": scores, "votes": verdict["votes"], "errors": errors}
