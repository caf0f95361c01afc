"""Choosing a method without target labels (k = 0): agreement between adapted models.

skada's scorers, computed on held-out source rows, asked to agree unanimously, almost always
keep ``source_only`` (on white blood cells PBC -> BCCD in every seed, 0.04 balanced accuracy
below the untuned source model). The evidence here looks at the target instead:

- **Agreement.** Every candidate is fitted once on the source and the unlabelled target, and
  predicts a class for every unlabelled target row. Methods adapt in different ways
  (re-colouring, transport, reweighting, pseudo-labels); where they are right they tend to
  agree, and their errors are less alike. A method's score is its mean agreement with every
  *other* candidate (the share of target rows given the same class).
- **Class-balance sanity.** A method whose predicted target class distribution is far from
  any plausible prior (total variation from the source prior above ``max_prior_shift``, e.g.
  a model that calls almost every cell one class) is not eligible, however much it agrees.

Rule: the eligible method with the highest agreement replaces ``source_only`` only when its
agreement exceeds ``source_only``'s by at least ``margin``; otherwise ``source_only`` is
kept. The rule was designed on the heart sites and the pneumonia acquisition shift, and
tested on the white-blood-cell pair (see the note of the change that added it).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, clone

from medtransfer.adapt.fold_invariant import AdaptationCache
from medtransfer.data.sample_domain import domain_masks

MARGIN = 0.01
MAX_PRIOR_SHIFT = 0.5


def target_predictions(
    methods: Mapping[str, BaseEstimator], X, y, *, sample_domain,
    cache: AdaptationCache | None = None,
) -> dict[str, dict]:
    """Fit every method on all rows; its predicted class of each unlabelled target row.

    With ``cache`` (bound to ``X``, ``y``, ``sample_domain``) the adaptations are kept for a
    later fit of the same method on the same rows (auto's final fit).

    Returns
    -------
    dict
        Per method: ``pred`` (classes of the unlabelled target rows, or None on failure),
        ``time_s`` and ``error``.
    """
    X, y = np.asarray(X), np.asarray(y)
    unlabelled = (np.asarray(sample_domain) < 0) & (y == -1)
    results = {}
    for name, method in methods.items():
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = (clone(method).fit(X, y, sample_domain=sample_domain) if cache is None
                          else cache.fit(clone(method), X, y, sample_domain=sample_domain))
                pred, error = np.asarray(fitted.predict(X[unlabelled])), None
        except Exception as err:  # a candidate that breaks must not stop the selection
            pred, error = None, f"{type(err).__name__}: {err}"
        results[name] = {"pred": pred, "time_s": time.perf_counter() - start, "error": error}
    return results


def prior_shift(pred: np.ndarray, source_labels: np.ndarray) -> float:
    """Total variation between the predicted target class shares and the source prior."""
    classes = np.unique(source_labels)
    source = np.array([np.mean(source_labels == c) for c in classes])
    target = np.array([np.mean(pred == c) for c in classes])
    return float(0.5 * np.abs(source - target).sum())


def agreement_choice_on_target(
    results: Mapping[str, dict], source_labels: np.ndarray, *,
    reference: str = "source_only", margin: float = MARGIN,
    max_prior_shift: float = MAX_PRIOR_SHIFT,
) -> dict:
    """The k = 0 choice: the most agreed-with plausible method, if clearly above ``reference``.

    Returns
    -------
    dict
        ``choice``, ``abstained`` (True when ``reference`` is kept), ``reason``,
        ``agreement`` (method -> mean agreement with the others) and ``prior_shift``.
    """
    preds = {n: r["pred"] for n, r in results.items() if r.get("pred") is not None}
    if reference not in preds or len(preds) < 3:
        return {"choice": reference, "abstained": True, "agreement": {}, "prior_shift": {},
                "reason": f"fewer than three methods ran; keeping {reference}"}
    agreement = {n: float(np.mean([np.mean(p == q) for m, q in preds.items() if m != n]))
                 for n, p in preds.items()}
    shift = {n: prior_shift(p, source_labels) for n, p in preds.items()}
    eligible = [n for n in preds if n != reference and shift[n] <= max_prior_shift]
    evidence = {"agreement": agreement, "prior_shift": shift}
    if not eligible:
        return {"choice": reference, "abstained": True, **evidence, "reason": (
            f"every method's predicted class shares are further than {max_prior_shift} "
            f"(total variation) from the source prior; keeping {reference}")}
    best = max(eligible, key=agreement.get)  # ties: the first candidate
    gain = agreement[best] - agreement[reference]
    if gain < margin:
        return {"choice": reference, "abstained": True, **evidence, "reason": (
            f"the most agreed-with method {best} agrees with the others on "
            f"{agreement[best]:.3f} of the target rows, {reference} on "
            f"{agreement[reference]:.3f}: less than {margin} more; keeping {reference}")}
    return {"choice": best, "abstained": False, **evidence, "reason": (
        f"{best} agrees with the other {len(preds) - 1} adapted models on "
        f"{agreement[best]:.3f} of the target rows ({reference}: "
        f"{agreement[reference]:.3f}, +{gain:.3f} >= {margin}) and its predicted class "
        f"shares are {shift[best]:.2f} (total variation) from the source prior")}


def choose_without_labels(methods: Mapping[str, BaseEstimator], X, y, *, sample_domain,
                          validate, cache: AdaptationCache | None = None) -> dict:
    """auto's k = 0 evidence for classification: fit every candidate once (``validate``
    runs them within auto's work plan and returns the results and the skipped), then
    :func:`agreement_choice_on_target`; ``cache``: see :func:`target_predictions`."""
    names = [n for n in methods if n not in ("target_only", "pooled", "all_labelled")]
    results, skipped = validate(
        {n: methods[n] for n in names},
        lambda ms: target_predictions(ms, X, y, sample_domain=sample_domain, cache=cache))
    y, domain = np.asarray(y), np.asarray(sample_domain)
    verdict = agreement_choice_on_target(results, y[domain_masks(y, domain)[0]])
    recorded = {n: {"time_s": r["time_s"], "error": r["error"]} for n, r in results.items()}
    return {"mode": "target_agreement", "methods": recorded, "baseline": "source_only",
            "skipped": skipped, **verdict}
