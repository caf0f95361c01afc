"""Report sections of an external-validation study: the leakage check first, then
calibration slope and CITL, clinical utility and the held-out set's sample size."""

from __future__ import annotations

import numpy as np

from medtransfer.evaluate.calibration_study import calibration_study
from medtransfer.evaluate.metrics import binary_auroc
from medtransfer.evaluate.sample_size import n_needed, sample_size_adequacy
from medtransfer.report.markup import figure, fmt, interval, section, table
from medtransfer.report.run import RECALIBRATED, RunData
from medtransfer.report.sections import N_RESAMPLES, seed
from medtransfer.report.validation_figures import (
    decision_curve_figure,
    smoothed_calibration_figure,
)

CALIBRATION_MEASURES = ("calibration_in_the_large", "calibration_slope", "oe_ratio")
CALIBRATION_LABELS = ("Calibration-in-the-large", "Calibration slope", "O/E")
OPERATING_LABELS = {
    "sensitivity": "Sensitivity", "specificity": "Specificity", "ppv": "PPV", "npv": "NPV",
    "ppv_at_prevalence": "PPV at the stated prevalence",
    "npv_at_prevalence": "NPV at the stated prevalence",
}
SAMPLE_SIZE_LABELS = {"auroc": "AUROC", "calibration_slope": "Calibration slope",
                      "oe_ratio": "O/E"}
TIGHTER_AUROC = 0.03

LEAKAGE_KINDS = {
    "exact": "Exact (same pixels / row)",
    "perceptual": "Perceptual hash",
    "feature": "Feature-space neighbour",
    "patient": "Same patient id",
}


def leakage_section(run: RunData) -> str:
    """Duplicates between source, labelled target and held-out target, as the run found them."""
    record = run.manifest.get("leakage")
    if not isinstance(record, dict):
        return section("leakage", "Leakage check", "<p class=note>This run was written "
                       "without a leakage check; refit it to check the held-out target for "
                       "copies of source or labelled target cases.</p>")
    pairs = [p for p in record.get("pairs") or [] if isinstance(p, dict)]
    kinds = [k for k in LEAKAGE_KINDS if any(k in p for p in pairs)]
    rows = [[fmt("within " + str(p.get("and"))) if p.get("between") == p.get("and")
             else f"{fmt(p.get('and'))} vs {fmt(p.get('between'))}",
             *[fmt(p.get(k)) if k in p else "—" for k in kinds], fmt(p.get("cases"))]
            for p in pairs]
    flagged = int(record.get("n_flagged") or 0)
    n_heldout = (record.get("roles") or {}).get("held-out target")
    if flagged:
        verdict = (f"<p class=alert><strong>Leakage: {fmt(flagged)} of {fmt(n_heldout)} "
                   "held-out target cases duplicate source, labelled target or other "
                   "held-out cases.</strong> "
                   + (f"{fmt(int(record.get('dropped') or 0))} were dropped before scoring "
                      "(--dedupe drop)." if record.get("dedupe") == "drop" else
                      "They were scored (--dedupe keep), so the held-out figures below are "
                      "optimistic; refit with --dedupe drop.") + "</p>")
    else:
        verdict = ("<p><strong>No held-out target case duplicates a source or labelled target "
                   "case, or another held-out case.</strong></p>")
    limits = record.get("thresholds") or {}
    note = ("<p class=note>Exact: same decoded pixels (sha256) or the same table row. "
            f"Perceptual: 256-bit DCT hash within {fmt(limits.get('perceptual_max_bits'))} "
            "bits (survives resizing and JPEG re-encoding). Feature-space: nearest neighbour "
            f"closer than {fmt(limits.get('feature_ratio'))} &times; the median "
            "nearest-neighbour distance among source cases (standardised features; images only, as "
            "distinct patients often share near-identical table rows). Patient: "
            "the same patient id in both sets, when ids are recorded.</p>")
    return section("leakage", "Leakage check", verdict + table(
        ["Comparison", *[LEAKAGE_KINDS[k] for k in kinds], "Cases flagged"], rows) + note)


def binary_scores(run: RunData) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """Held-out outcomes and each model's positive-class probability (binary runs whose
    models score the same labelled cases); None otherwise."""
    if run.is_regression or len(run.class_names) != 2:
        return None
    chosen = run.models[run.chosen]
    mask = chosen.labelled
    y = chosen.y[mask]
    if np.unique(y).size < 2:
        return None
    scores = {name: m.proba[mask][:, 1] for name, m in run.models.items()
              if np.array_equal(m.ids, chosen.ids)}
    return y, scores


def recorded(run: RunData, key: str):
    """An entry of the run's validation record, if the run wrote one."""
    study = run.manifest.get("validation")
    return study.get(key) if isinstance(study, dict) else None


def calibration_rows(run: RunData, y: np.ndarray, scores: dict[str, np.ndarray]) -> list:
    stored = recorded(run, "calibration") or {}
    rows = []
    for name, p in scores.items():
        found = stored.get(name) or calibration_study(y, p, n_resamples=N_RESAMPLES,
                                                      random_state=seed(run))
        tag = " <span class=badge>chosen</span>" if name == run.chosen else ""
        rows.append([fmt(name) + tag, *[interval(found.get(m)) for m in CALIBRATION_MEASURES]])
    return rows


def calibration_study_section(run: RunData) -> str:
    """CITL, calibration slope and O/E with intervals, and smoothed calibration curves
    (before and after recalibration when the run recalibrated)."""
    found = binary_scores(run)
    if found is None:
        return ""
    y, scores = found
    recalibrated = run.chosen + RECALIBRATED
    shown = ([run.chosen, recalibrated] if recalibrated in scores else
             [n for n in scores if not n.endswith(RECALIBRATED)])
    curves = {("after recalibration" if n == recalibrated else
               "before recalibration" if recalibrated in scores else n): (y, scores[n])
              for n in shown}
    note = ("<p class=note>Logistic recalibration on the held-out target cases: "
            "calibration-in-the-large is the intercept with the model's logit as an offset "
            "(ideal 0; above 0: risks underestimated), the calibration slope the logit's "
            "coefficient (ideal 1; below 1: predictions too extreme), O/E the observed "
            "events over the sum of predicted risks (ideal 1). 95% bootstrap intervals "
            "(cases resampled). The curve is a logistic regression of the outcome on a cubic "
            "spline of the logit, between the 2.5th and 97.5th percentiles of the "
            "predictions; ticks at the bottom: the first curve's predictions.</p>")
    positive = f"<p>Outcome: <strong>{fmt(run.class_names[1])}</strong> (the positive class).</p>"
    return section("calstudy", "Calibration slope and calibration-in-the-large", positive + table(
        ["Model", *CALIBRATION_LABELS], calibration_rows(run, y, scores), "metrics")
        + figure(smoothed_calibration_figure(curves),
                 "Smoothed calibration curves on the held-out target cases") + note)


def operating_point_text(run: RunData) -> str:
    """The threshold chosen on the labelled target cases and its held-out performance."""
    point = recorded(run, "operating_point")
    if not isinstance(point, dict) or not isinstance(point.get("heldout"), dict):
        return ""
    found = point["heldout"]
    rows = [[OPERATING_LABELS[m], interval(found.get(m))] for m in OPERATING_LABELS
            if m in found]
    prevalence = point.get("prevalence")
    text = (f"<h3>Operating point</h3><p>Calling <strong>{fmt(run.class_names[1])}</strong> "
            f"at a predicted probability of at least {fmt(point.get('threshold'))} "
            f"({fmt(point.get('rule'))}), applied unchanged to the held-out target cases"
            + (f"; PPV and NPV also at the stated prevalence {fmt(prevalence)}" if prevalence
               else "") + ":</p>")
    return text + table(["Measure", "Held-out target (95% CI)"], rows, "metrics") + (
        "<p class=note>The threshold is chosen on the labelled target cases, which the "
        "model may have been fitted on, so their own sensitivity is optimistic; the held-out "
        "figures are the honest ones.</p>")


def utility_section(run: RunData) -> str:
    """Decision curves of the chosen model and the baselines, and the operating point."""
    found = binary_scores(run)
    if found is None:
        return ""
    y, scores = found
    caption = ("Decision curves on the held-out target cases: net benefit (true positives "
               "minus false positives weighted by the odds of the threshold, per case) of "
               "the chosen model and the baselines, against treating everyone and no one")
    return section("utility", "Clinical utility", figure(
        decision_curve_figure(y, scores), caption) + operating_point_text(run))


def sample_size_section(run: RunData) -> str:
    """How precisely this held-out set estimates each figure, and the n a target needs."""
    found = binary_scores(run)
    if found is None:
        return ""
    y, scores = found
    p = scores[run.chosen]
    adequacy = recorded(run, "sample_size") or sample_size_adequacy(y, p, binary_auroc(y, p))
    if "auroc" not in adequacy:
        return ""
    rows = [[SAMPLE_SIZE_LABELS[m], "±" + fmt(adequacy[m].get("halfwidth")),
             "±" + fmt(adequacy[m].get("target")), fmt(adequacy[m].get("n_needed"))]
            for m in SAMPLE_SIZE_LABELS if isinstance(adequacy.get(m), dict)]
    auroc = adequacy["auroc"]
    tighter = n_needed("auroc", TIGHTER_AUROC, float(adequacy["anticipated_auroc"]),
                       float(adequacy["prevalence"]), p)
    statement = (f"<p><strong>This target set ({fmt(adequacy.get('n'))} held-out cases, "
                 f"{float(adequacy['prevalence']):.0%} positive) estimates AUROC to "
                 f"±{float(auroc['halfwidth']):.2f}; ±{TIGHTER_AUROC:.2f} needs about "
                 f"{fmt(tighter)} cases.</strong></p>")
    note = ("<p class=note>Half-width of the 95% interval by Riley et al. (BMJ "
            "2024;384:e074821): AUROC by Newcombe's formula at the observed AUROC and "
            "prevalence, the calibration slope from the recalibration model's information "
            "over the model's own predicted logits (assuming it is calibrated), O/E from "
            "sqrt((1 - prevalence) / (n prevalence)); the n needed keeps the prevalence.</p>")
    return section("samplesize", "Is the held-out set large enough?", statement + table(
        ["Measure", "Precision at this n", "Target", "n needed"], rows) + note)


def plan_section(run: RunData) -> str:
    """The run checked against its site-adaptation plan, and its change log."""
    record = run.manifest.get("plan")
    if not isinstance(record, dict):
        return ""
    checks = [c for c in record.get("checks") or [] if isinstance(c, dict)]
    rows = [[fmt(c.get("criterion")), fmt(c.get("required")), fmt(c.get("observed")),
             "<strong>pass</strong>" if c.get("passed") else "<strong class=todo>FAIL</strong>"]
            for c in checks]
    passed = bool(record.get("passed"))
    verdict = ("<p><strong>The run meets its site-adaptation plan.</strong></p>" if passed
               else f"<p class=alert><strong>The run FAILS its site-adaptation plan: "
               f"{fmt(sum(not c.get('passed') for c in checks))} of {fmt(len(checks))} "
               "criteria not met.</strong></p>")
    log = [[fmt(e.get("change")), fmt(e.get("why")), fmt(e.get("evidence"))]
           for e in record.get("change_log") or [] if isinstance(e, dict)]
    return section("plan", "Site-adaptation plan", verdict
                   + table(["Criterion", "Required", "Observed", "Result"], rows)
                   + "<h3>Change log</h3>" + table(["What changed", "Why", "Evidence"], log))
