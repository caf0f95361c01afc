"""Treatment-effect benchmark: simulated trials with known effects shifted to the target.

For each replicate a source (treatment confounded) and a target (randomised, covariates
shifted) population are drawn (:mod:`medtransfer.bench.effect_simulation`); k target outcomes
are labelled, drawn stratified by arm; the rest are held out. An EffectPipeline (a T-, S-, X-
or DR-learner of TransferPipelines, every component sharing the method; ``--learners``) is
fitted and its effect models refitted ``--refits`` times on bootstrap resamples
(:mod:`medtransfer.runs.effect_intervals`).
Reported per learner and method: the mean-effect error, how often the 95% interval covers the target
population's effect (and, for comparison, how often the old interval over held-out rows
alone did), its width, the per-patient effect error (PEHE, root mean squared) and the share
of held-out patients whose true effect lies in their own 95% interval.

    python benchmarks/effects.py --out bench-effects --replicates 50 --refits 200 \
        --learners t s x dr
    python benchmarks/effects.py --out bench-effects --warfarin --refits 50 --learners t s x dr

``--warfarin`` instead fits amiodarone's effect on the weekly warfarin dose, from the IWPC
sites to the East-Asian sites 3, 4, 8 and 18 (100 target doses labelled), with each learner:
no true effect is known there, so it reports the mean effect over the held-out target rows
with its interval, the factual MAE (mg/week) and the share of patients whose whole interval
is below zero.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.bench.effect_simulation import simulate_trial
from medtransfer.bench.warfarin import EXCLUDED_SITES, TARGET_SITES
from medtransfer.datasets.warfarin import warfarin
from medtransfer.evaluate.bootstrap import percentile_interval
from medtransfer.runs.effect import EffectPipeline
from medtransfer.runs.effect_intervals import effect_draws
from medtransfer.runs.effect_learners import LEARNERS
from medtransfer.runs.pipeline import TransferPipeline
from medtransfer.runs.validation import heldout_target


def replicate(method: str, outcome: str, k: int, refits: int, seed: int,
              learner: str = "t") -> dict:
    """One simulated trial: fit, refit, and score the intervals against the truth."""
    trial = simulate_trial(outcome=outcome, random_state=seed)
    task = "regression" if outcome == "continuous" else "classification"
    template = TransferPipeline(method=method, classifier="logreg", task=task,
                                random_state=seed, progress=False)
    start = time.perf_counter()
    effect = EffectPipeline("treated", template, n_refits=refits, learner=learner).fit(
        trial.source, trial.target, k)
    used = effect.labelled_target_ids_
    heldout = heldout_target(trial.target, used)
    draws = effect_draws(effect, heldout, random_state=seed)
    truth = trial.true_effect[~np.isin(trial.target.ids, used)]
    estimate = effect.predict(heldout)
    low, high = draws.mean_interval()
    rng = np.random.default_rng(seed)
    rows_only = percentile_interval(np.array([
        estimate[rng.integers(0, len(estimate), len(estimate))].mean() for _ in range(1000)]))
    row_low, row_high = draws.row_intervals()
    target = trial.population_effect
    return {
        "learner": learner, "method": method, "outcome": outcome, "k": k, "seed": seed,
        "chosen": effect.selection_["chosen_method"],
        "truth": target, "estimate": float(estimate.mean()),
        "error": float(estimate.mean() - target),
        "covered": bool(low <= target <= high), "width": high - low,
        "covered_rows_only": bool(rows_only[0] <= target <= rows_only[1]),
        "width_rows_only": rows_only[1] - rows_only[0],
        "pehe": float(np.sqrt(np.mean((estimate - truth) ** 2))),
        "patient_coverage": float(np.mean((row_low <= truth) & (truth <= row_high))),
        "time_s": time.perf_counter() - start,
    }


def warfarin_effect(learner: str, refits: int) -> dict:
    """Amiodarone's effect on the warfarin dose at the East-Asian IWPC sites, by ``learner``."""
    data = warfarin()
    site = data.metadata["site"].to_numpy()
    source = data.subset(np.flatnonzero(~np.isin(site, [*TARGET_SITES, *EXCLUDED_SITES])))
    target = data.subset(np.flatnonzero(np.isin(site, TARGET_SITES)))
    template = TransferPipeline(method="pooled", classifier="logreg", task="regression",
                                target_transform="sqrt", progress=False)
    start = time.perf_counter()
    effect = EffectPipeline("amiodarone", template, n_refits=refits, learner=learner).fit(
        source, target, 100)
    heldout = heldout_target(target, effect.labelled_target_ids_)
    frame = effect.predict_frame(heldout)
    scores = effect.score(heldout, frame, 1000)
    mean = scores["mean_effect"]
    return {"learner": learner, "n": mean["n"], "mean_effect": mean["value"],
            "low": mean["low"], "high": mean["high"],
            "factual_mae": scores["factual"]["mae"]["value"],
            "share_below_zero": float(np.mean(frame["effect_high"] < 0)),
            "median_width": float(np.median(frame["effect_high"] - frame["effect_low"])),
            "time_s": time.perf_counter() - start}


def table(records: list[dict]) -> str:
    frame = pd.DataFrame(records)
    summary = frame.groupby(["outcome", "method", "k", "learner"]).agg(
        n=("seed", "size"), bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
        coverage=("covered", "mean"), width=("width", "mean"),
        coverage_rows_only=("covered_rows_only", "mean"),
        width_rows_only=("width_rows_only", "mean"), pehe=("pehe", "mean"),
        patient_coverage=("patient_coverage", "mean"), time_s=("time_s", "mean"))
    return summary.round(3).to_string()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-effects"))
    parser.add_argument("--replicates", type=int, default=50)
    parser.add_argument("--refits", type=int, default=200)
    parser.add_argument("--k", type=int, nargs="+", default=[40])
    parser.add_argument("--methods", nargs="+", default=["pooled", "source_only"])
    parser.add_argument("--outcomes", nargs="+", default=["continuous", "binary"])
    parser.add_argument("--learners", nargs="+", default=["t"], choices=LEARNERS.values)
    parser.add_argument("--warfarin", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.warfarin:
        frame = pd.DataFrame([warfarin_effect(learner, args.refits)
                              for learner in args.learners]).set_index("learner")
        (args.out / "warfarin.json").write_text(frame.to_json(orient="index", indent=1))
        print(frame.round(3).to_string())
        return
    records = [replicate(m, o, k, args.refits, seed, learner)
               for o in args.outcomes for m in args.methods for k in args.k
               for learner in args.learners for seed in range(args.replicates)]
    (args.out / "effects.json").write_text(json.dumps(records, indent=1))
    text = table(records)
    (args.out / "effects.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
